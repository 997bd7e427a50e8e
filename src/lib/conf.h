/* SPDX-License-Identifier: ISC */
/* conf.h -- the defaults file: long options, one a line. */
#ifndef NT_CONF_H
#define NT_CONF_H

#include <stddef.h>

/* Longest option name a line may give, in bytes. */
#define CONF_NAME_MAX 64

/*
 * Called for each option of the file, in order: its line number, its
 * name and its value (NULL for a bare name). Returns 0 to go on, or a
 * -errno that stops the parse and is returned by conf_parse(), with *why
 * set to a static string saying why (or left NULL).
 */
typedef int conf_option_cb(unsigned long line, const char *name, char *value,
			   const char **why, void *arg);

/*
 * Parses text, len bytes and the NUL at text[len], in place: one option a line,
 * "name = value" or a bare "name"; blanks around the name and the value are
 * dropped, and a value in double quotes keeps what is inside them, blanks
 * included. Blank lines and lines whose first non-blank is '#' are skipped; a
 * byte order mark before the first line is skipped too. A name is made of
 * lower-case letters, digits and '-' (a long option without its "--").
 * The names and values handed to cb point into text, which is changed
 * (each ends in a NUL), and stay valid as long as text does.
 * Returns 0; -EINVAL for a bad line (a bad name, a NUL byte, a value
 * that opens a quote and does not close it), with *errline its number and *why
 * a static string saying what is wrong; or what cb returned, with *errline and
 * *why set likewise.
 */
int conf_parse(char *text, size_t len, conf_option_cb *cb, void *arg,
	       unsigned long *errline, const char **why);

#endif
