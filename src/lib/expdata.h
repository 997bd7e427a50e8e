/* SPDX-License-Identifier: ISC */
/* expdata.h -- the experiments' data files ("URL THREADS BYTES SECONDS")
 * and the box statistics that experiments and plot print and draw; the
 * row of an -n auto run from the accelerator's --json events.
 */
#ifndef NT_EXPDATA_H
#define NT_EXPDATA_H

#include <stddef.h>

/* One download: a line of a data-NAME.txt file. */
struct expdata_row {
	int threads;
	long long bytes;
	double seconds;
};

/* The rows of one file (caller-allocated; zero it, then expdata_free). */
struct expdata {
	struct expdata_row *rows;
	size_t n, cap;
};

/* Box statistics of the rows with one thread count. */
struct expdata_stat {
	int threads;
	size_t n;
	double min, q1, median, q3, max;
	double lo, hi;	 /* whiskers: the extreme values within 1.5 IQR */
	long long bytes; /* median size */
};

/*
 * Parses one line (without or with its newline). Returns 1 and fills *r
 * for a data line, 0 for a blank or '#' line, or -EINVAL for a malformed
 * one with *why set to a static reason ("expected 4 fields", ...).
 */
int expdata_parse_line(const char *line, struct expdata_row *r,
		       const char **why);

/* Called for each malformed line read: its number and the reason. */
typedef void expdata_bad_cb(long lineno, const char *why, void *arg);

/*
 * Appends the data lines of the file at path to d; malformed lines are
 * reported through bad (may be NULL) and skipped. Returns the number of
 * rows added or -errno (the file could not be read; d keeps what it had).
 */
long expdata_read(const char *path, struct expdata *d, expdata_bad_cb *bad,
		  void *arg);

/* Appends one row. 0 or -ENOMEM. */
int expdata_add(struct expdata *d, const struct expdata_row *r);

/* Frees the rows; d is empty and reusable afterwards. */
void expdata_free(struct expdata *d);

/*
 * Box statistics per thread count, in increasing thread order, into out
 * (room for max). Returns how many thread counts there are (may exceed
 * max; only max are written).
 */
size_t expdata_stats(const struct expdata *d, struct expdata_stat *out,
		     size_t max);

/* The median of the n values at v (sorted in place). 0 for n = 0. */
double expdata_median(double *v, size_t n);

/* "1.0 MiB", "300 KiB", "12 B" for a byte count into buf. Returns buf. */
char *expdata_size_str(long long bytes, char *buf, size_t len);

/* The counts an -n auto run may hold: --max-connections' range. */
#define EXPDATA_JSON_MAX_CONNS 64

/*
 * One -n auto run as download-accelerator --json tells it, read line by
 * line (expdata_json.c): where its controller's count stood and for how
 * long, and the done event. Caller-allocated; expdata_json_init it first.
 * Its members are expdata_json's own.
 */
struct expdata_json {
	const char *url; /* the URL done must name, the caller's */
	/* Microseconds at each count; bit c - 1 of seen: c was held. */
	long long held[EXPDATA_JSON_MAX_CONNS + 1];
	unsigned long long seen;
	int conns;	 /* the count since the last connections event */
	long long since; /* when that event came, microseconds */
	int done;	 /* done was read: the members below are set */
	int most;	 /* its connections: the most at once */
	long long end;	 /* its seconds, in microseconds */
	struct expdata_row row;
};

/* Readies j for a run of url (kept, not copied: it must outlive j). */
void expdata_json_init(struct expdata_json *j, const char *url);

/*
 * Reads one event: len bytes at line, without the newline (a NUL byte in
 * them is an error, not an end). Each line must be one JSON object of
 * strings, numbers, true, false and null, with an "event" member naming
 * start, connections, progress, done or summary; the members connections
 * and done carry must be there, in range, and in order of time; done must
 * come once and name j's URL. Returns 0, or -EINVAL with *why set to a
 * static reason; j is then of no further use.
 */
int expdata_json_line(struct expdata_json *j, const char *line, size_t len,
		      const char **why);

/*
 * The row the events make, into *r: threads is the count held longest
 * (each count from its connections event to the next, the last to done's
 * seconds; a tie goes to the smaller count; with no connections event,
 * done's most at once), bytes and seconds are done's. Returns 0, or
 * -EINVAL with *why set to a static reason (no done event was read).
 */
int expdata_json_row(const struct expdata_json *j, struct expdata_row *r,
		     const char **why);

#endif
