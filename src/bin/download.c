/* SPDX-License-Identifier: ISC */
/* download.c -- fetches a list of URLs into a folder, one after another.
 * threaded-download.c builds the same program with BATCH_THREADED set, so
 * the two differ only in how many downloads run at once. Every file goes
 * through the accelerator's engine (batch.h). */
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
#include "fsutil.h"
#include "jsonout.h"
#include "mtime.h"
#include "tpool.h"

#ifndef BATCH_THREADED
#define BATCH_THREADED 0
#endif

#if BATCH_THREADED
#define PROG	  "threaded-download"
#define OPTSTRING "i:d:j:t:s:cvqNh" CLI_REQ_SHORTOPTS
#else
#define PROG	  "download"
#define OPTSTRING "i:d:s:cqNh" CLI_REQ_SHORTOPTS
#endif
/* Longest URL shown in a line; a longer one ends in "...". */
#define URL_SHOWN	  2048
#define MAX_JOBS	  256
#define DEFAULT_JOBS	  16
#define MAX_SPLIT	  64
#define DEFAULT_PER_HOST  8
#define DEFAULT_MAX_CONNS 16

/* What the program keeps of each item while it runs. */
struct shown {
	long long counted; /* bytes added to out.received */
};

struct out {
	char *dir; /* DIR as shown in messages; owned */
	int quiet;
	int progress; /* one redrawn status line on stderr */
	struct jsonout *json;
	struct batch *b;
	struct shown *shown; /* one per item */
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
usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-i FILE] [-d DIR]%s [-s N|auto] [-c] "
		"[--no-clobber] [-q]%s\n"
		"       [--json] [--max-speed RATE] [-H 'NAME: VALUE'] "
		"[-u USER[:PASSWORD]] ...\n"
		"Downloads every file of the list FILE into DIR, %s, each "
		"over up to N\n"
		"ranged connections. A line holds a URL, or several "
		"TAB-separated URLs of\n"
		"one file (mirrors); indented lines after it set out=NAME, "
		"dir=SUBDIR,\n"
		"checksum=sha-256=HEX, header=NAME: VALUE, split=N for that "
		"file.\n"
		"\n"
		"  -i, --input FILE     the list, '-' for standard input "
		"(default urls.txt)\n"
		"  -d, --dir DIR        output folder, created if missing "
		"(default downloads)\n"
#if BATCH_THREADED
		"  -j, --jobs N         connections open at once over all "
		"files, 1 to %d\n"
		"                       (default %d)\n"
		"  -t, --threads T      worker threads sharing the files, 1 "
		"to %d, never\n"
		"                       more than N (default one per "
		"processor)\n"
		"  -v, --verbose        a line per URL even on a terminal\n"
#endif
		"  -s, --split N        connections per file, 1 to %d, or "
		"auto (default):\n"
		"                       as many as raise the rate\n"
		"      --max-connections N  with auto, never more (default "
		"%d)\n"
		"      --max-per-host N at most N connections to one host "
		"(default %d)\n"
		"  -c, --continue       resume each FILE.part of an earlier "
		"run; keep files\n"
		"                       already complete\n"
		"      --no-clobber     skip a file that already exists\n"
		"      --max-speed RATE total rate cap, e.g. 500k, 2M "
		"(default none)\n"
		"      --json           events as JSON lines on stdout "
		"(see the manual)\n"
		"  -q, --quiet          print only failures\n"
		"      --retries N      retries of a failed range (default "
		"3)\n"
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
		BATCH_THREADED ? "several at once" : "one after another",
#if BATCH_THREADED
		MAX_JOBS, DEFAULT_JOBS, TPOOL_MAX_THREADS,
#endif
		MAX_SPLIT, DEFAULT_MAX_CONNS, DEFAULT_PER_HOST);
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

static struct shown *
shown_of(struct out *o, struct batch_item *it)
{
	return &o->shown[it - batch_item(o->b, 0)];
}

