/* SPDX-License-Identifier: ISC */
/* test_tpool.c -- the worker pool: every item once, the queue bound, the
 * thread cap, per-worker contexts, and finishing. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tpool.h"
#include "watchdog.h"

#define ITEMS 20000

struct ctx {
	atomic_int inits, finis;
	atomic_int running, peak;
	atomic_int seen[ITEMS];
	atomic_int gate; /* workers spin while zero (blocking test) */
};

struct wctx {
	struct ctx *c;
	unsigned index;
	long ran;
};

static void *
w_init(unsigned index, void *arg)
{
	struct ctx *c = arg;
	struct wctx *w = calloc(1, sizeof(*w));

	atomic_fetch_add(&c->inits, 1);
	if (w != NULL) {
		w->c = c;
		w->index = index;
	}
	return w;
}

static void
w_fini(void *wctx, void *arg)
{
	struct ctx *c = arg;

	atomic_fetch_add(&c->finis, 1);
	free(wctx);
}

static void
task_mark(void *wctx, void *item)
{
	struct wctx *w = wctx;
	int r = atomic_fetch_add(&w->c->running, 1) + 1, p;

	p = atomic_load(&w->c->peak);
	while (r > p && !atomic_compare_exchange_weak(&w->c->peak, &p, r))
		;
	atomic_fetch_add(&w->c->seen[(intptr_t)item], 1);
	w->ran++;
	atomic_fetch_sub(&w->c->running, 1);
}

static void
test_every_item_once(void **state)
{
	static struct ctx c;
	struct tpool_opts conf = {
		.threads = 8,
		.queue = 16,
		.task = task_mark,
		.init = w_init,
		.fini = w_fini,
		.arg = &c,
	};
	struct tpool *p;

	(void)state;
	p = tpool_new(&conf);
	assert_non_null(p);
	assert_int_equal(tpool_threads(p), 8);
	for (intptr_t i = 0; i < ITEMS; i++)
		assert_int_equal(tpool_submit(p, (void *)i), 0);
	assert_int_equal(tpool_finish(p), 0);
	assert_int_equal(tpool_submit(p, (void *)0), -EPIPE);
	tpool_free(p);
	for (int i = 0; i < ITEMS; i++)
		assert_int_equal(atomic_load(&c.seen[i]), 1);
	assert_int_equal(atomic_load(&c.inits), 8);
	assert_int_equal(atomic_load(&c.finis), 8);
	assert_true(atomic_load(&c.peak) <= 8);
	assert_true(atomic_load(&c.peak) >= 1);
}

static void
task_gated(void *wctx, void *item)
{
	struct ctx *c = item;
	struct timespec ts = {0, 1000000};

	(void)wctx;
	atomic_fetch_add(&c->running, 1);
	for (int i = 0; i < 10000 && !atomic_load(&c->gate); i++)
		nanosleep(&ts, NULL);
}

struct feeder {
	struct tpool *p;
	struct ctx *c;
	atomic_int submitted;
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;

	for (int i = 0; i < 10; i++) {
		if (tpool_submit(f->p, f->c) < 0)
			break;
		atomic_fetch_add(&f->submitted, 1);
	}
	return NULL;
}

/* With 2 workers stuck and a queue of 3, a feeder gets 5 items in and then
 * waits; opening the gate lets everything through. */
static void
test_queue_bounded(void **state)
{
	static struct ctx c;
	static struct feeder f;
	struct tpool_opts conf = {.threads = 2, .queue = 3, .task = task_gated};
	struct timespec ts = {0, 20000000};
	pthread_t t;

	(void)state;
	f.c = &c;
	f.p = tpool_new(&conf);
	assert_non_null(f.p);
	assert_int_equal(pthread_create(&t, NULL, feed, &f), 0);
	/* Wait (bounded) until both workers hold an item and the queue is
	 * full, then give the feeder time to overrun if it could. */
	for (int i = 0; i < 250 && atomic_load(&f.submitted) < 5; i++)
		nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	nanosleep(&ts, NULL);
	assert_int_equal(atomic_load(&f.submitted), 5);
	atomic_store(&c.gate, 1);
	pthread_join(t, NULL);
	tpool_free(f.p);
	assert_int_equal(atomic_load(&f.submitted), 10);
	assert_int_equal(atomic_load(&c.running), 10);
}

static void
task_nop(void *wctx, void *item)
{
	(void)item;
	(void)wctx;
}

static void
test_limits(void **state)
{
	struct tpool_opts conf = {.task = task_nop};
	struct tpool *p;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	(void)state;
	/* All zero: one thread per processor, a queue slot per thread. */
	p = tpool_new(&conf);
	assert_non_null(p);
	assert_int_equal(tpool_threads(p),
			 cpus < TPOOL_MAX_THREADS ? cpus : TPOOL_MAX_THREADS);
	tpool_finish(p);
	tpool_free(p);
	errno = 0;
	conf.threads = TPOOL_MAX_THREADS + 1;
	assert_null(tpool_new(&conf));
	assert_int_equal(errno, EINVAL);
	conf.threads = 1;
	conf.queue = 1;
	conf.task = NULL;
	assert_null(tpool_new(&conf));
	assert_null(tpool_new(NULL));
	conf.task = task_nop;
	conf.threads = TPOOL_MAX_THREADS;
	conf.stack = 256 * 1024;
	p = tpool_new(&conf);
	assert_non_null(p);
	assert_int_equal(tpool_threads(p), TPOOL_MAX_THREADS);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(tpool_submit(p, NULL), 0);
	tpool_free(p);
	tpool_free(NULL);
	/* Freed without finishing first, and with nothing ever submitted. */
	conf.threads = 3;
	p = tpool_new(&conf);
	assert_non_null(p);
	tpool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_item_once),
		cmocka_unit_test(test_queue_bounded),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
