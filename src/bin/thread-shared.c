/* SPDX-License-Identifier: ISC */
/* thread-shared.c -- why locks exist: N threads bump a bare shared counter,
 * a mutex-protected one and a C11 atomic one, then compare the totals. */
#include <err.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "counter.h"
#include "mtime.h"

#define MAX_THREADS 10000L
#define MAX_ITERS   1000000000LL

/*
 * The race is real but defined: each "unprotected" increment is a relaxed
 * atomic load followed by a separate relaxed atomic store, so two threads
 * that load the same value both store value + 1 and one update is lost,
 * exactly as with a plain `i += 1` in Python or C, yet without the undefined
 * behaviour of a C data race (and ThreadSanitizer stays quiet).
 */
static _Atomic long long unprotected;
static _Atomic long long atomic_count;
static struct counter *protected;
static long long iterations;
static pthread_barrier_t phase_end;
static long parties; /* workers + the main thread */
static _Atomic long arrived[3];

/*
 * Phases start on a spinning gate rather than a barrier: a barrier wakes
 * its sleepers one by one, and a thread woken first can finish a million
 * additions before the next is running, hiding the race. Spinning threads
 * are already on a CPU when the gate opens, so they really overlap.
 */
static void
gate(int phase)
{
	atomic_fetch_add(&arrived[phase], 1);
	while (atomic_load(&arrived[phase]) < parties)
		sched_yield();
}

struct worker {
	pthread_t thread;
	long number;
	long long first_protected; /* what the first counter_add returned */
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: thread-shared [-n N] [-i ITERATIONS]\n"
		"N threads (default 10) each add 1 to three shared counters\n"
		"ITERATIONS times (default 1000000): one unprotected, one "
		"behind\n"
		"a mutex, one a C11 atomic; then the totals are compared.\n"
		"\n"
		"  -n, --threads N           number of threads (1 to %ld)\n"
		"  -i, --iterations COUNT    additions per thread and counter\n"
		"  -h, --help                this help\n"
		"      --version             print the version\n",
		MAX_THREADS);
}

/* Each phase starts and ends on barriers so the main thread can time it. */
static void *
work(void *arg)
{
	struct worker *w = arg;
	long long i;

	gate(0);
	for (i = 0; i < iterations; i++) {
		long long v = atomic_load_explicit(&unprotected,
						   memory_order_relaxed);
		atomic_store_explicit(&unprotected, v + 1,
				      memory_order_relaxed);
	}
	pthread_barrier_wait(&phase_end);

	gate(1);
	w->first_protected = counter_add(protected, 1);
	for (i = 1; i < iterations; i++)
		counter_add(protected, 1);
	pthread_barrier_wait(&phase_end);

	gate(2);
	for (i = 0; i < iterations; i++)
		atomic_fetch_add_explicit(&atomic_count, 1,
					  memory_order_relaxed);
	pthread_barrier_wait(&phase_end);

	printf("thread %ld: first protected add returned %lld\n", w->number,
	       w->first_protected);
	return NULL;
}

static double
timed_phase(int phase)
{
	double t0;

	gate(phase);
	t0 = mtime_now();
	pthread_barrier_wait(&phase_end);
	return mtime_now() - t0;
}

/* What the command line asks for. */
struct ts_opts {
	long long threads;
	long long iterations; /* additions per thread and counter */
};

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct ts_opts *o)
{
	static const struct option opts[] = {
		{"threads", required_argument, NULL, 'n'},
		{"iterations", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->threads = 10;
	o->iterations = 1000000;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:i:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->threads = cli_long_arg(optarg, 1, MAX_THREADS,
						  "thread count (1 to 10000)");
			break;
		case 'i':
			o->iterations = cli_long_arg(
				optarg, 1, MAX_ITERS,
				"iteration count (1 to 1000000000)");
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "n:i:h");
		}
	}
	cli_no_operands(argc, argv, usage);
	if (o->threads * o->iterations > MAX_ITERS * 10)
		errx(2,
		     "%lld threads x %lld iterations: too much work "
		     "(at most %lld additions in all)",
		     o->threads, o->iterations, MAX_ITERS * 10);
}

/* Runs the three phases on n threads and prints the counts. */
static int
run(const struct ts_opts *o)
{
	struct worker *ws;
	long long n = o->threads, expected, u;
	double tu, tp, ta;
	long i, started;
	int rc;

	/* The workers read it, as they read the counters. */
	iterations = o->iterations;
	if ((protected = counter_new()) == NULL)
		err(1, "counter_new");
	if ((ws = calloc((size_t)n, sizeof(*ws))) == NULL)
		err(1, "calloc");
	/* The main thread takes part in every gate and barrier, to time the
	 * phases. */
	parties = (long)n + 1;
	pthread_barrier_init(&phase_end, NULL, (unsigned)n + 1);
	for (started = 0; started < n; started++) {
		ws[started].number = started + 1;
		rc = pthread_create(&ws[started].thread, NULL, work,
				    &ws[started]);
		if (rc != 0) {
			/* The barriers count n + 1 parties; with fewer
			 * threads they would never open. */
			errx(1,
			     "started %ld of %lld threads: %s; the "
			     "demonstration needs all of them",
			     started, n, strerror(rc));
		}
	}
	tu = timed_phase(0);
	tp = timed_phase(1);
	ta = timed_phase(2);
	for (i = 0; i < started; i++)
		pthread_join(ws[i].thread, NULL);

	expected = n * iterations;
	u = atomic_load(&unprotected);
	printf("expected    %10lld\n", expected);
	printf("unprotected %10lld   %.3f s   (%lld lost)\n", u, tu,
	       expected - u);
	printf("protected   %10lld   %.3f s\n", counter_get(protected), tp);
	printf("atomic      %10lld   %.3f s\n",
	       (long long)atomic_load(&atomic_count), ta);

	pthread_barrier_destroy(&phase_end);
	counter_free(protected);
	free(ws);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(1, "stdout");
	return 0;
}

int
main(int argc, char **argv)
{
	struct ts_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
