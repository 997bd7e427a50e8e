/* SPDX-License-Identifier: ISC */
/* fault-httpd.c -- the test HTTP server: httpserv with faults, on port 0.
 *
 *   fault-httpd -d ROOT [-r RATE_PER_CONN] [--link RATE]
 *               [--rate-after SECS:RATE] [-c MAX_CONNS]
 *               [--max-per-client N] [--portfile F] [-b ADDR] [--log F]
 *               [--no-faults]
 *
 * Serves ROOT on ADDR (default 127.0.0.1) on a port the kernel chooses.
 * Once listening, writes the port to F atomically (F.tmp, then rename),
 * or to stdout without --portfile. Serves until SIGTERM or SIGINT, then
 * ends every connection and exits 0. Paths /fault/SPEC/... inject the
 * faults described in src/lib/httpserv.h. --log F appends one line per
 * request: "CONN METHOD TARGET STATUS SENT RANGE CUT".
 *
 * --rate-after SECS:RATE changes the per-connection cap to RATE SECS
 * seconds after the first request (not the start, so that a test's own
 * set-up takes none of them); connections open then take it at once.
 * --max-per-client N answers a connection from an address that
 * already has N being served with 503 and "Retry-After: 1", then closes
 * it; on loopback every client is 127.0.0.1.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "httpserv.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: fault-httpd -d ROOT [-r RATE] [--link RATE] "
		   "[--rate-after SECS:RATE]\n"
		   "                   [-c CONNS] [--max-per-client N] "
		   "[--portfile F]\n"
		   "                   [-b ADDR] [--log F] [--no-faults]\n"
		   "  -d, --root ROOT    folder to serve\n"
		   "  -r, --rate RATE    pace each connection at RATE bytes/s "
		   "(64k, 2M)\n"
		   "      --link RATE    one rate shared by all connections, "
		   "as a link\n"
		   "      --rate-after SECS:RATE\n"
		   "                     SECS after the first request, pace "
		   "each connection\n"
		   "                     at RATE instead (open ones "
		   "too)\n"
		   "  -c, --conns N      connections served at once (default "
		   "128)\n"
		   "      --max-per-client N\n"
		   "                     serve N connections from one address "
		   "at once; answer\n"
		   "                     the next 503 with Retry-After: 1 and "
		   "close it\n"
		   "  -b, --bind ADDR    address to listen on (default "
		   "127.0.0.1)\n"
		   "      --portfile F   write the port to F once listening\n"
		   "      --log F        append one line per request to F\n"
		   "      --no-faults    serve /fault/ paths as plain files\n");
}

static void
log_line(const struct httpserv_logent *e, void *arg)
{
	FILE *f = arg;

	/* One fprintf per line: stdio locks the stream for the call. */
	fprintf(f, "%lu %s %s %d %lld %s %d\n", e->conn, e->method, e->target,
		e->status, e->sent, e->range ? e->range : "-", e->cut);
	fflush(f);
}

static int
write_portfile(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((f = fopen(tmp, "w")) == NULL)
		return -errno;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return -e;
	}
	return 0;
}

/* What the command line asks for. */
struct fh_opts {
	struct httpserv_opts srv;
	const char *portfile, *logpath;
};

/* --rate-after SECS:RATE into o; exits 2 on a bad one. */
static void
rate_after(const char *arg, struct httpserv_opts *o)
{
	char secs[64];
	const char *colon = strchr(arg, ':');
	size_t n = colon != NULL ? (size_t)(colon - arg) : 0;
	int rc;

	if (colon == NULL || n >= sizeof(secs))
		cli_bad_value("rate-after (SECS:RATE)", arg, -EINVAL);
	memcpy(secs, arg, n);
	secs[n] = '\0';
	if ((rc = cli_parse_seconds(secs, 86400, &o->rate_after)) < 0 ||
	    o->rate_after <= 0)
		cli_bad_value("rate-after seconds", secs,
			      rc < 0 ? rc : -ERANGE);
	o->rate_later =
		(unsigned long)cli_size_arg(colon + 1, 1, 4000000000LL, "rate");
}

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct fh_opts *o)
{
	static const struct option opts[] = {
		{"root", required_argument, NULL, 'd'},
		{"rate", required_argument, NULL, 'r'},
		{"link", required_argument, NULL, 'K'},
		{"rate-after", required_argument, NULL, 'A'},
		{"conns", required_argument, NULL, 'c'},
		{"max-per-client", required_argument, NULL, 'M'},
		{"bind", required_argument, NULL, 'b'},
		{"portfile", required_argument, NULL, 'P'},
		{"log", required_argument, NULL, 'L'},
		{"no-faults", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->srv.faults = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:r:c:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->srv.root = optarg;
			break;
		case 'r':
			v = cli_size_arg(optarg, 1, 4000000000LL, "rate");
			o->srv.rate = (unsigned long)v;
			break;
		case 'K':
			v = cli_size_arg(optarg, 1, 4000000000LL, "link rate");
			o->srv.link = (unsigned long)v;
			break;
		case 'A':
			rate_after(optarg, &o->srv);
			break;
		case 'c':
			v = cli_long_arg(optarg, 1, 100000, "connection count");
			o->srv.max_conns = (int)v;
			break;
		case 'M':
			v = cli_long_arg(optarg, 1, 100000,
					 "connections per client");
			o->srv.max_per_client = (int)v;
			break;
		case 'b':
			o->srv.host = optarg;
			break;
		case 'P':
			o->portfile = optarg;
			break;
		case 'L':
			o->logpath = optarg;
			break;
		case 'F':
			o->srv.faults = 0;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "d:r:c:b:h");
		}
	}
	if (optind != argc || o->srv.root == NULL) {
		if (optind != argc)
			warnx("unexpected argument: %s", argv[optind]);
		else
			warnx("-d ROOT is required");
		usage(stderr);
		exit(2);
	}
}

/* Serves until SIGTERM, SIGINT or SIGHUP. */
static int
run(struct fh_opts *o)
{
	struct httpserv *s;
	FILE *logf = NULL;
	sigset_t set;
	int rc, sig;

	if (o->logpath != NULL) {
		if ((logf = fopen(o->logpath, "a")) == NULL)
			err(1, "%s", o->logpath);
		o->srv.log = log_line;
		o->srv.log_arg = logf;
	}
	/* Signals are taken by sigwait below, never by a handler. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((s = httpserv_new(&o->srv)) == NULL)
		err(1, "%s",
		    errno == EADDRNOTAVAIL || errno == EADDRINUSE ?
			    (o->srv.host ? o->srv.host : "127.0.0.1") :
			    o->srv.root);
	if ((rc = httpserv_start(s)) < 0)
		errx(1, "start: %s", strerror(-rc));
	if (o->portfile != NULL) {
		if ((rc = write_portfile(o->portfile, httpserv_port(s))) < 0) {
			httpserv_free(s);
			errx(1, "%s: %s", o->portfile, strerror(-rc));
		}
	} else {
		printf("%d\n", httpserv_port(s));
		fflush(stdout);
	}
	do
		rc = sigwait(&set, &sig);
	while (rc == EINTR);
	httpserv_free(s);
	if (logf != NULL)
		fclose(logf);
	return 0;
}

int
main(int argc, char **argv)
{
	struct fh_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
