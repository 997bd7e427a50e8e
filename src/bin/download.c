/* SPDX-License-Identifier: ISC */
/* download.c -- fetches a list of URLs into a folder, one after another.
 * threaded-download.c builds the same program with BATCH_THREADED set, so
 * the two differ only in how many downloads run at once. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "cli.h"
#include "display.h"
#include "fetch.h"
#include "fsutil.h"
#include "tpool.h"
#include "mtime.h"

#ifndef BATCH_THREADED
#define BATCH_THREADED 0
#endif

#if BATCH_THREADED
#define PROG	  "threaded-download"
#define OPTSTRING "i:d:j:t:vqNh" CLI_REQ_SHORTOPTS
#else
#define PROG	  "download"
#define OPTSTRING "i:d:qNh" CLI_REQ_SHORTOPTS
#endif
/* Longest URL shown in a line; a longer one ends in "...". */
#define URL_SHOWN 2048

/* The signal that stopped the run (SIGINT or SIGTERM), 0 if none; read by
 * every worker through fetch_opts.cancel. */
static atomic_int interrupted;

struct out {
	char *dir; /* DIR as shown in messages; owned */
	int quiet;
	int progress; /* one redrawn status line on stderr */
	size_t total;
	atomic_size_t done;
	atomic_llong received;
	double start;
	double last_draw; /* guarded by mu */
	/* Serialises every line printed by the workers and the progress
	 * line, so a message never lands in the middle of a redraw. */
	pthread_mutex_t mu;
};

static void
on_signal(int sig)
{
	atomic_store(&interrupted, sig);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG
		" [-i FILE] [-d DIR]%s [-q]%s [-H 'NAME: VALUE']\n"
		"       [-u USER[:PASSWORD]] [-k] [-x PROXY] ...\n"
		"Downloads every http(s) URL listed in FILE (one a line; "
		"blank\n"
		"lines and lines starting with '#' skipped) into DIR, %s.\n"
		"\n"
		"  -i, --input FILE     URL list, '-' for standard input "
		"(default urls.txt)\n"
		"  -d, --dir DIR        output folder, created if missing "
		"(default downloads)\n"
#if BATCH_THREADED
		"  -j, --jobs N         at most N downloads at once, 1 to %d\n"
		"                       (default one per URL, at most %d)\n"
		"  -t, --threads T      worker threads sharing them, 1 to %d, "
		"never\n"
		"                       more than N (default one per "
		"processor;\n"
		"                       -t N: a thread per download)\n"
		"  -v, --verbose        a line per URL even on a terminal\n"
#endif
		"  -q, --quiet          print only failures\n"
		"      --retries N      retries after a connection error, 5xx "
		"or 429 (default 3)\n"
		"      --retry-wait S   first wait before a retry, doubling "
		"(default 0.5)\n"
		"  -N, --timestamping   fetch only files newer than the ones "
		"in DIR\n"
		"      --no-content-disposition  name files after their URLs "
		"only\n"
		"  -h, --help           this help\n"
		"      --version        print the version\n"
		"\n" CLI_REQ_HELP "\n" CLI_CONFIG_HELP,
		BATCH_THREADED ? " [-j N] [-t T]" : "",
		BATCH_THREADED ? " [-v]" : "",
		BATCH_THREADED ? "several at once" : "one after another"
#if BATCH_THREADED
		,
		TPOOL_MAX_THREADS, TPOOL_MAX_THREADS, TPOOL_MAX_THREADS
#endif
	);
}

static void
draw(struct out *o, int force)
{
	double t = mtime_now(), el;
	long long got;
	size_t done;

	if (!force && t - o->last_draw < 0.1)
		return;
	o->last_draw = t;
	el = t - o->start;
	got = atomic_load(&o->received);
	done = atomic_load(&o->done);
	fprintf(stderr, "\r\033[K%zu/%zu files  %.1f MiB  %.1f MiB/s", done,
		o->total, (double)got / 1048576.0,
		el > 0 ? (double)got / 1048576.0 / el : 0.0);
	fflush(stderr);
}

