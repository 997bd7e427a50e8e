/* SPDX-License-Identifier: ISC */
/* jsonout.h -- events as newline-delimited JSON, one whole line each. */
#ifndef NT_JSONOUT_H
#define NT_JSONOUT_H

#include <stdio.h>

struct jsonout;

/*
 * A writer of events to f, which stays the caller's and should be written
 * only through this writer while it lives, or lines may interleave.
 * Returns NULL with errno set (ENOMEM) on failure.
 */
struct jsonout *jsonout_new(FILE *f);
/* Frees j; does not close its file. jsonout_free(NULL) does nothing. */
void jsonout_free(struct jsonout *j);

/*
 * Writes one line, {"event":"EVENT",...}, its other members built from
 * (key, value) pairs ended by NULL. A key is a type letter, ':' and the
 * member's name; the value's C type follows from the letter:
 *   "s:url"    const char *           a string; NULL writes null
 *   "i:conns"  int                    a number
 *   "I:bytes"  long long              a number
 *   "f:rate"   double                 a number with at most 3 decimals;
 *                                     NaN and infinities write null
 *   "b:ok"     int                    true (non-zero) or false
 *   "h:sha256" const unsigned char *  32 bytes as 64 lower-case hex
 *                                     digits in a string; NULL writes null
 *   jsonout_event(j, "done", "s:name", name, "I:bytes", n,
 *                 "f:seconds", s, NULL);
 * Strings are escaped as RFC 8259 says, and each byte that is not part of
 * well-formed UTF-8 becomes U+FFFD, so every line is valid JSON and valid
 * UTF-8 whatever a server or a list sent. Names are written as given.
 * Any thread may call it: a line is written with one fwrite() and then
 * flushed, under j's lock, so lines never interleave.
 * Returns 0, or -EINVAL (an unknown type letter: nothing is written),
 * -ENOMEM, or -EIO (the write or the flush failed).
 */
int jsonout_event(struct jsonout *j, const char *event, ...)
	__attribute__((sentinel));

#endif
