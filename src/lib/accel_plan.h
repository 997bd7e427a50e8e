/* SPDX-License-Identifier: ISC */
/* accel_plan.h -- the accelerator's ranges: split, steal, save, load. */
#ifndef NT_ACCEL_PLAN_H
#define NT_ACCEL_PLAN_H

#include <stdint.h>
#include <stdio.h>

/*
 * The range planner (accel_plan.c): the file is a set of disjoint ranges
 * [begin, end) that together cover [0, size) exactly once. Bytes
 * [begin, cur) of a range are on disk; [cur, end) are still wanted. A
 * range is idle (waiting for a connection, perhaps not before some time),
 * active (one connection fetches it) or done (cur == end).
 */
enum accel_range_state { ACCEL_IDLE, ACCEL_ACTIVE, ACCEL_DONE };

struct accel_range {
	int64_t begin, cur, end;
	enum accel_range_state state;
	int fails;	   /* failed tries in a row */
	double not_before; /* idle: earliest time to try again */
};

struct accel_plan;

/*
 * A plan of n ranges (fewer when size is small: no range shorter than
 * min_piece, except a last one) over size bytes, all idle.
 * Returns the plan (caller frees with accel_plan_free()), or NULL with
 * errno set (EINVAL, ENOMEM).
 */
struct accel_plan *accel_plan_new(int64_t size, int n, int64_t min_piece);
void accel_plan_free(struct accel_plan *p);

int64_t accel_plan_size(const struct accel_plan *p);
int accel_plan_count(const struct accel_plan *p);
/* Range i, 0 <= i < accel_plan_count(); the pointer is valid until the
 * next call that adds ranges (accel_plan_take). */
const struct accel_range *accel_plan_range(const struct accel_plan *p, int i);
/* Bytes already on disk, and whether every range is done. */
int64_t accel_plan_done_bytes(const struct accel_plan *p);
int accel_plan_complete(const struct accel_plan *p);

/*
 * Work for a free connection at time now: the first idle range whose
 * not_before has passed, else (when no range is idle at all) the back
 * half of the active range with the most bytes still wanted, provided
 * both halves keep at least min_piece bytes. The range returned is made
 * active. Returns its index, -EAGAIN when idle ranges exist but must
 * wait (*wait_until tells until when), or -ENOENT when there is nothing
 * to do. -ENOMEM when a split could not grow the plan.
 */
int accel_plan_take(struct accel_plan *p, double now, double *wait_until);

/* The active range at or containing offset off (resume: the probe's
 * range), made active. Returns its index or -ENOENT. */
int accel_plan_take_at(struct accel_plan *p, int64_t off);

/* n more bytes of range i are on disk; it becomes done at its end.
 * Returns 0, or -EINVAL when that would pass the range's end. */
int accel_plan_advance(struct accel_plan *p, int i, int64_t n);

/* Active range i goes back to idle (its connection failed or stopped),
 * to be retried not before the given time. */
void accel_plan_release(struct accel_plan *p, int i, double not_before);

/*
 * Records a failed try of range i: the count of failed tries in a row
 * restarts when the try delivered bytes, and grows by one when charge is
 * set. Returns the count.
 */
int accel_plan_failed(struct accel_plan *p, int i, int delivered, int charge);

/* Every range not yet done goes back to idle (for saving a plan). */
void accel_plan_release_all(struct accel_plan *p);

/* Validators (ETag, Last-Modified) are kept whole up to this many bytes
 * and sent back exactly; RFC 9110 sets no limit, so a longer one is
 * refused rather than cut. URLs in the state file have the same bound. */
#define ACCEL_VALIDATOR_MAX 8192
#define ACCEL_URL_MAX	    8192

/* What the state file says about the server's file. */
struct accel_meta {
	int64_t size;
	char url[ACCEL_URL_MAX + 1];	    /* without credentials */
	char etag[ACCEL_VALIDATOR_MAX + 1]; /* "" when the server sent none */
	char lastmod[ACCEL_VALIDATOR_MAX + 1]; /* "" when none */
};

/*
 * Writes the plan and meta as text to f: every range, in order, so that
 * they tile [0, size), and last a SHA-256 of the text before it, so that
 * a torn or edited file is told from a whole one. Returns 0 or -errno
 * (-EINVAL for a value that would not stay one line).
 * accel_plan_load() reads it back into a plan (caller frees) whose wanted
 * bytes are exactly those saved, all idle; NULL with errno EINVAL for a
 * malformed, cut, edited or inconsistent file (ranges that leave a gap,
 * overlap or pass the end), ENOMEM.
 */
int accel_plan_save(const struct accel_plan *p, const struct accel_meta *m,
		    FILE *f);
struct accel_plan *accel_plan_load(FILE *f, struct accel_meta *m,
				   int64_t min_piece);

/*
 * Saves atomically to name in the folder dirfd: writes name.tmp (created
 * anew, mode 0600, never through a symlink), flushes it to disk, renames
 * it over name. The caller has made the bytes it describes durable first.
 * Returns 0 or -errno.
 */
int accel_plan_store(const struct accel_plan *p, const struct accel_meta *m,
		     int dirfd, const char *name);

#endif
