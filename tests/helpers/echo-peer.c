/* SPDX-License-Identifier: ISC */
/* echo-peer.c -- misbehaving and measuring clients for the echo tests.
 *
 *   echo-peer reset  HOST PORT N          N clients that send, then reset
 *   echo-peer idle   HOST PORT MAXSEC     connect, wait for the server to
 *                                         close; prints the seconds taken
 *   echo-peer late   HOST PORT Q A        quiet Q s, one echo, quiet A s,
 *                                         one more echo; prints how it went
 *   echo-peer flood  HOST PORT BYTES SEC  write BYTES, never read, for at
 *                                         most SEC; prints bytes written
 *   echo-peer cycles HOST PORT N          N times: connect, one byte there
 *                                         and back, close
 *   echo-peer hold   HOST PORT N SEC      N connections at once, one byte
 *                                         each; prints how many echoed and
 *                                         how many were closed, within SEC
 *
 * Exit 0 when the run went as described, 1 otherwise (with a message).
 */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"
#include "mtime.h"

static int
dial(const char *host, int port)
{
	int fd = sock_connect(host, port, 0);

	if (fd < 0)
		errx(1, "%s port %d: %s", host, port, sock_strerror(fd));
	return fd;
}

static int
do_reset(const char *host, int port, long n)
{
	char msg[4096];

	memset(msg, 'r', sizeof(msg));
	for (long i = 0; i < n; i++) {
		int fd = dial(host, port);
		if (sock_send_all(fd, msg, sizeof(msg), 0) < 0)
			warnx("send before reset failed");
		/* Unread echo in our buffer plus SO_LINGER 0: an RST. */
		usleep(2000);
		sock_close_reset(fd);
	}
	return 0;
}

static int
do_idle(const char *host, int port, double maxsec)
{
	int fd = dial(host, port);
	double t0 = mtime_now();
	char c;

	for (;;) {
		int left = (int)((t0 + maxsec - mtime_now()) * 1000);
		struct pollfd p = {fd, POLLIN, 0};
		if (left <= 0) {
			printf("still open after %.2f s\n", mtime_now() - t0);
			close(fd);
			return 1;
		}
		if (poll(&p, 1, left) > 0) {
			ssize_t r = recv(fd, &c, 1, 0);
			if (r <= 0) {
				printf("closed after %.2f s\n",
				       mtime_now() - t0);
				close(fd);
				return 0;
			}
		}
	}
}

/* Sends one byte and waits (at most 3 s) for its echo. Returns 0 when it
 * came back, -1 when the connection was closed or nothing came. */
static int
ping(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	char c = 'p';

	if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
		return -1;
	if (poll(&p, 1, 3000) <= 0 || recv(fd, &c, 1, 0) != 1)
		return -1;
	return c == 'p' ? 0 : -1;
}

/* Silent for quiet seconds, one echo, then silent for after seconds and
 * one more echo: a client that was quiet for most of the idle timeout, then
 * spoke, must get the whole timeout again from then on. */
static int
do_late(const char *host, int port, double quiet, double after)
{
	const double waits[2] = {quiet, after};
	const char *which[2] = {"first", "second"};
	int fd = dial(host, port);
	double t0 = mtime_now();

	for (int i = 0; i < 2; i++) {
		struct timespec ts;

		ts.tv_sec = (time_t)waits[i];
		ts.tv_nsec = (long)((waits[i] - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
		if (ping(fd) < 0) {
			printf("closed before the %s echo, after %.2f s\n",
			       which[i], mtime_now() - t0);
			close(fd);
			return 1;
		}
	}
	printf("both echoed, after %.2f s\n", mtime_now() - t0);
	close(fd);
	return 0;
}

static int
do_flood(const char *host, int port, long long bytes, double sec)
{
	int fd = dial(host, port);
	double t0 = mtime_now();
	long long sent = 0;
	static char chunk[65536];
	int status = 0;

	memset(chunk, 'f', sizeof(chunk));
	sock_set_nonblock(fd, 1);
	while (sent < bytes && mtime_now() - t0 < sec) {
		struct pollfd p = {fd, POLLOUT, 0};
		size_t want = bytes - sent < (long long)sizeof(chunk) ?
				      (size_t)(bytes - sent) :
				      sizeof(chunk);
		if (poll(&p, 1, 50) <= 0)
			continue;
		ssize_t w = send(fd, chunk, want, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			warn("send after %lld bytes", sent);
			status = 1;
			break;
		}
		if (w > 0)
			sent += w;
	}
	/* Still not reading: stay until the time is up, so the server is
	 * measured while it holds this client. */
	while (status == 0 && mtime_now() - t0 < sec)
		usleep(20000);
	printf("wrote %lld bytes\n", sent);
	close(fd);
	return status;
}

static int
do_cycles(const char *host, int port, long n)
{
	for (long i = 0; i < n; i++) {
		int fd = dial(host, port);
		char c = 'c', back = 0;
		if (sock_send_all(fd, &c, 1, 0) < 0 ||
		    recv(fd, &back, 1, 0) != 1 || back != c)
			errx(1, "cycle %ld: no echo", i);
		close(fd);
	}
	return 0;
}

static int
do_hold(const char *host, int port, long n, double sec)
{
	int *fds = calloc((size_t)n, sizeof(int));
	int *state = calloc((size_t)n,
			    sizeof(int)); /* 0 waiting 1 echoed 2 closed */
	long echoed = 0, closed = 0;
	double t0 = mtime_now();
	char c = 'h';

	if (fds == NULL || state == NULL)
		err(1, "calloc");
	for (long i = 0; i < n; i++)
		fds[i] = dial(host, port);
	for (long i = 0; i < n; i++) {
		if (send(fds[i], &c, 1, MSG_NOSIGNAL) != 1)
			state[i] = 2, closed++;
	}
	while (echoed + closed < n && mtime_now() - t0 < sec) {
		for (long i = 0; i < n; i++) {
			char b;
			ssize_t r;
			if (state[i])
				continue;
			r = recv(fds[i], &b, 1, MSG_DONTWAIT);
			if (r == 1)
				state[i] = 1, echoed++;
			else if (r == 0 || (errno != EAGAIN && errno != EINTR))
				state[i] = 2, closed++;
		}
		usleep(10000);
	}
	printf("echoed %ld closed %ld\n", echoed, closed);
	fflush(stdout);
	for (long i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	free(state);
	return echoed + closed == n ? 0 : 1;
}

int
main(int argc, char **argv)
{
	int port;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 5)
		errx(2, "usage: echo-peer reset|idle|late|flood|cycles|hold "
			"HOST PORT ...");
	port = atoi(argv[3]);
	if (strcmp(argv[1], "reset") == 0)
		return do_reset(argv[2], port, atol(argv[4]));
	if (strcmp(argv[1], "idle") == 0)
		return do_idle(argv[2], port, atof(argv[4]));
	if (strcmp(argv[1], "late") == 0 && argc == 6)
		return do_late(argv[2], port, atof(argv[4]), atof(argv[5]));
	if (strcmp(argv[1], "flood") == 0 && argc == 6)
		return do_flood(argv[2], port, atoll(argv[4]), atof(argv[5]));
	if (strcmp(argv[1], "cycles") == 0)
		return do_cycles(argv[2], port, atol(argv[4]));
	if (strcmp(argv[1], "hold") == 0 && argc == 6)
		return do_hold(argv[2], port, atol(argv[4]), atof(argv[5]));
	errx(2, "unknown mode or arguments: %s", argv[1]);
}