/* The path as shown: "DIR/PATH". */
static const char *
shown_path(const struct out *o, const struct batch_item *it, const char *name,
	   char *buf, size_t size)
{
	char raw[4096], *slash;

	snprintf(raw, sizeof(raw), "%s/%s", o->dir, it->path);
	if (name != NULL && name[0] != '\0' &&
	    (slash = strrchr(raw, '/')) != NULL)
		snprintf(slash + 1, sizeof(raw) - (size_t)(slash + 1 - raw),
			 "%s", name);
	return display_text(raw, buf, size);
}

static void
on_start(struct batch_item *it, void *arg)
{
	struct out *o = arg;
	char u[URL_SHOWN];

	if (o->json != NULL || o->quiet || o->progress)
		return;
	pthread_mutex_lock(&o->mu);
	printf("Downloading %s\n", display_url(it->url, u, sizeof(u)));
	pthread_mutex_unlock(&o->mu);
}

static void
on_progress(struct batch_item *it, void *arg)
{
	struct out *o = arg;
	struct shown *sh = shown_of(o, it);

	if (it->done > sh->counted) {
		atomic_fetch_add(&o->received, it->done - sh->counted);
		sh->counted = it->done;
	}
	batch_json_progress(o->json, it);
	/* Never make a download wait for the screen. */
	if (o->progress && pthread_mutex_trylock(&o->mu) == 0) {
		draw(o, 0);
		pthread_mutex_unlock(&o->mu);
	}
}

/* The line for an item that ended, on stdout or stderr. */
static void
say_done(struct out *o, struct batch_item *it)
{
	const struct accel_result *r = &it->res;
	char u[URL_SHOWN], e[512], p[4096];

	if (it->state == BATCH_SAVED && r->not_modified) {
		if (!o->quiet && !o->progress)
			printf("not modified %s -> %s (kept)\n",
			       display_url(it->url, u, sizeof(u)),
			       shown_path(o, it, NULL, p, sizeof(p)));
	} else if (it->state == BATCH_SAVED) {
		if (!o->quiet && !o->progress)
			printf("saved %s -> %s (%lld bytes, %.3f s)\n",
			       display_url(it->url, u, sizeof(u)),
			       shown_path(o, it, r->name, p, sizeof(p)),
			       (long long)r->bytes, r->seconds);
	} else if (it->state == BATCH_SKIPPED) {
		if (!o->quiet && !o->progress)
			printf("skipped %s -> %s: %s\n",
			       display_url(it->url, u, sizeof(u)),
			       shown_path(o, it, NULL, p, sizeof(p)), it->why);
	} else {
		if (o->progress)
			fputs("\r\033[K", stderr);
		fflush(stdout);
		/* The file or mirror concerned, when it is not the URL. */
		int other =
			it->state != BATCH_INTERRUPTED && r->errurl != NULL &&
			r->errurl[0] != '\0' &&
			strcmp(r->errurl, display_url(it->url, u, sizeof(u)));

		fprintf(stderr, PROG ": %s %s: %s%s%s%s%s%s\n",
			it->state == BATCH_INTERRUPTED ? "interrupted" :
							 "failed",
			display_url(it->url, u, sizeof(u)),
			other ? r->errurl : "", other ? ": " : "",
			it->state == BATCH_INTERRUPTED ?
				"stopped" :
				display_text(r->errmsg, e, sizeof(e)),
			r->kept ? " (" : "",
			r->kept ? shown_path(o, it, NULL, p, sizeof(p)) : "",
			r->kept ? ".part kept: resume with -c)" : "");
	}
}

static void
on_done(struct batch_item *it, void *arg)
{
	struct out *o = arg;
	struct shown *sh = shown_of(o, it);

	atomic_fetch_add(&o->done, 1);
	if (it->state == BATCH_SAVED && it->res.bytes > sh->counted) {
		atomic_fetch_add(&o->received, it->res.bytes - sh->counted);
		sh->counted = it->res.bytes;
	}
	if (o->json != NULL) {
		batch_json_done(o->json, it);
		/* Errors still go to stderr as lines. */
		if (it->state != BATCH_FAILED && it->state != BATCH_INTERRUPTED)
			return;
	}
	pthread_mutex_lock(&o->mu);
	say_done(o, it);
	if (o->progress)
		draw(o, it->state != BATCH_SAVED);
	pthread_mutex_unlock(&o->mu);
}

