/* SPDX-License-Identifier: ISC */
/* download-accelerator.c -- one file (or each of a list, -i) over N
 * parallel ranged connections. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "batch.h"
#include "cli.h"
#include "display.h"
#include "fsutil.h"
#include "jsonout.h"
#include "mtime.h"
#include "progress.h"
#include "urlname.h"

#define OPTSTRING	  "n:o:d:i:cqNh" CLI_REQ_SHORTOPTS
#define DEFAULT_MAX_CONNS 16
#define MAX_CONNS	  64

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: download-accelerator [-n N|auto] [-o FILE] [-d DIR] "
		"[-c] "
		"[-N] [-q]\n"
		"           [--checksum sha256=HEX] [--no-content-disposition]"
		"\n"
		"           [--max-connections N] [--max-per-host N] "
		"[--json]\n"
		"           [--timeout S] [--min-speed RATE] [--retries K] "
		"[--max-speed RATE]\n"
		"           [-H 'NAME: VALUE'] [-u USER[:PASSWORD]] [-k] "
		"[-x PROXY] ...\n"
		"           URL [MIRROR-URL...] | -i LIST\n"
		"Downloads one file over N parallel ranged connections into "
		"the current\n"
		"folder (or DIR), then prints \"URL N BYTES SECONDS\"; with "
		"-i, each file\n"
		"of LIST in turn (the list format of threaded-download).\n"
		"\n"
		"  -n, --connections N  parallel connections, 1 to %d, or "
		"auto (default):\n"
		"                       as many as raise the rate, measured "
		"as it goes\n"
		"      --max-connections N  with auto, never more (default "
		"%d)\n"
		"      --max-per-host N at most N connections to one host "
		"(default: no cap)\n"
		"  -i, --input LIST     download each file of LIST, '-' for "
		"standard input\n"
		"      --json           events as JSON lines on stdout "
		"(see the manual)\n"
		"  -o, --output FILE    file name (default: the reply's "
		"Content-Disposition\n"
		"                       name, else the URL's last path "
		"segment)\n"
		"  -d, --dir DIR        folder for the file, created if "
		"missing (default .)\n"
		"      --no-content-disposition  name the file after the "
		"URL only\n"
		"  -N, --timestamping   fetch only if newer than the file "
		"already here\n"
		"  -c, --continue       resume from FILE.part and its state "
		"file\n"
		"  -q, --quiet          no progress bar, no warnings\n"
		"      --checksum sha256=HEX  verify the file before naming "
		"it\n"
		"      --timeout S      abandon a connection silent for S "
		"seconds (default 10)\n"
		"      --min-speed RATE abandon a connection slower than RATE "
		"for the\n"
		"                       timeout, its range going to another "
		"(default none)\n"
		"      --retries K      failed tries of one range before "
		"giving up (default 5)\n"
		"      --max-speed RATE total rate cap, e.g. 500k, 2M (default "
		"none)\n"
		"  -h, --help           this help\n"
		"      --version        print the version\n"
		"\n" CLI_REQ_HELP "\n" CLI_CONFIG_HELP,
		MAX_CONNS, DEFAULT_MAX_CONNS);
}

static int
parse_checksum(const char *s, unsigned char *md)
{
	if (strncmp(s, "sha256=", 7) != 0 || strlen(s + 7) != 64)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned int v;

		if (sscanf(s + 7 + 2 * i, "%2x", &v) != 1 ||
		    strspn(s + 7 + 2 * i, "0123456789abcdefABCDEF") < 2)
			return -1;
		md[i] = (unsigned char)v;
	}
	return 0;
}

/* The long options with no short form. */
enum {
	O_CHECKSUM = 256,
	O_TIMEOUT,
	O_RETRIES,
	O_MAXSPEED,
	O_MINSPEED,
	O_MAXCONNS,
	O_NOCD,
	O_PERHOST,
	O_JSON,
	O_VERSION
};

/* What the command line asks for. */
struct da_opts {
	long long conns, max_conns, retries, speed, min_speed; /* conns 0:
								* auto */
	long long per_host;				       /* 0: no cap */
	const char *input; /* -i LIST, or NULL */
	int json;
	double timeout;
	const char *output; /* NULL: named after the first URL */
	const char *dir;    /* NULL: the current folder */
	int no_cd;	    /* --no-content-disposition */
	int timestamping;   /* -N */
	struct reqopts req;
	unsigned char md[32]; /* --checksum, if sha256 is set */
	const unsigned char *sha256;
	int resume, quiet;
	char **urls; /* the operands, from argv */
	int nurls;
};

