/* threaded-download.c -- download.c with a pool of worker threads, at most
 * -j N (and never more than 64) transfers at once. */
#define BATCH_THREADED 1
#include "download.c"
