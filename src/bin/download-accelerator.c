/* SPDX-License-Identifier: ISC */
/* download-accelerator.c -- one file over N parallel ranged connections. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"
#include "cli.h"
#include "display.h"
#include "fsutil.h"
#include "progress.h"
#include "urlname.h"

#define OPTSTRING	  "n:o:d:cqNh" CLI_REQ_SHORTOPTS
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
		"           [--max-connections N]\n"
		"           [--timeout S] [--min-speed RATE] [--retries K] "
		"[--max-speed RATE]\n"
		"           [-H 'NAME: VALUE'] [-u USER[:PASSWORD]] [-k] "
		"[-x PROXY] ...\n"
		"           URL [MIRROR-URL...]\n"
		"Downloads one file over N parallel ranged connections into "
		"the current\n"
		"folder (or DIR), then prints \"URL N BYTES SECONDS\".\n"
		"\n"
		"  -n, --connections N  parallel connections, 1 to %d, or "
		"auto (default):\n"
		"                       as many as raise the rate, measured "
		"as it goes\n"
		"      --max-connections N  with auto, never more (default "
		"%d)\n"
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

struct ui {
	int quiet;
	struct progress *bar;
};

static void
on_progress(const struct accel_stats *st, void *arg)
{
	struct ui *ui = arg;

	if (ui->bar != NULL)
		progress_update(ui->bar, st->done, st->total, st->conns,
				st->elapsed);
}

static void
on_warn(const char *msg, void *arg)
{
	struct ui *ui = arg;

	if (ui->quiet)
		return;
	if (ui->bar != NULL)
		progress_end(ui->bar);
	warnx("%s", msg);
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
	O_VERSION
};

/* What the command line asks for. */
struct da_opts {
	long long conns, max_conns, retries, speed, min_speed; /* conns 0:
								* auto */
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

/* Says how the download ended; the exit status. */
static int
report(const struct da_opts *o, const char *output, int rc,
       const struct accel_result *res)
{
	const char *base = strrchr(output, '/');
	char url[2048], name[512];

	/* The URL as shown: printable, without its credentials. */
	display_url(o->urls[0], url, sizeof(url));
	base = base != NULL ? base + 1 : output;
	if (rc == 0 && res->not_modified) {
		if (!o->quiet)
			warnx("%s: not modified on the server; %s kept", url,
			      output);
		return 0;
	}
	if (rc == 0 && !o->quiet && strcmp(res->name, base) != 0)
		warnx("%s: saved as %.*s%s", url, (int)(base - output), output,
		      display_text(res->name, name, sizeof(name)));
	if (rc == 0) {
		if (res->resumed_from > 0 && !o->quiet)
			warnx("%s: resumed with %lld of %lld bytes already "
			      "here",
			      output, (long long)res->resumed_from,
			      (long long)res->bytes);
		/* N is the count asked for, or the most auto used. */
		printf("%s %lld %lld %.3f\n", url,
		       o->conns > 0 ? o->conns : (long long)res->conns_max,
		       (long long)res->bytes, res->seconds);
		return 0;
	}
	if (rc == -EINTR) {
		if (res->kept)
			warnx("%s: interrupted; %s.part kept, resume with -c",
			      url, output);
		else
			warnx("%s: interrupted", url);
	} else if (res->kept) {
		warnx("%s: %s (%s.part kept: resume with -c)", res->errurl,
		      res->errmsg, output);
	} else {
		warnx("%s: %s", res->errurl, res->errmsg);
	}
	return 1;
}

/* Downloads the file, with a progress bar on a terminal; the exit
 * status. */
static int
run(const struct da_opts *o)
{
	struct accel_opts ao = {0};
	struct accel_result res;
	struct ui ui = {0};
	char *name = NULL;
	const char *output = o->output;
	int rc, status;

	if (output == NULL &&
	    (output = name = urlname_from_url(o->urls[0])) == NULL)
		err(1, "urlname");
	if (o->dir != NULL && output[0] != '/') {
		char *joined;

		if ((rc = fsutil_mkdirs(o->dir, 0777)) < 0) {
			errno = -rc;
			err(1, "%s: cannot create folder", o->dir);
		}
		if (asprintf(&joined, "%s/%s", o->dir, output) < 0)
			err(1, "asprintf");
		free(name);
		output = name = joined;
	}
	ui.quiet = o->quiet;
	cli_catch_stop();
	signal(SIGPIPE, SIG_IGN);
	if (!ui.quiet && isatty(STDERR_FILENO) &&
	    (ui.bar = progress_new(STDERR_FILENO)) == NULL)
		err(1, "progress");

	ao.urls = (const char *const *)o->urls;
	ao.nurls = o->nurls;
	ao.path = output;
	/* -N compares the file at the URL's name (or -o's). */
	ao.disposition = o->output == NULL && !o->no_cd && !o->timestamping;
	ao.timestamping = o->timestamping;
	ao.resume = o->resume;
	ao.sha256 = o->sha256;
	ao.req = &o->req;
	ao.conns = (int)o->conns;
	ao.max_conns = (int)o->max_conns;
	ao.timeout = o->timeout;
	ao.min_speed = o->min_speed;
	ao.retries = (int)o->retries;
	ao.max_speed = o->speed;
	ao.stop = &cli_stop_signal;
	ao.progress = on_progress;
	ao.warn = on_warn;
	ao.arg = &ui;
	if (accel_global_init() < 0)
		errx(1, "libcurl initialisation failed");
	rc = accel_run(&ao, &res);
	accel_global_cleanup();
	if (ui.bar != NULL)
		progress_end(ui.bar);
	status = report(o, output, rc, &res);
	progress_free(ui.bar);
	free(name);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(1, "stdout");
	return status;
}

int
main(int argc, char **argv)
{
	struct da_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