static void
on_data(void *arg)
{
	struct out *o = arg;

	/* Never make a download wait for the screen. */
	if (o->progress && pthread_mutex_trylock(&o->mu) == 0) {
		draw(o, 0);
		pthread_mutex_unlock(&o->mu);
	}
}

static void
on_start(struct batch_item *it, void *arg)
{
	struct out *o = arg;
	char u[URL_SHOWN];

	if (o->quiet || o->progress)
		return;
	pthread_mutex_lock(&o->mu);
	printf("Downloading %s\n", display_url(it->url, u, sizeof(u)));
	pthread_mutex_unlock(&o->mu);
}

static void
on_done(struct batch_item *it, void *arg)
{
	struct out *o = arg;
	char u[URL_SHOWN], e[256];

	atomic_fetch_add(&o->done, 1);
	pthread_mutex_lock(&o->mu);
	if (it->state == BATCH_SAVED && it->res.not_modified) {
		if (!o->quiet && !o->progress)
			printf("not modified %s -> %s/%s (kept)\n",
			       display_url(it->url, u, sizeof(u)), o->dir,
			       display_text(it->res.name, e, sizeof(e)));
	} else if (it->state == BATCH_SAVED) {
		if (!o->quiet && !o->progress)
			printf("saved %s -> %s/%s (%lld bytes, %.3f s)\n",
			       display_url(it->url, u, sizeof(u)), o->dir,
			       display_text(it->res.name, e, sizeof(e)),
			       it->res.bytes, it->res.seconds);
		if (o->progress)
			draw(o, 0);
	} else {
		if (o->progress)
			fputs("\r\033[K", stderr);
		fflush(stdout);
		fprintf(stderr, PROG ": failed %s: %s\n",
			display_url(it->url, u, sizeof(u)),
			display_text(it->res.error, e, sizeof(e)));
		if (o->progress)
			draw(o, 1);
	}
	pthread_mutex_unlock(&o->mu);
}

static void
on_bad(unsigned long line, const char *text, void *arg)
{
	const char *file = arg;
	char buf[160];

	warnx("%s:%lu: not a URL: %s", file, line,
	      display_text(text, buf, sizeof(buf)));
}

/* What the command line asks for. */
struct dl_opts {
	const char *input; /* the URL list, "-" for standard input */
	const char *dir;   /* where the files go */
	long long jobs;	   /* 0: as many as there are URLs, at most 64 */
	long long threads; /* 0: one per processor */
	long long retries;
	double wait; /* before the first retry */
	int quiet;
	int verbose;
	int no_cd;	  /* --no-content-disposition */
	int timestamping; /* -N */
	struct reqopts req;
};

enum { OPT_VERSION = 256, OPT_RETRIES, OPT_RETRY_WAIT, OPT_NOCD };

/* One option c with its argument arg into o (a struct dl_opts); exits on
 * a bad value and after --help. */
static void
set_option(int c, char *arg, void *ctx)
{
	struct dl_opts *o = ctx;
	int rc;

	switch (c) {
	case 'i':
		o->input = arg;
		break;
	case 'd':
		o->dir = arg;
		break;
	case 'j':
		o->jobs = cli_long_arg(arg, 1, TPOOL_MAX_THREADS,
				       "job count (1 to 64)");
		break;
	case 't':
		o->threads = cli_long_arg(arg, 1, TPOOL_MAX_THREADS,
					  "thread count (1 to 64)");
		break;
	case 'v':
		o->verbose = 1;
		break;
	case 'q':
		o->quiet = 1;
		break;
	case 'N':
		o->timestamping = 1;
		break;
	case OPT_NOCD:
		o->no_cd = 1;
		break;
	case OPT_RETRIES:
		o->retries = cli_long_arg(arg, 0, 20, "retry count (0 to 20)");
		break;
	case OPT_RETRY_WAIT:
		if ((rc = cli_parse_seconds(arg, 60, &o->wait)) < 0)
			cli_bad_value("retry wait (0 to 60 s)", arg, rc);
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case OPT_VERSION:
		cli_version();
	default:
		if (!cli_reqopt(&o->req, c, arg))
			cli_bad("option %d not handled", c);
	}
}

