/* SPDX-License-Identifier: ISC */
/* mtime.c -- seconds on the monotonic clock. */
#include <time.h>

#include "mtime.h"

double
mtime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
