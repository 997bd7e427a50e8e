/* SPDX-License-Identifier: ISC */
/* raw-httpd.c -- answers every connection with the bytes of a file, as a
 * hostile or broken server would.
 *
 *   raw-httpd --portfile F [--log F] [-n MAX] REPLY [REPLY...]
 *
 * Listens on 127.0.0.1, port chosen by the kernel (written to F). For
 * each connection it reads the request head (up to the blank line, 64 KiB
 * at most), writes the next REPLY file's bytes exactly as they are (the
 * last one is repeated), and closes. --log appends the first line of each
 * request. Exits after MAX connections (default 100) or on SIGTERM.
 */
#include <err.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

#define HEAD_MAX (64 * 1024)

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) < 0 ||
	    (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n)
		err(1, "%s", path);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Reads until the end of the request head; returns its length or -1. */
static ssize_t
read_head(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n < size - 1) {
		ssize_t r = read(fd, buf + n, size - 1 - n);

		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			return (ssize_t)n;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"portfile", required_argument, NULL, 'P'},
		{"log", required_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	const char *portfile = NULL, *logpath = NULL;
	char *head = malloc(HEAD_MAX);
	long max = 100;
	int c, lfd, port;
	FILE *f, *log = NULL;

	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			portfile = optarg;
			break;
		case 'L':
			logpath = optarg;
			break;
		case 'n':
			max = strtol(optarg, NULL, 10);
			break;
		default:
			errx(2, "usage: raw-httpd --portfile F [--log F] "
				"[-n MAX] REPLY...");
		}
	}
	if (portfile == NULL || optind == argc || head == NULL || max < 1)
		errx(2, "usage: raw-httpd --portfile F [--log F] [-n MAX] "
			"REPLY...");
	signal(SIGPIPE, SIG_IGN);
	if ((lfd = sock_listen("127.0.0.1", 0, 64, 0)) < 0)
		errx(1, "listen: %s", sock_strerror(lfd));
	if ((port = sock_local_port(lfd)) < 0)
		errx(1, "getsockname: %s", sock_strerror(port));
	if (logpath != NULL && (log = fopen(logpath, "a")) == NULL)
		err(1, "%s", logpath);
	if ((f = fopen(portfile, "w")) == NULL)
		err(1, "%s", portfile);
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		err(1, "%s", portfile);
	for (long i = 0; i < max; i++) {
		int arg = optind + (int)i < argc ? optind + (int)i : argc - 1;
		int fd = sock_accept(lfd, 0, NULL);
		char *reply;
		size_t len;

		if (fd < 0)
			continue;
		if (read_head(fd, head, HEAD_MAX) >= 0) {
			if (log != NULL) {
				fprintf(log, "%.*s\n", (int)strcspn(head, "\r"),
					head);
				fflush(log);
			}
			reply = slurp(argv[arg], &len);
			sock_send_all(fd, reply, len, 0);
			free(reply);
		}
		close(fd);
	}
	free(head);
	return 0;
}