/* The defaults file and the command line into o; exits on a bad one and
 * after --help. */
static void
parse_args(int argc, char **argv, struct dl_opts *o)
{
	static const struct option opts[] = {
		{"input", required_argument, NULL, 'i'},
		{"dir", required_argument, NULL, 'd'},
#if BATCH_THREADED
		{"jobs", required_argument, NULL, 'j'},
		{"threads", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
#endif
		{"quiet", no_argument, NULL, 'q'},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"retry-wait", required_argument, NULL, OPT_RETRY_WAIT},
		{"no-content-disposition", no_argument, NULL, OPT_NOCD},
		{"timestamping", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, OPT_VERSION},
		CLI_REQ_LONGOPTS,
		CLI_CONFIG_LONGOPTS,
		{NULL, 0, NULL, 0},
	};

	memset(o, 0, sizeof(*o));
	o->input = "urls.txt";
	o->dir = "downloads";
	o->retries = 3;
	o->wait = 0.5;
	cli_parse(argc, argv, OPTSTRING, opts, set_option, o);
	cli_no_operands(argc, argv, usage);
	cli_reqopts_finish(&o->req);
}

/*
 * Reads the URL list into a new batch and names every file; the number
 * of bad lines in *nbad. Exits on an error, so that everything wrong with
 * the input is said before the first download starts.
 */
static struct batch *
read_urls(const char *input, long *nbad)
{
	const char *inname;
	struct batch *b;
	FILE *in;
	int rc;

	if (strcmp(input, "-") == 0) {
		in = stdin;
		inname = "stdin";
	} else if ((in = fopen(input, "r")) == NULL) {
		err(1, "%s", input);
	} else {
		inname = input;
	}
	if ((b = batch_new()) == NULL)
		err(1, "batch");
	*nbad = batch_read(b, in, on_bad, (void *)inname);
	if (in != stdin)
		fclose(in);
	if (*nbad < 0) {
		errno = (int)-*nbad;
		err(1, "%s", inname);
	}
	if ((rc = batch_reserve(b)) < 0) {
		errno = -rc;
		err(1, "names");
	}
	return b;
}

/* Makes the output folder and opens it. Returns its descriptor, or -1
 * after saying why it cannot be written. */
static int
open_dir(const char *dir)
{
	int dirfd, rc;

	if ((rc = fsutil_mkdirs(dir, 0777)) < 0) {
		errno = -rc;
		warn("%s: cannot create folder", dir);
		return -1;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		warn("%s", dir);
		return -1;
	}
	if ((rc = fetch_probe_dir(dirfd)) < 0) {
		errno = -rc;
		warn("%s: cannot write", dir);
		close(dirfd);
		return -1;
	}
	return dirfd;
}

/* Sets up what the workers print through, for n downloads into dir. */
static void
out_init(struct out *o, const struct dl_opts *opt, size_t n)
{
	memset(o, 0, sizeof(*o));
	o->quiet = opt->quiet;
	/* "out/" is shown as "out" in "saved URL -> out/NAME". */
	if ((o->dir = strdup(opt->dir)) == NULL)
		err(1, "strdup");
	for (size_t l = strlen(o->dir); l > 1 && o->dir[l - 1] == '/'; l--)
		o->dir[l - 1] = '\0';
	o->total = n;
	o->start = mtime_now();
	o->progress = BATCH_THREADED && !opt->verbose && !o->quiet && isatty(2);
	pthread_mutex_init(&o->mu, NULL);
}

