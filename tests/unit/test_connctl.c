/* SPDX-License-Identifier: ISC */
/* test_connctl.c -- the connection-count controller against synthetic
 * rate traces: parallel pays, a shared link, both, a throttle change, a
 * server's ceiling, and noise that must not make it thrash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "connctl.h"
#include "watchdog.h"

#define MiB  (1024.0 * 1024.0)
#define STEP 0.05 /* seconds between updates, as the engine's loop */

/* The aggregate rate n connections get at time t. */
typedef double rate_fn(int n, double t);

struct trace {
	int final;    /* the target at the end */
	int changes;  /* how often it changed */
	double mean;  /* the target's mean over the run */
	double bytes; /* what was received */
	int at[120];  /* the target at each whole second */
	double first; /* when the target first changed */
};

/* The options run() gives the controller; NULL: the defaults. */
static const struct connctl_opts *run_opts;
/* The share of the time the caller's thread is busy; with more than
 * busy_over connections (0: none), all of it. And its busy clock. */
static double busy_share, busy_now;
static int busy_over;

static double
busy_clock(void *arg)
{
	(void)arg;
	return busy_now;
}

/* Runs the controller for secs seconds against rate(n, t); with noise, a
 * window's rate swings by up to +-noise (a fixed pseudo-random walk). */
static void
run(rate_fn *rate, double secs, double noise, struct trace *tr)
{
	struct connctl *c = connctl_new(run_opts, 0);
	unsigned long long x = 88172645463325252ULL;
	double sum = 0;
	int last, n = 0;

	assert_non_null(c);
	tr->bytes = 0;
	tr->changes = 0;
	tr->first = -1;
	busy_now = 0;
	last = connctl_target(c);
	for (double t = 0; t < secs; t += STEP, n++) {
		int k = connctl_target(c);
		double r = rate(k, t);

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		r *= 1 + noise * ((double)(x % 2001) / 1000.0 - 1);
		tr->bytes += r * STEP;
		busy_now += STEP *
			    (busy_over > 0 && k > busy_over ? 1 : busy_share);
		k = connctl_update(c, t + STEP, (int64_t)tr->bytes);
		if (k != last && tr->changes++ == 0)
			tr->first = t + STEP;
		last = k;
		sum += k;
		if ((int)(t + STEP) < 120 && (int)(t + STEP) != (int)t)
			tr->at[(int)(t + STEP)] = k;
	}
	tr->final = connctl_target(c);
	tr->mean = sum / n;
	connctl_free(c);
}

static double
per_conn(int n, double t)
{
	(void)t;
	return 2 * MiB * n;
}

static double
link_only(int n, double t)
{
	(void)t;
	return n > 0 ? 20 * MiB : 0;
}

static double
both(int n, double t)
{
	(void)t;
	return n * 2 * MiB < 10 * MiB ? n * 2 * MiB : 10 * MiB;
}

/* 4 MiB/s a connection, with a link of 16, until 10 s; then the server
 * throttles each connection to 1 MiB/s. */
static double
throttled(int n, double t)
{
	double per = t < 10 ? 4 * MiB : 1 * MiB;

	return n * per < 16 * MiB ? n * per : 16 * MiB;
}

/* Per-connection caps, but the rate swings by half from one update to
 * the next: no two halves of a window agree. */
static double
choppy(int n, double t)
{
	long slot = (long)(t / STEP + 1e-9);

	return per_conn(n, t) * (slot % 2 ? 1.5 : 0.5);
}

/* A CPU-bound download: four connections measure a fifth below eight,
 * as a short first window can make them. */
static double
cpu_noisy(int n, double t)
{
	(void)t;
	return n >= 8 ? 100 * MiB : 80 * MiB;
}

static void
test_parallel_pays(void **state)
{
	struct trace tr;

	(void)state;
	run(per_conn, 30, 0, &tr);
	assert_int_equal(tr.final, 16);
	/* 8, then 16 after one settle and one window. */
	assert_int_equal(tr.at[1], 16);
	assert_true(tr.first <= 0.25);
	assert_true(tr.changes <= 1);
}

