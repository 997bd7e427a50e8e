/* SPDX-License-Identifier: ISC */
/* listen-exec.c -- binds a listening socket on port 0 and runs a server on it.
 *
 *   listen-exec HOST PORTFILE CMD [ARG...]
 *
 * Binds HOST:0, writes the port the kernel chose to PORTFILE, then executes
 * CMD with the socket as descriptor 3, NT_PORT set to the port and NGINX set
 * to "3;" so that nginx adopts the socket instead of binding its own. Tests
 * thereby never pick a fixed port and never race for one.
 */
#include <err.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sock.h"

int
main(int argc, char **argv)
{
	char port[16];
	FILE *f;
	int fd, p;

	if (argc < 4)
		errx(2, "usage: listen-exec HOST PORTFILE CMD [ARG...]");
	fd = sock_listen(argv[1], 0, 511, 0);
	if (fd < 0)
		errx(1, "%s: %s", argv[1], sock_strerror(fd));
	p = sock_local_port(fd);
	if (p < 0)
		errx(1, "getsockname: %s", sock_strerror(p));
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			err(1, "dup2");
		close(fd);
	}
	/* The socket must survive exec (dup2 clears the flag, but the
	 * socket may have landed on 3 in the first place). */
	if (fcntl(3, F_SETFD, 0) < 0)
		err(1, "fcntl");
	snprintf(port, sizeof(port), "%d", p);
	if ((f = fopen(argv[2], "w")) == NULL)
		err(1, "%s", argv[2]);
	fprintf(f, "%s\n", port);
	if (fclose(f) != 0)
		err(1, "%s", argv[2]);
	setenv("NT_PORT", port, 1);
	setenv("NGINX", "3;", 1);
	execvp(argv[3], argv + 3);
	err(127, "%s", argv[3]);
}
