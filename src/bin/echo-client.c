/* SPDX-License-Identifier: ISC */
/* echo-client.c -- sends each input line to an echo server and prints the
 * whole echo, however it arrives and however long the line. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "sock.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: echo-client [-s HOST] [-p PORT]\n"
		   "Sends each line of input to an echo server and prints the "
		   "echo.\n"
		   "A blank line or the end of input stops it.\n"
		   "\n"
		   "  -s, --server HOST  server (default localhost)\n"
		   "  -p, --port PORT    port (default 3000)\n"
		   "  -h, --help         this help\n"
		   "      --version      print the version\n");
}

/*
 * Sends n bytes and copies the n echoed bytes to stdout. Sending and
 * receiving interleave: a line longer than the socket buffers would
 * otherwise deadlock, both sides blocked in send. Returns 0, or -1 after
 * printing why.
 */
static int
round_trip(int fd, const char *line, size_t n, const char *server)
{
	size_t sent = 0, got = 0;
	char chunk[64 * 1024];

	while (got < n) {
		struct pollfd p = {fd, POLLIN | (sent < n ? POLLOUT : 0), 0};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			warn("poll");
			return -1;
		}
		if ((p.revents & POLLOUT) && sent < n) {
			ssize_t w = send(fd, line + sent, n - sent,
					 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				warnx("%s: send: %s", server, strerror(errno));
				return -1;
			}
			if (w > 0)
				sent += (size_t)w;
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			size_t want = n - got < sizeof(chunk) ? n - got :
								sizeof(chunk);
			ssize_t r = recv(fd, chunk, want, MSG_DONTWAIT);
			if (r == 0) {
				warnx("%s: server closed the connection",
				      server);
				return -1;
			}
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				warnx("%s: receive: %s", server,
				      strerror(errno));
				return -1;
			}
			if (r > 0) {
				if (fwrite(chunk, 1, (size_t)r, stdout) !=
				    (size_t)r) {
					warn("stdout");
					return -1;
				}
				got += (size_t)r;
			}
		}
	}
	return 0;
}

/* What the command line asks for. */
struct ec_opts {
	const char *host;
	long long port;
};

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct ec_opts *o)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"port", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->host = "localhost";
	o->port = 3000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (optarg[0] == '\0')
				cli_bad_value("server host", optarg, -EINVAL);
			o->host = optarg;
			break;
		case 'p':
			o->port = cli_long_arg(optarg, 1, 65535,
					       "port (1 to 65535)");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "s:p:h");
		}
	}
	cli_no_operands(argc, argv, usage);
}

/* Each input line to the server and its echo back, until a blank line
 * or the end of the input. Returns the exit status. */
static int
converse(int fd, const char *server)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int tty = isatty(STDIN_FILENO), status = 0;

	if (tty)
		printf("Enter a blank line to stop.\n");
	for (;;) {
		if (tty) {
			printf("> ");
			fflush(stdout);
		}
		len = getline(&line, &cap, stdin);
		if (len < 0) {
			if (ferror(stdin)) {
				warn("stdin");
				status = 1;
			}
			break;
		}
		if (line[0] == '\n' || (line[0] == '\r' && line[1] == '\n'))
			break;
		if (round_trip(fd, line, (size_t)len, server) < 0) {
			status = 1;
			break;
		}
		/* A last line without a newline still ends one on screen. */
		if (line[len - 1] != '\n')
			putchar('\n');
		if (fflush(stdout) != 0) {
			warn("stdout");
			status = 1;
			break;
		}
	}
	free(line);
	return status;
}

static int
run(const struct ec_opts *o)
{
	char server[300];
	int fd, status;

	signal(SIGPIPE, SIG_IGN);
	snprintf(server, sizeof(server), "%s port %lld", o->host, o->port);
	fd = sock_connect(o->host, (int)o->port, 0);
	if (fd < 0) {
		warnx("%s: %s", server, sock_strerror(fd));
		return 1;
	}
	status = converse(fd, server);
	close(fd);
	return status;
}

int
main(int argc, char **argv)
{
	struct ec_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