static void
on_warn(const char *msg, void *arg)
{
	struct out *o = arg;

	if (o->quiet)
		return;
	pthread_mutex_lock(&o->mu);
	if (o->progress)
		fputs("\r\033[K", stderr);
	warnx("%s", msg);
	pthread_mutex_unlock(&o->mu);
}

static void
on_bad(unsigned long line, const char *why, void *arg)
{
	const char *file = arg;

	warnx("%s:%lu: %s", file, line, why);
}

/* What the command line asks for. */
struct dl_opts {
	const char *input; /* the URL list, "-" for standard input */
	const char *dir;   /* where the files go */
	long long jobs;	   /* connections at once, over all files */
	long long threads; /* files at once; 0: as jobs allow */
	long long split;   /* per file; 0: auto */
	long long max_conns, per_host, speed;
	long long retries;
	double wait; /* before the first retry */
	int quiet;
	int verbose;
	int json;
	int resume, no_clobber;
	int no_cd;	  /* --no-content-disposition */
	int timestamping; /* -N */
	struct reqopts req;
};

enum {
	OPT_VERSION = 256,
	OPT_RETRIES,
	OPT_RETRY_WAIT,
	OPT_NOCD,
	OPT_MAXCONNS,
	OPT_PERHOST,
	OPT_NOCLOBBER,
	OPT_MAXSPEED,
	OPT_JSON
};

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
		o->jobs = cli_long_arg(arg, 1, MAX_JOBS,
				       "connection count (1 to 256)");
		break;
	case 't':
		o->threads = cli_long_arg(arg, 1, TPOOL_MAX_THREADS,
					  "thread count (1 to 64)");
		break;
	case 's':
		if (strcmp(arg, "auto") == 0)
			o->split = 0;
		else if ((rc = cli_parse_long(arg, 1, MAX_SPLIT, &o->split)) <
			 0)
			cli_bad_value("split (1 to 64, or auto)", arg, rc);
		break;
	case OPT_MAXCONNS:
		o->max_conns = cli_long_arg(arg, 1, MAX_SPLIT,
					    "connection count (1 to 64)");
		break;
	case OPT_PERHOST:
		o->per_host = cli_long_arg(arg, 1, MAX_JOBS,
					   "connections per host (1 to 256)");
		break;
	case OPT_MAXSPEED:
		o->speed = cli_size_arg(arg, 1, 1LL << 40, "rate");
		break;
	case 'c':
		o->resume = 1;
		break;
	case OPT_NOCLOBBER:
		o->no_clobber = 1;
		break;
	case OPT_JSON:
		o->json = 1;
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
		{"split", required_argument, NULL, 's'},
		{"max-connections", required_argument, NULL, OPT_MAXCONNS},
		{"max-per-host", required_argument, NULL, OPT_PERHOST},
		{"continue", no_argument, NULL, 'c'},
		{"no-clobber", no_argument, NULL, OPT_NOCLOBBER},
		{"max-speed", required_argument, NULL, OPT_MAXSPEED},
		{"json", no_argument, NULL, OPT_JSON},
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
	o->jobs = DEFAULT_JOBS;
	o->max_conns = DEFAULT_MAX_CONNS;
	o->per_host = DEFAULT_PER_HOST;
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
	if ((rc = fsutil_probe_dir(dirfd)) < 0) {
		errno = -rc;
		warn("%s: cannot write", dir);
		close(dirfd);
		return -1;
	}
	return dirfd;
}