/* One option c with its argument arg into o (a struct da_opts); exits on
 * a bad value. */
static void
set_option(int c, char *arg, void *ctx)
{
	struct da_opts *o = ctx;
	int rc;

	switch (c) {
	case 'n':
		if (strcmp(arg, "auto") == 0)
			o->conns = 0;
		else if ((rc = cli_parse_long(arg, 1, MAX_CONNS, &o->conns)) <
			 0)
			cli_bad_value("connection count (1 to 64, or auto)",
				      arg, rc);
		break;
	case O_MAXCONNS:
		o->max_conns = cli_long_arg(arg, 1, MAX_CONNS,
					    "connection count (1 to 64)");
		break;
	case 'o':
		if (*arg == '\0')
			cli_bad_value("output file name", arg, -EINVAL);
		o->output = arg;
		break;
	case 'd':
		if (*arg == '\0')
			cli_bad_value("folder name", arg, -EINVAL);
		o->dir = arg;
		break;
	case 'i':
		o->input = arg;
		break;
	case O_PERHOST:
		o->per_host = cli_long_arg(arg, 1, 256,
					   "connections per host (1 to 256)");
		break;
	case O_JSON:
		o->json = 1;
		break;
	case O_NOCD:
		o->no_cd = 1;
		break;
	case 'N':
		o->timestamping = 1;
		break;
	case 'c':
		o->resume = 1;
		break;
	case 'q':
		o->quiet = 1;
		break;
	case O_CHECKSUM:
		if (parse_checksum(arg, o->md) < 0)
			cli_bad("%s: invalid checksum: want sha256=64 hex "
				"digits",
				arg);
		o->sha256 = o->md;
		break;
	case O_TIMEOUT:
		if ((rc = cli_parse_seconds(arg, 3600, &o->timeout)) < 0)
			cli_bad_value("timeout in seconds", arg, rc);
		if (o->timeout < 0.1)
			cli_bad_value("timeout in seconds (at least "
				      "0.1)",
				      arg, -ERANGE);
		break;
	case O_RETRIES:
		if ((rc = cli_parse_long(arg, 1, 1000, &o->retries)) < 0)
			cli_bad_value("retry count (1 to 1000)", arg, rc);
		break;
	case O_MAXSPEED:
		if ((rc = cli_parse_size(arg, 1, 1LL << 40, &o->speed)) < 0)
			cli_bad_value("rate", arg, rc);
		break;
	case O_MINSPEED:
		if ((rc = cli_parse_size(arg, 1, 1LL << 40, &o->min_speed)) < 0)
			cli_bad_value("rate", arg, rc);
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case O_VERSION:
		cli_version();
	default:
		if (!cli_reqopt(&o->req, c, arg))
			cli_bad("option %d not handled", c);
	}
}

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct da_opts *o)
{
	static const struct option opts[] = {
		{"connections", required_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"dir", required_argument, NULL, 'd'},
		{"no-content-disposition", no_argument, NULL, O_NOCD},
		{"timestamping", no_argument, NULL, 'N'},
		{"continue", no_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"checksum", required_argument, NULL, O_CHECKSUM},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"retries", required_argument, NULL, O_RETRIES},
		{"max-speed", required_argument, NULL, O_MAXSPEED},
		{"min-speed", required_argument, NULL, O_MINSPEED},
		{"max-connections", required_argument, NULL, O_MAXCONNS},
		{"max-per-host", required_argument, NULL, O_PERHOST},
		{"input", required_argument, NULL, 'i'},
		{"json", no_argument, NULL, O_JSON},
		CLI_REQ_LONGOPTS,
		CLI_CONFIG_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, O_VERSION},
		{NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof(*o));
	o->conns = 0;
	o->max_conns = DEFAULT_MAX_CONNS;
	o->retries = 5;
	o->timeout = 10;
	cli_parse(argc, argv, OPTSTRING, opts, set_option, o);
	cli_reqopts_finish(&o->req);
	if (o->input != NULL) {
		if (optind < argc)
			cli_bad("-i takes the URLs from its list, not from "
				"the command line");
		if (o->output != NULL || o->sha256 != NULL)
			cli_bad("with -i, a file's name and checksum come "
				"from the list (out=, checksum=)");
		return;
	}
	if (optind == argc) {
		warnx("missing URL");
		usage(stderr);
		exit(2);
	}
	for (int i = optind; i < argc; i++)
		if (!urlname_is_http(argv[i])) {
			warnx("%s: not an http:// or https:// URL", argv[i]);
			exit(2);
		}
	o->urls = &argv[optind];
	o->nurls = argc - optind;
}

