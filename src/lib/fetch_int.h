/* SPDX-License-Identifier: ISC */
/* fetch_int.h -- fetch.c's reply header parsing, for its fuzz target. */
#ifndef NT_FETCH_INT_H
#define NT_FETCH_INT_H

#include <stddef.h>

/*
 * Reads one reply header line as libcurl hands it over: len bytes, not
 * NUL-terminated, its CRLF included. A status line sets *retry_after to -1
 * and copies its reason phrase into reason (reasonsize > 0 bytes, made
 * printable, cut to fit); a Retry-After line sets *retry_after to its
 * seconds (-1 when unreadable). Any other line changes nothing.
 */
void fetch__parse_header(const char *data, size_t len, double *retry_after,
			 char *reason, size_t reasonsize);

#endif
