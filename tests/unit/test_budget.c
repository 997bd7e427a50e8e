/* SPDX-License-Identifier: ISC */
/* test_budget.c -- host keys, the caps in all and per host, a refusal
 * lowering a host's cap, demand and room, the shared rate, and threads
 * taking and giving back at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "budget.h"
#include "mtime.h"
#include "watchdog.h"

static void
test_host_keys(void **state)
{
	char k[BUDGET_HOST_MAX];

	(void)state;
	assert_int_equal(budget_host("http://a.example/x", k, sizeof(k)), 0);
	assert_string_equal(k, "http://a.example:80");
	assert_int_equal(budget_host("HTTPS://U:P@A.Example/x", k, sizeof(k)),
			 0);
	assert_string_equal(k, "https://a.example:443");
	assert_int_equal(budget_host("http://u@h:8080?q", k, sizeof(k)), 0);
	assert_string_equal(k, "http://h:8080");
	assert_int_equal(budget_host("http://[::1]:81/a@b", k, sizeof(k)), 0);
	assert_string_equal(k, "http://[::1]:81");
	assert_int_equal(budget_host("http://[::1/x", k, sizeof(k)), -EINVAL);
	assert_int_equal(budget_host("http:///x", k, sizeof(k)), -EINVAL);
	assert_int_equal(budget_host("no scheme", k, sizeof(k)), -EINVAL);
	assert_int_equal(budget_host("http://a.example/", k, 8), -EINVAL);
}

static void
test_caps(void **state)
{
	struct budget_opts o = {.total = 3, .per_host = 2};
	struct budget *b = budget_new(&o);

	(void)state;
	assert_non_null(b);
	assert_int_equal(budget_take(b, "h1"), 0);
	assert_int_equal(budget_take(b, "h1"), 0);
	assert_int_equal(budget_take(b, "h1"), -EAGAIN); /* per host */
	assert_int_equal(budget_take(b, "h2"), 0);
	assert_int_equal(budget_take(b, "h3"), -EAGAIN); /* in all */
	budget_put(b, "h1");
	assert_int_equal(budget_take(b, "h3"), 0);
	budget_free(b);
	budget_free(NULL);
}

