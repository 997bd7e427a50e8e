/* SPDX-License-Identifier: ISC */
/* urllist.h -- download lists in aria2c's input file format. */
#ifndef NT_URLLIST_H
#define NT_URLLIST_H

#include <stddef.h>
#include <stdio.h>

/* Longest URL a list may give, in bytes. */
#define URLLIST_URL_MAX 8192
/* Longest out= name and longest dir= component, in bytes (NAME_MAX). */
#define URLLIST_NAME_MAX 255
/* Longest dir= value, in bytes, after it is normalised. */
#define URLLIST_DIR_MAX 4095
/* Most connections split= may ask for. */
#define URLLIST_SPLIT_MAX 64

/* One file of the list: everything owned by the list. */
struct urllist_entry {
	char **urls;	/* the primary, then mirrors of the same file */
	int nurls;	/* >= 1 */
	char *out;	/* out=NAME, or NULL */
	char *dir;	/* dir=SUBDIR, normalised ("a/b"), or NULL */
	int has_sha256; /* whether checksum=sha-256= was given */
	unsigned char sha256[32];
	char **headers; /* header=Name: value, in order */
	int nheaders;
	int split;	    /* split=N, 0 when not given */
	unsigned long line; /* line number of the URL line */
};

struct urllist;

/*
 * Called for each bad line: its number and a short printable text saying
 * what is wrong ("out=../x: a file name may not contain '/'"), valid only
 * during the call.
 */
typedef void urllist_bad_cb(unsigned long line, const char *why, void *arg);

/* An empty list, or NULL with errno set. urllist_free(NULL) does nothing. */
struct urllist *urllist_new(void);
void urllist_free(struct urllist *l);

/*
 * Reads in to its end and appends its entries to l. A line starting with
 * a non-blank is a URL line: one or more http(s) URLs of one file,
 * separated by TABs. A line starting with a blank is an option,
 * "name=value", of the URL line above it (unless "://" comes before any
 * '=' in it: an indented URL line): out, dir, checksum (sha-256=HEX),
 * header (repeatable) and split. Blank lines and lines whose first
 * non-blank is '#' are skipped; blanks around a line, a URL, an option's
 * name and its value are dropped, and so is a trailing CR.
 *
 * Each bad line is passed to bad (which may be NULL). A bad URL line drops
 * its entry and, without a word, its option lines; a known option with a
 * bad value, or given twice, drops its entry too, as an entry cannot be
 * fetched as the list meant it. A line that is not name=value, an unknown
 * option and an option line before any URL line are reported and skipped.
 *
 * Returns the number of bad lines reported, or -errno (a read error,
 * ENOMEM); after an error l keeps the entries read before it.
 * Not thread-safe: one thread reads a list.
 */
long urllist_read(struct urllist *l, FILE *in, urllist_bad_cb *bad, void *arg);

size_t urllist_count(const struct urllist *l);
/* The i-th entry (i < urllist_count()), in list order; owned by the list. */
const struct urllist_entry *urllist_entry(const struct urllist *l, size_t i);
/* Moves the i-th entry's strings to *e: the caller then owns and frees
 * urls and headers (each string and the array), out and dir. The list
 * keeps an empty entry in its place. */
void urllist_take(struct urllist *l, size_t i, struct urllist_entry *e);

#endif