struct ui {
	const struct da_opts *o;
	const char *dir; /* the run's folder as shown, "" for "." */
	struct progress *bar;
	struct jsonout *json;
	double t0; /* the current file's start */
	int status;
};

static void
on_start(struct batch_item *it, void *arg)
{
	struct ui *ui = arg;

	(void)it;
	ui->t0 = mtime_now();
}

static void
on_progress(struct batch_item *it, void *arg)
{
	struct ui *ui = arg;

	batch_json_progress(ui->json, it);
	if (ui->bar != NULL)
		progress_update(ui->bar, it->done, it->size, it->conns,
				mtime_now() - ui->t0);
}

static void
on_warn(const char *msg, void *arg)
{
	struct ui *ui = arg;

	if (ui->o->quiet)
		return;
	if (ui->bar != NULL)
		progress_end(ui->bar);
	warnx("%s", msg);
}

/* The item's path as shown: DIR/PATH, or PATH in the current folder. */
static void
shown_path(const struct ui *ui, const struct batch_item *it, char *buf,
	   size_t size)
{
	char raw[4096];

	snprintf(raw, sizeof(raw), "%s%s%s", ui->dir, *ui->dir ? "/" : "",
		 it->path);
	display_text(raw, buf, size);
}

/* Says how one file ended; 1 when it failed. */
static int
report(const struct ui *ui, const struct batch_item *it)
{
	const struct accel_result *res = &it->res;
	const struct da_opts *o = ui->o;
	char url[2048], name[512], out[4096];

	/* The URL as shown: printable, without its credentials. */
	display_url(it->url, url, sizeof(url));
	shown_path(ui, it, out, sizeof(out));
	if (it->state == BATCH_SKIPPED) {
		if (!o->quiet)
			warnx("%s: %s; skipped", out, it->why);
		return 0;
	}
	if (it->state == BATCH_SAVED && res->not_modified) {
		if (!o->quiet)
			warnx("%s: not modified on the server; %s kept", url,
			      out);
		return 0;
	}
	if (it->state == BATCH_SAVED) {
		if (!o->quiet && strcmp(res->name, it->name) != 0)
			warnx("%s: saved as %.*s%s", url,
			      (int)(strlen(out) - strlen(it->name)), out,
			      display_text(res->name, name, sizeof(name)));
		if (res->resumed_from > 0 && !o->quiet)
			warnx("%s: resumed with %lld of %lld bytes already "
			      "here",
			      out, (long long)res->resumed_from,
			      (long long)res->bytes);
		/* N is the count asked for, or the most auto used. */
		printf("%s %lld %lld %.3f\n", url,
		       it->split > 0 ? (long long)it->split :
		       o->conns > 0  ? o->conns :
				       (long long)res->conns_max,
		       (long long)res->bytes, res->seconds);
		return 0;
	}
	if (it->state == BATCH_INTERRUPTED) {
		if (res->kept)
			warnx("%s: interrupted; %s.part kept, resume with -c",
			      url, out);
		else
			warnx("%s: interrupted", url);
	} else if (res->kept) {
		warnx("%s: %s (%s.part kept: resume with -c)",
		      res->errurl != NULL ? res->errurl : url, res->errmsg,
		      out);
	} else {
		warnx("%s: %s",
		      res->errurl != NULL && res->errurl[0] ? res->errurl : url,
		      res->errmsg);
	}
	return 1;
}

static void
on_done(struct batch_item *it, void *arg)
{
	struct ui *ui = arg;

	if (ui->bar != NULL)
		progress_end(ui->bar);
	if (ui->json != NULL) {
		batch_json_done(ui->json, it);
		/* Errors still go to stderr as lines; nothing else. */
		if (it->state != BATCH_FAILED && it->state != BATCH_INTERRUPTED)
			return;
	}
	ui->status |= report(ui, it);
}

static void
on_bad(unsigned long line, const char *why, void *arg)
{
	warnx("%s:%lu: %s", (const char *)arg, line, why);
}

/*
 * The one file of the command line as a batch of one: URL and mirrors,
 * -o's name (in -o's folder, which becomes the run's), --checksum. The
 * run's folder in *dir (caller frees).
 */
