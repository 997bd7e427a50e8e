/* SPDX-License-Identifier: ISC */
/* runstat.c -- runs a command and prints "WALL CPU RSS": wall seconds, user
 * plus system CPU seconds (microsecond resolution, where GNU time rounds to
 * hundredths, too coarse for runs of a few tens of milliseconds) and the
 * peak RSS in KiB of the largest process, from wait4(). For the benchmark
 * only.
 *
 *   runstat OUTFILE CMD [ARG...]   the figures go to OUTFILE; the exit
 *                                  status is the command's
 */
#include <err.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mtime.h"

static double
tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

int
main(int argc, char **argv)
{
	struct rusage ru;
	double t0, t1;
	FILE *out;
	pid_t pid;
	int st;

	if (argc < 3)
		errx(2, "usage: runstat OUTFILE CMD [ARG...]");
	if ((out = fopen(argv[1], "w")) == NULL)
		err(2, "%s", argv[1]);
	t0 = mtime_now();
	if ((pid = fork()) < 0)
		err(2, "fork");
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		warn("%s", argv[2]);
		_exit(127);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		err(2, "wait4");
	t1 = mtime_now();
	fprintf(out, "%.6f %.6f %ld\n", t1 - t0,
		tv(ru.ru_utime) + tv(ru.ru_stime), ru.ru_maxrss);
	if (fclose(out) != 0)
		err(2, "%s", argv[1]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
