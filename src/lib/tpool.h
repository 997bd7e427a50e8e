/* SPDX-License-Identifier: ISC */
/* tpool.h -- a fixed set of worker threads fed from a bounded queue. */
#ifndef NT_TPOOL_H
#define NT_TPOOL_H

#include <stddef.h>

/* Most threads a pool may have: a pool is for doing work, not for giving
 * every item its own thread. */
#define TPOOL_MAX_THREADS 64

struct tpool;

/* Called once in each worker before its first task; its result is handed
 * to every task that worker runs and then to the fini callback. */
typedef void *tpool_init_cb(unsigned index, void *arg);
typedef void tpool_fini_cb(void *wctx, void *arg);
/* One task: wctx is the worker's context, arg what was submitted. */
typedef void tpool_task_cb(void *wctx, void *arg);

/* All zero but task means the defaults. */
struct tpool_opts {
	unsigned threads;    /* up to TPOOL_MAX_THREADS; 0: one per
			      * processor */
	size_t queue;	     /* queued items before submit blocks; 0: one
			      * per thread */
	tpool_task_cb *task; /* required */
	tpool_init_cb *init; /* optional */
	tpool_fini_cb *fini; /* optional */
	void *arg;	     /* for init and fini */
	size_t stack;	     /* worker stack size in bytes, 0 for default */
};

/*
 * Starts the workers. If the system refuses a thread part-way the pool
 * runs with those it got (tpool_threads() says how many); it fails only
 * when no thread started. Returns the pool, or NULL with errno set
 * (EINVAL for bad options, ENOMEM, or pthread_create's error).
 */
struct tpool *tpool_new(const struct tpool_opts *opts);

/* Number of worker threads actually running. */
unsigned tpool_threads(const struct tpool *p);

/*
 * Queues item for a worker, waiting while the queue is full. Returns 0, or
 * -EPIPE after tpool_finish() has been called.
 */
int tpool_submit(struct tpool *p, void *item);

/*
 * Lets the workers drain the queue, then joins them (each runs its fini).
 * Called by the thread that owns the pool, not concurrently with itself.
 * Submitting afterwards fails. Returns 0.
 */
int tpool_finish(struct tpool *p);

/* Finishes the pool if that was not done and frees it. NULL does nothing. */
void tpool_free(struct tpool *p);

#endif
