/* SPDX-License-Identifier: ISC */
/* tcp-stream.c -- what one loopback TCP stream carries: the ceiling the
 * echo servers' 16 KiB throughput is compared with. For the benchmark only.
 *
 *   tcp-stream sink                      listens on 127.0.0.1:0, prints the
 *                                        port, reads one connection to EOF
 *                                        and prints MiB/s
 *   tcp-stream source PORT LEN SECONDS   writes LEN-byte chunks for SECONDS
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sock.h"
#include "mtime.h"

int
main(int argc, char **argv)
{
	static char buf[1 << 20];
	long long total = 0;
	double t0 = 0;
	ssize_t n;
	int fd;

	if (argc == 2 && strcmp(argv[1], "sink") == 0) {
		int lfd = sock_listen("127.0.0.1", 0, 1, 0);
		if (lfd < 0)
			errx(1, "listen: %s", sock_strerror(lfd));
		printf("%d\n", sock_local_port(lfd));
		fflush(stdout);
		if ((fd = sock_accept(lfd, 0, NULL)) < 0)
			errx(1, "accept: %s", sock_strerror(fd));
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			if (total == 0)
				t0 = mtime_now();
			total += n;
		}
		printf("%.1f MiB/s\n", total / (mtime_now() - t0) / 1048576);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "source") == 0) {
		size_t len = (size_t)atol(argv[3]);
		double secs = atof(argv[4]), end;
		if (len == 0 || len > sizeof(buf))
			errx(2, "bad length");
		memset(buf, 's', len);
		if ((fd = sock_connect("127.0.0.1", atoi(argv[2]), 0)) < 0)
			errx(1, "connect: %s", sock_strerror(fd));
		end = mtime_now() + secs;
		while (mtime_now() < end) {
			if (sock_send_all(fd, buf, len, 0) < 0)
				err(1, "send");
		}
		close(fd);
		return 0;
	}
	errx(2, "usage: tcp-stream sink | tcp-stream source PORT LEN SECONDS");
}
