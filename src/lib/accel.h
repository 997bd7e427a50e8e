/* SPDX-License-Identifier: ISC */
/* accel.h -- one file over several parallel ranged HTTP connections. */
#ifndef NT_ACCEL_H
#define NT_ACCEL_H

#include <signal.h>
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
	int fails;		/* failed tries in a row */
	double not_before;	/* idle: earliest time to try again */
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

/* What the state file says about the server's file. */
struct accel_meta {
	int64_t size;
	char url[2048];
	char etag[256];		/* "" when the server sent none */
	char lastmod[64];	/* "" when the server sent none */
};

/*
 * Writes the plan's wanted bytes and meta as text to f. Returns 0 or
 * -errno. accel_plan_load() reads it back into a plan (caller frees) whose
 * wanted bytes are exactly those saved, all idle; NULL with errno EINVAL
 * for a malformed, truncated or inconsistent file.
 */
int accel_plan_save(const struct accel_plan *p, const struct accel_meta *m,
		    FILE *f);
struct accel_plan *accel_plan_load(FILE *f, struct accel_meta *m,
				   int64_t min_piece);

/*
 * Saves atomically to path: writes path.tmp, flushes it to disk, renames
 * it over path. The caller has made the bytes it describes durable first.
 * Returns 0 or -errno.
 */
int accel_plan_store(const struct accel_plan *p, const struct accel_meta *m,
		     const char *path);

/* The download engine (accel.c). */

struct accel_stats {
	int64_t done;		/* bytes on disk */
	int64_t total;		/* file size, -1 while unknown */
	int conns;		/* connections receiving data now */
	double elapsed;		/* seconds since the start */
};

typedef void (*accel_progress_cb)(const struct accel_stats *st, void *arg);
/* A warning the program may show (a mirror dropped, a resume refused). */
typedef void (*accel_warn_cb)(const char *msg, void *arg);

struct accel_opts {
	const char *const *urls;	/* urls[0] the primary, then mirrors */
	int nurls;
	const char *path;	/* final name; NAME.part and NAME.part.state */
	int conns;		/* parallel connections, >= 1 */
	int resume;		/* continue from NAME.part and its state */
	double timeout;		/* abandon a connection silent this long */
	int retries;		/* failed tries of one range before giving up */
	long long max_speed;	/* total bytes per second, 0 for no cap */
	const unsigned char *sha256;	/* 32 bytes to verify, or NULL */
	const char *cacert;	/* extra CA bundle for HTTPS, or NULL */
	volatile sig_atomic_t *stop;	/* set by a signal handler: stop */
	accel_progress_cb progress;	/* called a few times a second */
	accel_warn_cb warn;
	void *cb_arg;
};

struct accel_result {
	int64_t bytes;		/* file size */
	int64_t resumed_from;	/* bytes already on disk at the start */
	double seconds;		/* wall time */
	char errurl[2048];	/* on failure: the URL concerned */
	char errmsg[256];	/* on failure: why, e.g. "HTTP 404 Not Found" */
};

/*
 * Downloads opts->urls[0] to opts->path. Blocks until done, failed or
 * stopped. Returns 0 when the file stands complete (and verified) under
 * its final name; -EINTR when *opts->stop was set (NAME.part and its state
 * are kept for a resume); another -errno on failure, with res->errurl and
 * res->errmsg saying what happened. Never leaves a partial file under the
 * final name.
 */
int accel_run(const struct accel_opts *opts, struct accel_result *res);

/* Call once before any thread starts (libcurl's global init). */
int accel_global_init(void);
void accel_global_cleanup(void);

#endif