/* Downloads the n URLs of b into dirfd, o printing as they go. */
static void
fetch_all(struct batch *b, size_t n, int dirfd, struct out *o,
	  const struct dl_opts *opt)
{
	struct batch_run_opts ro;
	long long jobs = opt->jobs;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.fetch.retries = opt->retries > 0 ? (int)opt->retries : -1;
	ro.fetch.backoff = opt->wait > 0 ? opt->wait : -1;
	ro.fetch.cancel = &interrupted;
	ro.fetch.received = &o->received;
	ro.fetch.on_data = o->progress ? on_data : NULL;
	ro.fetch.arg = o;
	ro.fetch.req = &opt->req;
	/* -N compares the file at the URL's name: a name only the reply
	 * gives would be a file never compared. */
	ro.fetch.disposition = !opt->no_cd && !opt->timestamping;
	ro.fetch.timestamping = opt->timestamping;
	ro.dirfd = dirfd;
	ro.on_start = on_start;
	ro.on_done = on_done;
	ro.arg = o;
#if BATCH_THREADED
	if (jobs == 0)
		jobs = n < TPOOL_MAX_THREADS ? (long long)n : TPOOL_MAX_THREADS;
	if (jobs == 0)
		jobs = 1;
#endif
	ro.jobs = (unsigned)jobs;
	ro.threads = (unsigned)opt->threads;
	if (n > 0 && (rc = batch_run(b, &ro)) < 0) {
		errno = -rc;
		warn("cannot start downloads");
	}
}

/* Prints the closing line of counts; the exit status they call for. */
static int
summarize(struct batch *b, size_t n, long nbad, const struct out *o)
{
	size_t saved = 0, failed = 0, pending = 0, kept = 0;
	long long bytes = 0;

	for (size_t i = 0; i < n; i++) {
		struct batch_item *it = batch_item(b, i);

		switch (it->state) {
		case BATCH_SAVED:
			saved++;
			kept += it->res.not_modified;
			bytes += it->res.bytes;
			break;
		case BATCH_PENDING:
			pending++;
			break;
		default:
			failed++;
			break;
		}
	}
	if (o->progress)
		fputs("\r\033[K", stderr);
	if (!o->quiet) {
		printf("%zu saved, ", saved - kept);
		if (kept > 0)
			printf("%zu not modified, ", kept);
		printf("%zu failed", failed);
		if (pending > 0)
			printf(", %zu not started", pending);
		if (nbad > 0)
			printf(", %ld bad lines", nbad);
		printf(" of %zu URLs; %lld bytes in %.3f s%s\n", n, bytes,
		       mtime_now() - o->start,
		       atomic_load(&interrupted) ? " (interrupted)" : "");
	}
	if (atomic_load(&interrupted))
		return 128 + atomic_load(&interrupted);
	return saved == n && nbad == 0 ? 0 : 1;
}

/* Checks the input and the folder, downloads, reports; the exit status. */
static int
run(const struct dl_opts *opt)
{
	struct batch *b;
	struct out o;
	long nbad;
	size_t n;
	int dirfd, status;

	if (*opt->dir == '\0') {
		warnx("empty folder name");
		return 2;
	}
	b = read_urls(opt->input, &nbad);
	if ((dirfd = open_dir(opt->dir)) < 0) {
		batch_free(b);
		return 1;
	}
	/*
	 * libcurl frees and allocates its receive buffer again for every
	 * transfer in a multi handle. glibc would hand such a freed block at
	 * the top of the heap back to the system (and a fresh one would be
	 * faulted in, page by page, for the next file): keep up to 8 MiB
	 * free for reuse instead, and map only blocks of 1 MiB or more.
	 */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (fetch_global_init() < 0)
		errx(1, "libcurl initialisation failed");

	n = batch_count(b);
	out_init(&o, opt, n);
	cli_on_stop(on_signal);
	/* A server closing on us must be an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	fetch_all(b, n, dirfd, &o, opt);
	status = summarize(b, n, nbad, &o);
	close(dirfd);
	free(o.dir);
	batch_free(b);
	fetch_global_cleanup();
	pthread_mutex_destroy(&o.mu);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warn("stdout");
		if (status == 0)
			status = 1;
	}
	return status;
}

int
main(int argc, char **argv)
{
	struct dl_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