static void
test_refused_lowers_host_cap(void **state)
{
	struct budget_opts o = {0};
	struct budget *b = budget_new(&o);

	(void)state;
	/* Nothing open: the refusal is the server's fault, no cap. */
	assert_int_equal(budget_refused(b, "h"), -1);
	assert_int_equal(budget_host_cap(b, "h"), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(budget_take(b, "h"), 0);
	/* A fifth was refused while four stood: four it is. */
	assert_int_equal(budget_refused(b, "h"), 4);
	assert_int_equal(budget_take(b, "h"), -EAGAIN);
	budget_put(b, "h");
	budget_put(b, "h");
	/* Refused again with two open: lower, never higher again. */
	assert_int_equal(budget_refused(b, "h"), 2);
	budget_put(b, "h");
	assert_int_equal(budget_refused(b, "h"), 1);
	assert_int_equal(budget_host_cap(b, "h"), 1);
	assert_int_equal(budget_take(b, "h"), -EAGAIN);
	assert_int_equal(budget_take(b, "other"), 0);
	budget_free(b);
}

static void
test_room_and_demand(void **state)
{
	struct budget_opts o = {.total = 4};
	struct budget *b = budget_new(&o);
	double t0;

	(void)state;
	assert_int_equal(budget_wait_room(b, NULL, 0, 0), 1);
	assert_int_equal(budget_take(b, "h"), 0);
	budget_want(b, 3); /* the running file wants three more */
	t0 = mtime_now();
	assert_int_equal(budget_wait_room(b, NULL, 0, 0.05), 0);
	assert_true(mtime_now() - t0 >= 0.04);
	budget_want(b, -1); /* it wants two more: one is free for others */
	assert_int_equal(budget_wait_room(b, NULL, 0, 0), 1);
	budget_want(b, -2);
	budget_put(b, "h");
	/* No total: always room. */
	o.total = 0;
	budget_free(b);
	b = budget_new(&o);
	budget_want(b, 100);
	assert_int_equal(budget_wait_room(b, NULL, 0, 0), 1);
	budget_free(b);
}

struct waiter {
	struct budget *b;
	int room;
	const char *const *hosts;
	int nhosts;
};

static void *
wait_thread(void *arg)
{
	struct waiter *w = arg;

	w->room = budget_wait_room(w->b, w->hosts, w->nhosts, 5);
	return NULL;
}

/* A put wakes a waiter long before its timeout. */
static void
test_put_wakes_waiter(void **state)
{
	struct budget_opts o = {.total = 1};
	struct waiter w = {budget_new(&o), -1, NULL, 0};
	pthread_t t;
	double t0;

	(void)state;
	assert_int_equal(budget_take(w.b, "h"), 0);
	t0 = mtime_now();
	assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
	usleep(50000);
	budget_put(w.b, "h");
	pthread_join(t, NULL);
	assert_int_equal(w.room, 1);
	assert_true(mtime_now() - t0 < 2);
	budget_free(w.b);
}

/* Room for a file is room to one of its hosts: with its host at the cap,
 * the run's total having room is not enough, and the waiter for that host
 * wakes when a connection to it comes back, not when another does. */
static void
test_room_for_hosts(void **state)
{
	struct budget_opts o = {.total = 4, .per_host = 1};
	const char *a[] = {"a"}, *ab[] = {"a", "b"};
	struct waiter w = {budget_new(&o), -1, a, 1};
	pthread_t t;
	double t0;

	(void)state;
	assert_int_equal(budget_take(w.b, "a"), 0);
	assert_int_equal(budget_take(w.b, "c"), 0);
	assert_int_equal(budget_wait_room(w.b, NULL, 0, 0), 1);
	t0 = mtime_now();
	assert_int_equal(budget_wait_room(w.b, a, 1, 0.05), 0);
	assert_true(mtime_now() - t0 >= 0.04);
	/* A mirror on another host has room. */
	assert_int_equal(budget_wait_room(w.b, ab, 2, 0), 1);
	assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
	usleep(50000);
	budget_put(w.b, "c"); /* wakes it; it goes on waiting for "a" */
	usleep(50000);
	assert_int_equal(w.room, -1);
	t0 = mtime_now();
	budget_put(w.b, "a");
	pthread_join(t, NULL);
	assert_int_equal(w.room, 1);
	assert_true(mtime_now() - t0 < 2);
	budget_free(w.b);
}

static void
test_rate(void **state)
{
	struct budget_opts o = {.max_speed = 100000};
	struct budget *b = budget_new(&o);
	double wake = 0, now = mtime_now();

	(void)state;
	assert_true(budget_rate_capped(b));
	/* The bucket fills at the rate: 10,000 bytes in 0.1 s. */
	assert_int_equal(budget_may_receive(b, now + 0.1, &wake), 1);
	budget_spend(b, 20000);
	assert_int_equal(budget_may_receive(b, now + 0.1, &wake), 0);
	/* 10,000 below zero at 100,000 bytes/s: 0.1 s later. */
	assert_true(wake > now + 0.19 && wake < now + 0.21);
	assert_int_equal(budget_may_receive(b, now + 0.21, &wake), 1);
	/* Idle for long: no more than the burst (16 KiB) saved up. */
	assert_int_equal(budget_may_receive(b, now + 100, &wake), 1);
	budget_spend(b, 16384);
	assert_int_equal(budget_may_receive(b, now + 100, &wake), 0);
	budget_free(b);
	o.max_speed = 0;
	b = budget_new(&o);
	assert_false(budget_rate_capped(b));
	budget_spend(b, 1LL << 40);
	assert_int_equal(budget_may_receive(b, now, &wake), 1);
	budget_free(b);
}

struct taker {
	struct budget *b;
	const char *host;
	int over; /* times more than the cap were held */
};

static int held[2];

static void *
take_thread(void *arg)
{
	struct taker *t = arg;
	int i = t->host[1] - '0';

	for (int n = 0; n < 20000; n++) {
		if (budget_take(t->b, t->host) < 0)
			continue;
		if (__atomic_add_fetch(&held[i], 1, __ATOMIC_SEQ_CST) > 2)
			t->over++;
		__atomic_sub_fetch(&held[i], 1, __ATOMIC_SEQ_CST);
		budget_put(t->b, t->host);
	}
	return NULL;
}

/* Four threads on two hosts, each host capped at 2: never more held. */
static void
test_threads(void **state)
{
	struct budget_opts o = {.total = 3, .per_host = 2};
	struct budget *b = budget_new(&o);
	struct taker tk[4] = {
		{b, "h0", 0}, {b, "h0", 0}, {b, "h1", 0}, {b, "h1", 0}};
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, take_thread, &tk[i]), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(tk[i].over, 0);
	/* Everything given back: the whole total is free. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(budget_take(b, i < 2 ? "h0" : "h1"), 0);
	assert_int_equal(budget_take(b, "h2"), -EAGAIN);
	budget_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_keys),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_refused_lowers_host_cap),
		cmocka_unit_test(test_room_and_demand),
		cmocka_unit_test(test_put_wakes_waiter),
		cmocka_unit_test(test_room_for_hosts),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
