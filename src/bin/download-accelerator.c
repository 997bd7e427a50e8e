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
#include "progress.h"
#include "urlname.h"

#define DEFAULT_CONNS	8
#define MAX_CONNS	64

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: download-accelerator [-n N] [-o FILE] [-c] [-q] [--checksum sha256=HEX]\n"
"           [--timeout S] [--min-speed RATE] [--retries K] [--max-speed RATE]\n"
"           [--cacert FILE]\n"
"           URL [MIRROR-URL...]\n"
"Downloads one file over N parallel ranged connections into the current\n"
"folder, then prints \"URL N BYTES SECONDS\".\n"
"\n"
"  -n, --connections N  parallel connections (default %d, at most %d)\n"
"  -o, --output FILE    file name (default: the URL's last path segment)\n"
"  -c, --continue       resume from FILE.part and its state file\n"
"  -q, --quiet          no progress bar, no warnings\n"
"      --checksum sha256=HEX  verify the file before naming it\n"
"      --timeout S      abandon a connection silent for S seconds (default 10)\n"
"      --min-speed RATE abandon a connection slower than RATE for the\n"
"                       timeout, its range going to another (default none)\n"
"      --retries K      failed tries of one range before giving up (default 5)\n"
"      --max-speed RATE total rate cap, e.g. 500k, 2M (default none)\n"
"      --cacert FILE    trust this CA bundle for HTTPS too\n"
"  -h, --help           this help\n"
"      --version        print the version\n",
		DEFAULT_CONNS, MAX_CONNS);
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

int
main(int argc, char **argv)
{
	enum { O_CHECKSUM = 256, O_TIMEOUT, O_RETRIES, O_MAXSPEED, O_MINSPEED,
	       O_CACERT, O_VERSION };
	static const struct option opts[] = {
		{"connections", required_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"continue", no_argument, NULL, 'c'},
		{"quiet", no_argument, NULL, 'q'},
		{"checksum", required_argument, NULL, O_CHECKSUM},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"retries", required_argument, NULL, O_RETRIES},
		{"max-speed", required_argument, NULL, O_MAXSPEED},
		{"min-speed", required_argument, NULL, O_MINSPEED},
		{"cacert", required_argument, NULL, O_CACERT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, O_VERSION},
		{NULL, 0, NULL, 0},
	};
	struct accel_opts ao = {0};
	struct accel_result res;
	struct ui ui = {0};
	unsigned char md[32];
	char *name = NULL, url[2048];
	const char *output = NULL;
	long long n = DEFAULT_CONNS, retries = 5, speed = 0, min_speed = 0;
	double timeout = 10;
	int c, rc, status = 1;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:o:cqh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if ((rc = cli_parse_long(optarg, 1, MAX_CONNS, &n)) < 0)
				cli_bad_value("connection count (1 to 64)",
					      optarg, rc);
			break;
		case 'o':
			if (*optarg == '\0')
				cli_bad_value("output file name", optarg,
					      -EINVAL);
			output = optarg;
			break;
		case 'c':
			ao.resume = 1;
			break;
		case 'q':
			ui.quiet = 1;
			break;
		case O_CHECKSUM:
			if (parse_checksum(optarg, md) < 0) {
				warnx("%s: invalid checksum: want "
				      "sha256=64 hex digits", optarg);
				return 2;
			}
			ao.sha256 = md;
			break;
		case O_TIMEOUT:
			if ((rc = cli_parse_seconds(optarg, 3600, &timeout)) < 0)
				cli_bad_value("timeout in seconds", optarg, rc);
			if (timeout < 0.1)
				cli_bad_value("timeout in seconds (at least "
					      "0.1)", optarg, -ERANGE);
			break;
		case O_RETRIES:
			if ((rc = cli_parse_long(optarg, 1, 1000, &retries)) < 0)
				cli_bad_value("retry count (1 to 1000)", optarg,
					      rc);
			break;
		case O_MAXSPEED:
			if ((rc = cli_parse_size(optarg, 1, 1LL << 40, &speed)) <
			    0)
				cli_bad_value("rate", optarg, rc);
			break;
		case O_MINSPEED:
			if ((rc = cli_parse_size(optarg, 1, 1LL << 40,
						 &min_speed)) < 0)
				cli_bad_value("rate", optarg, rc);
			break;
		case O_CACERT:
			ao.cacert = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case O_VERSION:
			cli_version();
		default:
			cli_bad_option(argv, "n:o:cqh");
		}
	}
	if (optind == argc) {
		warnx("missing URL");
		usage(stderr);
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (!urlname_is_http(argv[i])) {
			warnx("%s: not an http:// or https:// URL", argv[i]);
			return 2;
		}
	if (output == NULL) {
		if ((name = urlname_from_url(argv[optind])) == NULL)
			err(1, "urlname");
		output = name;
	}
	cli_on_stop(on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (!ui.quiet && isatty(STDERR_FILENO) &&
	    (ui.bar = progress_new(STDERR_FILENO)) == NULL)
		err(1, "progress");

	ao.urls = (const char *const *)&argv[optind];
	ao.nurls = argc - optind;
	ao.path = output;
	ao.conns = (int)n;
	ao.timeout = timeout;
	ao.min_speed = min_speed;
	ao.retries = (int)retries;
	ao.max_speed = speed;
	ao.stop = &stop;
	ao.progress = on_progress;
	ao.warn = on_warn;
	ao.arg = &ui;
	if (accel_global_init() < 0)
		errx(1, "libcurl initialisation failed");
	rc = accel_run(&ao, &res);
	accel_global_cleanup();
	if (ui.bar != NULL)
		progress_end(ui.bar);
	/* The URL as shown: printable, without its credentials. */
	display_url(argv[optind], url, sizeof(url));
	if (rc == 0) {
		if (res.resumed_from > 0 && !ui.quiet)
			warnx("%s: resumed with %lld of %lld bytes already "
			      "here", output, (long long)res.resumed_from,
			      (long long)res.bytes);
		printf("%s %lld %lld %.3f\n", url, n, (long long)res.bytes,
		       res.seconds);
		status = 0;
	} else if (rc == -EINTR) {
		if (res.kept)
			warnx("%s: interrupted; %s.part kept, resume with -c",
			      url, output);
		else
			warnx("%s: interrupted", url);
	} else if (res.kept) {
		warnx("%s: %s (%s.part kept: resume with -c)", res.errurl,
		      res.errmsg, output);
	} else {
		warnx("%s: %s", res.errurl, res.errmsg);
	}
	progress_free(ui.bar);
	free(name);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(1, "stdout");
	return status;
}
