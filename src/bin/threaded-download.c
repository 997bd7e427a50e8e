/* SPDX-License-Identifier: ISC */
/* threaded-download.c -- download.c with several files at once, up to -j N
 * connections over all of them, on one worker thread per processor. */
#define BATCH_THREADED 1
#include "download.c"
