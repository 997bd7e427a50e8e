/* SPDX-License-Identifier: ISC */
/* test_counter.c -- the thread-safe counter, alone and under contention. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "counter.h"
#include "watchdog.h"

#define THREADS 4
#define ADDS	20000

static void
test_counter_basics(void **state)
{
	struct counter *c = counter_new();

	(void)state;
	assert_non_null(c);
	assert_int_equal(counter_get(c), 0);
	assert_int_equal(counter_add(c, 5), 5);
	assert_int_equal(counter_add(c, -2), 3);
	assert_int_equal(counter_get(c), 3);
	counter_free(c);
	counter_free(NULL);
}

struct adder {
	struct counter *c;
	long long last; /* recorded by the worker, checked after join */
};

static void *
add_many(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < ADDS; i++)
		a->last = counter_add(a->c, 1);
	return NULL;
}

static void
test_counter_contended(void **state)
{
	struct counter *c = counter_new();
	struct adder a[THREADS];
	pthread_t t[THREADS];

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		a[i].c = c;
		a[i].last = 0;
		assert_int_equal(pthread_create(&t[i], NULL, add_many, &a[i]),
				 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter_get(c), (long long)THREADS * ADDS);
	for (int i = 0; i < THREADS; i++) {
		assert_true(a[i].last >= ADDS);
		assert_true(a[i].last <= (long long)THREADS * ADDS);
	}
	counter_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_basics),
		cmocka_unit_test(test_counter_contended),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