static void
test_unsteady_windows_wait(void **state)
{
	struct trace tr;

	(void)state;
	/* Halves that disagree are measured on, up to four windows. */
	run(choppy, 10, 0, &tr);
	assert_true(tr.first >= 0.5);
	assert_true(tr.first <= 0.75);
	assert_int_equal(tr.final, 16);
}

static void
test_cpu_bound_holds(void **state)
{
	struct trace tr;

	(void)state;
	/* The caller's thread is busy all the time: more connections would
	 * only cost CPU. Half is tried once; where it loses rate, the count
	 * goes back to where it started and stays. */
	run_opts = &(struct connctl_opts){.busy = busy_clock};
	busy_share = 1;
	run(per_conn, 10, 0, &tr);
	assert_int_equal(tr.final, 8);
	assert_true(tr.changes <= 2);
	/* Where the thread, not the count, sets the rate, half keeps it. */
	run(link_only, 10, 0, &tr);
	assert_int_equal(tr.final, 4);
	assert_true(tr.changes <= 1);
	/* And a fifth less at half, still busy throughout, is taken for
	 * the first window's noise: half stays. */
	run(cpu_noisy, 10, 0, &tr);
	assert_int_equal(tr.final, 4);
	assert_true(tr.changes <= 1);
	/* Busy only half the time: it grows as before. */
	busy_share = 0.5;
	run(per_conn, 10, 0, &tr);
	assert_int_equal(tr.final, 16);
	/* Not busy at the start count, so it grows; busy throughout at the
	 * count it grew to, which brought nothing: half the start count. */
	busy_over = 8;
	run(cpu_noisy, 10, 0, &tr);
	assert_int_equal(tr.at[1], 4);
	assert_int_equal(tr.final, 4);
	/* (Eight, sixteen, four, and one probe and back.) */
	assert_true(tr.changes <= 4);
	busy_over = 0;
	run_opts = NULL;
}

static void
test_shared_link(void **state)
{
	struct trace tr;

	(void)state;
	run(link_only, 60, 0, &tr);
	/* Started at 8, it sheds to one within two seconds. */
	assert_int_equal(tr.at[2], 1);
	assert_true(tr.final <= 2);
	assert_true(tr.mean <= 1.5);
	/* Probes back off: at most a handful in a minute. */
	assert_true(tr.changes <= 12);
	assert_true(tr.bytes >= 0.99 * 20 * MiB * 60);
}

static void
test_both_caps(void **state)
{
	struct trace tr;

	(void)state;
	run(both, 30, 0, &tr);
	assert_true(tr.final >= 4 && tr.final <= 6);
	assert_true(tr.bytes >= 0.85 * 10 * MiB * 30);
}

static void
test_throttle_change(void **state)
{
	struct trace tr;

	(void)state;
	run(throttled, 30, 0, &tr);
	/* Before: 4 connections fill the link. */
	assert_true(tr.at[8] >= 4 && tr.at[8] <= 6);
	/* After: it finds that more connections pay again. */
	assert_true(tr.at[20] >= 12);
	assert_true(tr.final >= 12);
}

static void
test_noise_does_not_thrash(void **state)
{
	struct trace tr;

	(void)state;
	run(link_only, 120, 0.1, &tr);
	assert_true(tr.mean <= 3.0);
	assert_true(tr.changes <= 16);
	run(per_conn, 60, 0.1, &tr);
	assert_int_equal(tr.final, 16);
}

static void
test_ceiling(void **state)
{
	struct connctl *c = connctl_new(NULL, 0);
	double bytes = 0;
	int refused = 0;

	(void)state;
	assert_non_null(c);
	for (double t = 0; t < 30; t += STEP) {
		int k = connctl_target(c);

		/* Four connections per client; a fifth is answered 503,
		 * after which the target never passes four again. */
		if (k > 4) {
			assert_false(refused);
			assert_int_equal(connctl_refused(c, t, 4), 4);
			refused = 1;
		}
		k = connctl_target(c);
		bytes += 2 * MiB * (k < 4 ? k : 4) * STEP;
		k = connctl_update(c, t + STEP, (int64_t)bytes);
		assert_true(!refused || k <= 4);
	}
	assert_true(refused);
	assert_int_equal(connctl_target(c), 4);
	assert_int_equal(connctl_reason(c), CONNCTL_CEILING);
	assert_true(connctl_max_used(c) > 4);
	connctl_free(c);
}

