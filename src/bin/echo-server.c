/* SPDX-License-Identifier: ISC */
/* echo-server.c -- the textbook blocking echo server, one client at a time,
 * done right: partial sends, EINTR, resets and vanished peers survived. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"
#include "sock.h"

#define CHUNK (64 * 1024)

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: echo-server [-p PORT] [-b ADDR] [-q]\n"
		"Echoes every byte back, serving one client at a time.\n"
		"\n"
		"  -p, --port PORT  port (default 3000; 0: the kernel "
		"chooses)\n"
		"  -b, --bind ADDR  address to bind (default: every address)\n"
		"  -q, --quiet      no line per connection\n"
		"  -h, --help       this help\n"
		"      --version    print the version\n");
}

/* A peer that vanishes without a word (cable pulled, host gone) would
 * hold the only seat forever; keepalive probes and a send timeout free it
 * within a minute or so. */
static void
guard_client(int fd)
{
	int on = 1, idle = 30, intvl = 5, cnt = 3;
	struct timeval tv = {30, 0};

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Echoes until EOF or an error. Returns the bytes echoed; *why says how it
 * ended. */
static unsigned long long
serve(int fd, char *chunk, const char **why)
{
	unsigned long long total = 0;
	long rc;
	ssize_t n;

	for (;;) {
		n = recv(fd, chunk, CHUNK, 0);
		if (n == 0) {
			*why = "EOF";
			return total;
		}
		if (n < 0) {
			if (errno == EINTR && !cli_stop_signal)
				continue;
			*why = cli_stop_signal ? "shutdown" : strerror(errno);
			return total;
		}
		/* sock_send_all resumes partial sends and EINTR itself. */
		if ((rc = sock_send_all(fd, chunk, (size_t)n, 0)) < 0) {
			*why = rc == -EAGAIN ? "send timed out" :
					       sock_strerror((int)rc);
			return total;
		}
		total += (unsigned long long)n;
	}
}

/* What the command line asks for. */
struct es_opts {
	const char *host; /* NULL: every address */
	long long port;
	int quiet;
};

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct es_opts *o)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'},
		{"bind", required_argument, NULL, 'b'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->host = NULL;
	o->port = 3000;
	o->quiet = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "p:b:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->port = cli_long_arg(optarg, 0, 65535,
					       "port (0 to 65535)");
			break;
		case 'b':
			o->host = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "p:b:qh");
		}
	}
	cli_no_operands(argc, argv, usage);
}

/* Serves one client after another on lfd until a signal stops us. */
static void
serve_all(const struct es_opts *o, int lfd, char *chunk)
{
	unsigned long long served = 0, echoed = 0, n;
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[80];
	const char *why;
	int fd;

	while (!cli_stop_signal) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			warn("accept");
			/* Out of descriptors or memory: wait, never spin. */
			usleep(100000);
			continue;
		}
		sock_addr_str(&ss, addr, sizeof(addr));
		if (!o->quiet)
			fprintf(stderr, "echo-server: %s: connected\n", addr);
		guard_client(fd);
		n = serve(fd, chunk, &why);
		close(fd);
		served++;
		echoed += n;
		if (!o->quiet)
			fprintf(stderr,
				"echo-server: %s: closed "
				"(%s, %llu bytes echoed)\n",
				addr, why, n);
	}
	fprintf(stderr,
		"echo-server: served %llu clients, echoed %llu "
		"bytes\n",
		served, echoed);
}

/* Listens and serves; the exit status. */
static int
run(const struct es_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[80], *chunk = NULL;
	int lfd = -1, status = 0;

	signal(SIGPIPE, SIG_IGN);
	/* No SA_RESTART: a signal must interrupt accept() and recv(). */
	cli_catch_stop();

	if ((chunk = malloc(CHUNK)) == NULL)
		err(1, "malloc");
	lfd = sock_listen(o->host, (int)o->port, 128, 0);
	if (lfd < 0) {
		warnx("%s port %lld: %s", o->host ? o->host : "*", o->port,
		      sock_strerror(lfd));
		status = 1;
		goto out;
	}
	len = sizeof(ss);
	if (getsockname(lfd, (struct sockaddr *)&ss, &len) == 0)
		fprintf(stderr, "echo-server: listening on %s\n",
			sock_addr_str(&ss, addr, sizeof(addr)));
	serve_all(o, lfd, chunk);
out:
	if (lfd >= 0)
		close(lfd);
	free(chunk);
	return status;
}

int
main(int argc, char **argv)
{
	struct es_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