/* Sets up what the workers print through, for the n items of b. */
static void
out_init(struct out *o, const struct dl_opts *opt, struct batch *b, size_t n)
{
	memset(o, 0, sizeof(*o));
	o->quiet = opt->quiet;
	/* "out/" is shown as "out" in "saved URL -> out/NAME". */
	if ((o->dir = strdup(opt->dir)) == NULL)
		err(1, "strdup");
	for (size_t l = strlen(o->dir); l > 1 && o->dir[l - 1] == '/'; l--)
		o->dir[l - 1] = '\0';
	o->b = b;
	o->total = n;
	if ((o->shown = calloc(n + 1, sizeof(*o->shown))) == NULL)
		err(1, "calloc");
	o->start = mtime_now();
	if (opt->json && (o->json = jsonout_new(stdout)) == NULL)
		err(1, "json");
	o->progress = BATCH_THREADED && !opt->verbose && !o->quiet &&
		      !opt->json && isatty(2);
	pthread_mutex_init(&o->mu, NULL);
}

/* Downloads the n URLs of b into dirfd, o printing as they go. */
static void
fetch_all(struct batch *b, size_t n, int dirfd, struct out *o,
	  const struct dl_opts *opt)
{
	struct batch_run_opts ro;
	int rc;

	memset(&ro, 0, sizeof(ro));
	ro.jobs = BATCH_THREADED ? (unsigned)opt->jobs : 0;
	ro.threads = (unsigned)opt->threads;
	ro.dir = opt->dir;
	ro.dirfd = dirfd;
	ro.split = (int)opt->split;
	ro.max_conns = (int)opt->max_conns;
	ro.max_per_host = (int)opt->per_host;
	ro.max_speed = opt->speed;
	ro.resume = opt->resume;
	ro.no_clobber = opt->no_clobber;
	ro.keep_parts = 1;
	ro.timestamping = opt->timestamping;
	/* -N compares the file at the URL's name: a name only the reply
	 * gives would be a file never compared. */
	ro.disposition = !opt->no_cd && !opt->timestamping;
	/* --retries counts the retries; the engine counts the tries. */
	ro.retries = (int)opt->retries + 1;
	ro.backoff = opt->wait > 0 ? opt->wait : 0.001;
	ro.req = &opt->req;
	ro.stop = &cli_stop_signal;
	ro.on_start = on_start;
	ro.on_progress = on_progress;
	ro.on_done = on_done;
	ro.warn = on_warn;
	ro.arg = o;
	if (n > 0 && (rc = batch_run(b, &ro)) < 0) {
		errno = -rc;
		warn("cannot start downloads");
	}
}

/* Prints the closing line of counts; the exit status they call for. */
static int
summarize(struct batch *b, size_t n, long nbad, const struct out *o)
{
	struct batch_counts c;
	double secs = mtime_now() - o->start;

	batch_tally(b, &c);
	if (o->progress)
		fputs("\r\033[K", stderr);
	batch_json_summary(o->json, b, nbad, secs, cli_stop_signal != 0);
	if (o->json == NULL && !o->quiet) {
		printf("%zu saved, ", c.saved - c.not_modified);
		if (c.not_modified > 0)
			printf("%zu not modified, ", c.not_modified);
		if (c.skipped > 0)
			printf("%zu skipped, ", c.skipped);
		printf("%zu failed", c.failed);
		if (c.pending > 0)
			printf(", %zu not started", c.pending);
		if (nbad > 0)
			printf(", %ld bad lines", nbad);
		printf(" of %zu URLs; %lld bytes in %.3f s%s\n", n, c.bytes,
		       secs, cli_stop_signal ? " (interrupted)" : "");
	}
	if (cli_stop_signal)
		return 128 + cli_stop_signal;
	return c.saved + c.skipped == n && nbad == 0 ? 0 : 1;
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
	 * transfer. glibc would hand such a freed block at the top of the
	 * heap back to the system (and a fresh one would be faulted in, page
	 * by page, for the next file): keep up to 8 MiB free for reuse
	 * instead, and map only blocks of 1 MiB or more.
	 */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	if (accel_global_init() < 0)
		errx(1, "libcurl initialisation failed");

	n = batch_count(b);
	out_init(&o, opt, b, n);
	cli_catch_stop();
	/* A server closing on us must be an error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	fetch_all(b, n, dirfd, &o, opt);
	status = summarize(b, n, nbad, &o);
	close(dirfd);
	free(o.dir);
	free(o.shown);
	jsonout_free(o.json);
	batch_free(b);
	accel_global_cleanup();
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