static void
test_ceiling_doubt(void **state)
{
	struct connctl *c = connctl_new(NULL, 0);

	(void)state;
	assert_non_null(c);
	/* The first burst of refusals: each one lowers the ceiling. */
	assert_int_equal(connctl_refused(c, 0.1, 6), 6);
	assert_int_equal(connctl_refused(c, 0.11, 4), 4);
	/* Much later, one refusal with three working: the server may still
	 * count a connection just closed. Three for a moment, then four. */
	assert_int_equal(connctl_refused(c, 5, 3), 3);
	assert_int_equal(connctl_update(c, 5.05, 0), 3);
	/* Too soon after it for the server to have seen a close. */
	assert_int_equal(connctl_refused(c, 5.01, 3), 3);
	assert_int_equal(connctl_update(c, 5.11, 0), 4);
	/* A second one later on confirms it, for good. */
	assert_int_equal(connctl_refused(c, 5.3, 3), 3);
	assert_int_equal(connctl_reason(c), CONNCTL_CEILING);
	assert_int_equal(connctl_update(c, 6, 0), 3);
	/* Doubts far apart are each a first. */
	assert_int_equal(connctl_refused(c, 10, 2), 2);
	assert_int_equal(connctl_update(c, 10.2, 0), 3);
	assert_int_equal(connctl_refused(c, 20, 2), 2);
	assert_int_equal(connctl_update(c, 20.2, 0), 3);
	assert_int_equal(connctl_refused(c, 20.5, 2), 2);
	assert_int_equal(connctl_update(c, 21, 0), 2);
	connctl_free(c);
}

static void
test_short_path_decides_sooner(void **state)
{
	struct connctl_opts o = {.rtt = 0.001};
	struct trace tr;

	(void)state;
	/* A millisecond path: a first window of 0.03 s after 0.01 s, so the
	 * first step comes three updates in, not five. */
	run_opts = &o;
	run(per_conn, 10, 0, &tr);
	assert_int_equal(tr.final, 16);
	assert_true(tr.first <= 0.151);
	assert_true(tr.changes <= 1);
	/* And a shared link is still shed to one or two. */
	run(link_only, 30, 0, &tr);
	assert_true(tr.final <= 2);
	assert_true(tr.mean <= 1.5);
	assert_true(tr.bytes >= 0.99 * 20 * MiB * 30);
	/* A long path keeps the defaults' windows: no sooner than them. */
	o.rtt = 0.2;
	run(per_conn, 10, 0, &tr);
	assert_true(tr.first >= 0.199);
	run_opts = NULL;
}

static void
test_options(void **state)
{
	struct connctl_opts o = {.start = 4, .max = 2};
	struct connctl *c;

	(void)state;
	assert_null(connctl_new(&o, 0));
	o.max = 4;
	c = connctl_new(&o, 0);
	assert_non_null(c);
	assert_int_equal(connctl_target(c), 4);
	assert_string_equal(connctl_reason_str(connctl_reason(c)), "start");
	connctl_free(c);
	connctl_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parallel_pays),
		cmocka_unit_test(test_unsteady_windows_wait),
		cmocka_unit_test(test_cpu_bound_holds),
		cmocka_unit_test(test_shared_link),
		cmocka_unit_test(test_both_caps),
		cmocka_unit_test(test_throttle_change),
		cmocka_unit_test(test_noise_does_not_thrash),
		cmocka_unit_test(test_ceiling),
		cmocka_unit_test(test_ceiling_doubt),
		cmocka_unit_test(test_short_path_decides_sooner),
		cmocka_unit_test(test_options),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
