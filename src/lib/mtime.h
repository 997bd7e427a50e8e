/* SPDX-License-Identifier: ISC */
/* mtime.h -- seconds on the monotonic clock, for measuring and deadlines. */
#ifndef NT_MTIME_H
#define NT_MTIME_H

/* Seconds since an arbitrary fixed point (CLOCK_MONOTONIC): differences
 * are elapsed time, unaffected by changes to the wall clock. */
double mtime_now(void);

#endif