static struct batch *
one_file(const struct da_opts *o, char **dir)
{
	struct urllist_entry e = {.urls = o->urls, .nurls = o->nurls};
	char *full = NULL, *base;
	struct batch *b = batch_new();

	if (b == NULL)
		err(1, "batch");
	*dir = strdup(o->dir != NULL ? o->dir : ".");
	if (o->output != NULL) {
		if (o->dir != NULL && o->output[0] != '/') {
			if (asprintf(&full, "%s/%s", o->dir, o->output) < 0)
				err(1, "asprintf");
		} else if ((full = strdup(o->output)) == NULL) {
			err(1, "strdup");
		}
		base = strrchr(full, '/');
		e.out = base != NULL ? base + 1 : full;
		if (base != NULL) {
			free(*dir);
			*dir = base == full ?
				       strdup("/") :
				       strndup(full, (size_t)(base - full));
		}
	}
	if (*dir == NULL)
		err(1, "strdup");
	if (o->sha256 != NULL) {
		e.has_sha256 = 1;
		memcpy(e.sha256, o->sha256, 32);
	}
	if (batch_add_entry(b, &e) < 0 || batch_reserve(b) < 0)
		err(1, "batch");
	free(full);
	return b;
}

/* -i: the list's files as a batch; bad lines counted in *nbad. */
static struct batch *
list_files(const struct da_opts *o, long *nbad)
{
	const char *name = strcmp(o->input, "-") == 0 ? "stdin" : o->input;
	FILE *in = strcmp(o->input, "-") == 0 ? stdin : fopen(o->input, "r");
	struct batch *b = batch_new();
	int rc;

	if (in == NULL)
		err(1, "%s", o->input);
	if (b == NULL)
		err(1, "batch");
	if ((*nbad = batch_read(b, in, on_bad, (void *)name)) < 0) {
		errno = (int)-*nbad;
		err(1, "%s", name);
	}
	if (in != stdin)
		fclose(in);
	if ((rc = batch_reserve(b)) < 0) {
		errno = -rc;
		err(1, "names");
	}
	return b;
}

/* The options every file of the run gets. */
static void
run_opts(const struct da_opts *o, struct batch_run_opts *ro)
{
	memset(ro, 0, sizeof(*ro));
	ro->split = (int)o->conns;
	ro->max_conns = (int)o->max_conns;
	ro->max_per_host = (int)o->per_host;
	ro->max_speed = o->speed;
	ro->min_speed = o->min_speed;
	ro->timeout = o->timeout;
	ro->retries = (int)o->retries;
	ro->resume = o->resume;
	ro->timestamping = o->timestamping;
	/* -N compares the file at the URL's name (or -o's). */
	ro->disposition = !o->no_cd && !o->timestamping;
	ro->req = &o->req;
	ro->stop = &cli_stop_signal;
	ro->on_start = on_start;
	ro->on_progress = on_progress;
	ro->on_done = on_done;
	ro->warn = on_warn;
}

/* Downloads the file (or each of the list), with a progress bar on a
 * terminal; the exit status. */
static int
run(const struct da_opts *o)
{
	struct batch_run_opts ro;
	struct ui ui = {.o = o};
	struct batch *b;
	char *dir = NULL;
	long nbad = 0;
	double t0 = mtime_now();
	int rc;

	if (o->input != NULL) {
		b = list_files(o, &nbad);
		dir = strdup(o->dir != NULL ? o->dir : ".");
	} else {
		b = one_file(o, &dir);
	}
	if (dir == NULL)
		err(1, "strdup");
	if (o->dir != NULL && (rc = fsutil_mkdirs(o->dir, 0777)) < 0) {
		errno = -rc;
		err(1, "%s: cannot create folder", o->dir);
	}
	run_opts(o, &ro);
	ro.dir = dir;
	if ((ro.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		err(1, "%s", dir);
	ui.dir = strcmp(dir, ".") == 0 ? "" : dir;
	ro.arg = &ui;
	cli_catch_stop();
	signal(SIGPIPE, SIG_IGN);
	if (o->json && (ui.json = jsonout_new(stdout)) == NULL)
		err(1, "json");
	if (!o->quiet && !o->json && isatty(STDERR_FILENO) &&
	    (ui.bar = progress_new(STDERR_FILENO)) == NULL)
		err(1, "progress");
	if (accel_global_init() < 0)
		errx(1, "libcurl initialisation failed");
	if ((rc = batch_run(b, &ro)) < 0) {
		errno = -rc;
		err(1, "cannot start");
	}
	accel_global_cleanup();
	batch_json_summary(ui.json, b, nbad, mtime_now() - t0,
			   cli_stop_signal != 0);
	close(ro.dirfd);
	progress_free(ui.bar);
	jsonout_free(ui.json);
	batch_free(b);
	free(dir);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(1, "stdout");
	/* Stopped between two files of a list: the rest never started. */
	return ui.status || nbad > 0 || cli_stop_signal ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct da_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
