/* SPDX-License-Identifier: ISC */
/* batch.h -- a list of downloads, their reserved file names, and running
 * them through the accelerator's engine under one shared budget. */
#ifndef NT_BATCH_H
#define NT_BATCH_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "accel.h"
#include "budget.h"
#include "reqopts.h"
#include "urllist.h"

enum batch_state {
	BATCH_PENDING, /* not started (yet, or ever after a stop) */
	BATCH_SAVED,
	BATCH_SKIPPED,	   /* there already: --no-clobber, or -c */
	BATCH_FAILED,	   /* res.kept: NAME.part stands for -c */
	BATCH_INTERRUPTED, /* started, then stopped; res.kept likewise */
};

struct batch_item {
	char **urls; /* the file's URL, then its mirrors */
	int nurls;
	char *url;  /* urls[0] */
	char *out;  /* the name the list asks for, or NULL */
	char *dir;  /* the subfolder the list asks for, or NULL */
	char *name; /* unique within its folder (batch_reserve) */
	char *path; /* "dir/name" or "name", inside the run's folder */
	int has_sha256;
	unsigned char sha256[32];
	char **headers; /* sent with this file's requests only */
	int nheaders;
	int split;	    /* connections for this file; 0: the run's */
	unsigned long line; /* line number in the input */
	enum batch_state state;
	/* Progress, for the program (written by the item's thread). */
	long long size; /* -1 while unknown */
	long long done; /* bytes on disk */
	int conns;	/* connections receiving now */
	double elapsed; /* seconds since it started */
	int target;	/* -n auto: the count chosen, 0 with a fixed one */
	const char *target_why; /* why it last changed (static) */
	/* What batch_json_*() have said of it. */
	int json_started;
	double json_at;	     /* the last progress event */
	long long json_done; /* and its bytes */
	int json_target;     /* the count last said */
	/* Last: a new item clears what comes before, and of these only what
	 * accel_result_init() clears and why's first byte. */
	struct accel_result res;
	char why[256]; /* skipped: why */
};

/* The items of a batch by how they ended. */
struct batch_counts {
	size_t saved;	     /* not_modified included */
	size_t not_modified; /* -N: kept as they were */
	size_t skipped, failed, pending;
	long long bytes; /* in the files saved */
};

struct batch;

/* Called for a line of the list that is bad; why says what is wrong. */
typedef void batch_bad_cb(unsigned long line, const char *why, void *arg);
/* Called by the thread running an item: when it starts, a few times a
 * second while it runs (its size, done and conns fields fresh), and when
 * it ends. Several items run at once on different threads. */
typedef void batch_item_cb(struct batch_item *it, void *arg);

/* An empty batch, or NULL with errno set. batch_free(NULL) does nothing. */
struct batch *batch_new(void);
void batch_free(struct batch *b);

/*
 * Reads a list (urllist.h: a URL a line, TAB-separated mirrors, indented
 * out=, dir=, checksum=, header=, split= lines), passing every bad line to
 * bad (which may be NULL). Returns the number of bad lines, or -errno (a
 * read error, ENOMEM).
 */
long batch_read(struct batch *b, FILE *in, batch_bad_cb *bad, void *arg);

/* Appends one URL (copied). Returns 0 or -ENOMEM. */
int batch_add(struct batch *b, const char *url, unsigned long line);
/* Appends an entry of a list (copied). Returns 0 or -ENOMEM. */
int batch_add_entry(struct batch *b, const struct urllist_entry *e);

/*
 * Gives every item its file name: its out= name, else urlname_from_url(),
 * in its dir= subfolder; the second and later items wanting a path already
 * given get "NAME.1", "NAME.2", ... in input order, so the names never
 * depend on which download ends first. Returns 0 or -ENOMEM.
 */
int batch_reserve(struct batch *b);

size_t batch_count(const struct batch *b);
/* The i-th item (i < batch_count()); owned by the batch. */
struct batch_item *batch_item(struct batch *b, size_t i);

struct batch_run_opts {
	unsigned jobs;	     /* connections open at once over all files;
			      * 0: files one after another in the calling
			      * thread, each with its split */
	unsigned threads;    /* most files at once (a thread each); 0: as
			      * many as the connections allow, at most 64 */
	const char *dir;     /* the run's folder (made by the caller) */
	int dirfd;	     /* and open */
	int split;	     /* connections a file, 0: chosen as it runs */
	int max_conns;	     /* with split 0, at most this many; 0: 16 */
	int max_per_host;    /* 0: no cap */
	long long max_speed; /* bytes/s over the run, 0: none */
	int resume;	     /* -c: NAME.part resumed; a file there kept */
	int no_clobber;	     /* a file there is skipped */
	int keep_parts;	     /* without resume, a NAME.part with its state
			      * fails its item (only -c touches it);
			      * 0: the download starts afresh */
	int timestamping;    /* -N */
	int disposition;     /* names from Content-Disposition */
	int retries;	     /* 0: the engine's */
	double backoff;	     /* 0: the engine's */
	double timeout;	     /* 0: the engine's */
	long long min_speed; /* 0: none */
	const struct reqopts *req;   /* for every request, or NULL */
	volatile sig_atomic_t *stop; /* set by a signal handler: stop */
	batch_item_cb *on_start;     /* optional */
	batch_item_cb *on_progress;  /* optional */
	batch_item_cb *on_done;	     /* optional */
	accel_warn_cb *warn;	     /* optional; arg below */
	void *arg;
};

/*
 * Downloads every pending item, filling in its state and result. Once
 * *stop is set no further item starts, and the running ones stop keeping
 * their NAME.part for -c. Returns 0, or -errno when the run could not be
 * set up (no thread, no memory).
 */
int batch_run(struct batch *b, const struct batch_run_opts *o);

/* Counts the items by state. */
void batch_tally(struct batch *b, struct batch_counts *c);

struct jsonout;
/*
 * The --json events of a run (the programs' man pages document their
 * fields), each written whole by any thread. batch_json_progress() is
 * for on_progress: a "start" event once the size is known, then
 * "progress" at most once a second. batch_json_done() is for on_done:
 * "done", "skipped" or "failed". batch_json_summary() ends the run.
 */
void batch_json_progress(struct jsonout *j, struct batch_item *it);
void batch_json_done(struct jsonout *j, struct batch_item *it);
void batch_json_summary(struct jsonout *j, struct batch *b, long nbad,
			double seconds, int interrupted);

#endif
