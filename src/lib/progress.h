/* SPDX-License-Identifier: ISC */
/* progress.h -- a one-line terminal progress bar with rate and ETA. */
#ifndef NT_PROGRESS_H
#define NT_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress;

/*
 * A bar drawn on file descriptor fd (a terminal; the caller decides).
 * Returns it (caller frees with progress_free()) or NULL with errno set.
 */
struct progress *progress_new(int fd);
void progress_free(struct progress *p);

/*
 * A new sample: done of total bytes (total -1 when unknown), conns
 * connections receiving, elapsed seconds since the start. Redraws at most
 * five times a second, and always when done reaches total.
 */
void progress_update(struct progress *p, int64_t done, int64_t total, int conns,
		     double elapsed);

/* Ends the bar's line so later messages start on a clean line. */
void progress_end(struct progress *p);

/*
 * The bar's text for the given figures (rate in bytes per second, < 0 when
 * not yet known) into buf of len bytes, without "\r". Returns buf.
 */
char *progress_format(char *buf, size_t len, int64_t done, int64_t total,
		      double rate, int conns);

#endif
