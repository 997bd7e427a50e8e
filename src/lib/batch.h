/* SPDX-License-Identifier: ISC */
/* batch.h -- a list of URLs, their reserved file names, and running them. */
#ifndef NT_BATCH_H
#define NT_BATCH_H

#include <stddef.h>
#include <stdio.h>

#include "fetch.h"

enum batch_state {
	BATCH_PENDING, /* not started (yet, or ever after SIGINT) */
	BATCH_SAVED,
	BATCH_FAILED,
	BATCH_INTERRUPTED, /* started, stopped by cancel, removed */
};

struct batch_item {
	char *url;
	char *name;	    /* unique within the batch (batch_reserve) */
	unsigned long line; /* line number in the input */
	enum batch_state state;
	struct fetch_result res;
};

struct batch;

/* Called for a line that is not an http(s) URL; text is the trimmed line. */
typedef void batch_bad_cb(unsigned long line, const char *text, void *arg);
/* Called by the thread running an item, when it starts and when it ends
 * (by the worker that claimed it; one worker runs several items at once). */
typedef void batch_item_cb(struct batch_item *it, void *arg);

/* An empty batch, or NULL with errno set. batch_free(NULL) does nothing. */
struct batch *batch_new(void);
void batch_free(struct batch *b);

/*
 * Reads one URL a line: blanks around it trimmed, blank lines and lines
 * starting with '#' skipped, anything that is not an http(s) URL passed to
 * bad (which may be NULL) and skipped. Returns the number of bad lines, or
 * -errno (a read error, ENOMEM).
 */
long batch_read(struct batch *b, FILE *in, batch_bad_cb *bad, void *arg);

/* Appends one URL (copied). Returns 0 or -ENOMEM. */
int batch_add(struct batch *b, const char *url, unsigned long line);

/*
 * Gives every item its file name: urlname_from_url(), and for the second
 * and later items wanting a name already given, "NAME.1", "NAME.2", ... in
 * input order, so the names never depend on which download ends first.
 * With fetch.disposition, a name only the reply reveals (Content-
 * Disposition) is given when the file is complete, and passes over every
 * name reserved here and every file that exists (fetch.h): it is unique
 * and overwrites nothing, but its number may depend on the order the
 * downloads end. Returns 0 or -ENOMEM.
 */
int batch_reserve(struct batch *b);

size_t batch_count(const struct batch *b);
/* The i-th item (i < batch_count()); owned by the batch. */
struct batch_item *batch_item(struct batch *b, size_t i);

struct batch_run_opts {
	unsigned jobs;		 /* 0: one at a time in the calling thread,
				  * with fetch_url(); else at most that many
				  * downloads at once (no more than there are
				  * items), on worker threads that each drive
				  * their share through one fetch_multi */
	unsigned threads;	 /* worker threads, 0: one per processor the
				  * process may run on; never more than
				  * jobs or TPOOL_MAX_THREADS */
	int dirfd;		 /* folder the files go to */
	struct fetch_opts fetch; /* fetch.cancel also stops starting items;
				  * fetch.taken is the batch's own */
	batch_item_cb *on_start; /* optional */
	batch_item_cb *on_done;	 /* optional */
	void *arg;
};

/*
 * Downloads every pending item, filling in its state and result. Once
 * fetch.cancel is set no further item starts. Returns 0, or -errno when
 * the run could not be set up (no thread, no memory).
 */
int batch_run(struct batch *b, const struct batch_run_opts *o);

#endif
