/* SPDX-License-Identifier: ISC */
/* threaded-download.c -- download.c with at most -j N (and never more than
 * 64) transfers at once, on one worker thread per processor. */
#define BATCH_THREADED 1
#include "download.c"
