/* SPDX-License-Identifier: ISC */
/* test_fetch.c -- fetch failures that need no server: unsafe names, refused
 * connections with retries, cancelling a wait, and nothing left behind; the
 * same through fetch_multi, whose retries wait side by side. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "fetch.h"
#include "mtime.h"
#include "watchdog.h"

static char dir[64];
static int dirfd_;

/* Entries in the test folder besides . and .. */
static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* A loopback URL nothing listens on: bind port 0, note it, close. */
static void
refused_url(char *url, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(s >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &len), 0);
	snprintf(url, size, "http://127.0.0.1:%d/file", ntohs(sa.sin_port));
	close(s);
}

static void
test_probe_and_unsafe_names(void **state)
{
	struct fetcher *f = fetch_new(NULL, NULL);
	struct fetch_result r;
	const char *bad[] = {"", ".", "..", "a/b", "../x", "/etc/x"};

	(void)state;
	assert_non_null(f);
	assert_int_equal(fetch_probe_dir(dirfd_), 0);
	assert_int_equal(entries(), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			fetch_url(f, "http://127.0.0.1:1/", dirfd_, bad[i], &r),
			-EINVAL);
		assert_string_equal(r.error, "unsafe file name");
	}
	assert_int_equal(entries(), 0);
	fetch_free(f);
	fetch_free(NULL);
	fetch_share_free(NULL);
}

static void
test_refused_is_retried_then_fails(void **state)
{
	struct fetch_opts o;
	struct fetch_share *sh = fetch_share_new();
	struct fetcher *f;
	struct fetch_result r;
	char url[64];
	double t;

	(void)state;
	assert_non_null(sh);
	memset(&o, 0, sizeof(o));
	o.retries = 2;
	o.backoff = 0.1;
	f = fetch_new(&o, sh);
	assert_non_null(f);
	refused_url(url, sizeof(url));
	t = mtime_now();
	assert_int_equal(fetch_url(f, url, dirfd_, "file", &r), -EIO);
	t = mtime_now() - t;
	assert_int_equal(r.attempts, 3);
	/* Waits of 0.1 then 0.2 s between the three attempts. */
	assert_true(t >= 0.29);
	assert_true(r.seconds >= 0.29);
	assert_non_null(strstr(r.error, "onnect"));
	assert_int_equal(r.status, 0);
	assert_int_equal(entries(), 0);
	/* No retries asked (a negative count): one attempt. */
	fetch_free(f);
	o.retries = -1;
	f = fetch_new(&o, sh);
	assert_int_equal(fetch_url(f, url, dirfd_, "file", &r), -EIO);
	assert_int_equal(r.attempts, 1);
	fetch_free(f);
	fetch_share_free(sh);
}

struct canceller {
	atomic_int flag;
};

static void *
cancel_soon(void *arg)
{
	struct canceller *c = arg;
	struct timespec ts = {0, 200000000};

	nanosleep(&ts, NULL);
	atomic_store(&c->flag, 1);
	return NULL;
}

static void
test_cancel_stops_the_wait(void **state)
{
	static struct canceller c;
	struct fetch_opts o;
	struct fetcher *f;
	struct fetch_result r;
	pthread_t t;
	char url[64];
	double t0;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.retries = 5;
	o.backoff = 20; /* would take minutes without cancel */
	o.cancel = &c.flag;
	f = fetch_new(&o, NULL);
	assert_non_null(f);
	refused_url(url, sizeof(url));
	assert_int_equal(pthread_create(&t, NULL, cancel_soon, &c), 0);
	t0 = mtime_now();
	assert_int_equal(fetch_url(f, url, dirfd_, "file", &r), -ECANCELED);
	assert_true(mtime_now() - t0 < 5);
	pthread_join(t, NULL);
	assert_string_equal(r.error, "interrupted");
	assert_int_equal(entries(), 0);
	/* Already cancelled: stops at once. */
	assert_int_equal(fetch_url(f, url, dirfd_, "file", &r), -ECANCELED);
	assert_int_equal(entries(), 0);
	fetch_free(f);
}

static void
test_protocols_limited(void **state)
{
	struct fetcher *f = fetch_new(NULL, NULL);
	struct fetch_result r;

	(void)state;
	/* A list must not make us read local files. */
	assert_int_equal(
		fetch_url(f, "file:///etc/passwd", dirfd_, "passwd", &r), -EIO);
	assert_int_equal(r.attempts, 1);
	assert_int_equal(entries(), 0);
	fetch_free(f);
}

/* What a fetch_multi reported: the cookies in order, and the outcomes. */
struct ended {
	int n;
	void *cookie[8];
	int rc[8];
};

static void
on_done(void *cookie, int rc, void *arg)
{
	struct ended *e = arg;

	assert_true(e->n < 8);
	e->cookie[e->n] = cookie;
	e->rc[e->n++] = rc;
}

/* Runs fm until nothing is in progress; returns the seconds it took. */
static double
drain(struct fetch_multi *fm, struct ended *e)
{
	double t0 = mtime_now();
	int guard = 0;

	while (fetch_multi_busy(fm) > 0) {
		assert_true(fetch_multi_run(fm, -1, on_done, e) >= 0);
		assert_true(++guard < 100000);
	}
	return mtime_now() - t0;
}

static void
test_multi_retries_run_side_by_side(void **state)
{
	struct fetch_opts o;
	struct fetch_multi *fm;
	struct fetch_result r[4];
	struct ended e = {0};
	char url[3][64];
	const char *names[3] = {"a", "b", "c"};
	double t;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.retries = 2;
	o.backoff = 0.2; /* waits 0.2 then 0.4 s: 0.6 s a fetch */
	fm = fetch_multi_new(&o, NULL, 3);
	assert_non_null(fm);
	assert_int_equal(fetch_multi_idle(fm), 3);
	for (int i = 0; i < 3; i++) {
		refused_url(url[i], sizeof(url[i]));
		assert_int_equal(fetch_multi_add(fm, url[i], dirfd_, names[i],
						 &r[i], &r[i]),
				 0);
	}
	assert_int_equal(fetch_multi_idle(fm), 0);
	assert_int_equal(fetch_multi_busy(fm), 3);
	assert_int_equal(fetch_multi_add(fm, url[0], dirfd_, "d", &r[3], &r[3]),
			 -EBUSY);
	t = drain(fm, &e);
	/* The three waits overlap: one thread, not one fetch after another
	 * (which would take 1.8 s). */
	assert_true(t >= 0.55);
	assert_true(t < 1.5);
	assert_int_equal(e.n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(e.rc[i], -EIO);
		assert_int_equal(((struct fetch_result *)e.cookie[i])->attempts,
				 3);
	}
	assert_int_equal(fetch_multi_idle(fm), 3);
	assert_int_equal(entries(), 0);
	fetch_multi_free(fm);
}

static void
test_multi_bad_name_and_cancel(void **state)
{
	static struct canceller c;
	struct fetch_opts o;
	struct fetch_multi *fm;
	struct fetch_result r[2];
	struct ended e = {0};
	pthread_t t;
	char url[64];
	double secs;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.retries = 5;
	o.backoff = 20; /* minutes without cancel */
	o.cancel = &c.flag;
	fm = fetch_multi_new(&o, NULL, 2);
	assert_non_null(fm);
	refused_url(url, sizeof(url));
	/* Refused at once, no slot taken, done() not called. */
	assert_int_equal(fetch_multi_add(fm, url, dirfd_, "..", &r[0], NULL),
			 -EINVAL);
	assert_string_equal(r[0].error, "unsafe file name");
	assert_int_equal(fetch_multi_idle(fm), 2);
	assert_int_equal(fetch_multi_add(fm, url, dirfd_, "x", &r[0], &r[0]),
			 0);
	assert_int_equal(fetch_multi_add(fm, url, dirfd_, "y", &r[1], &r[1]),
			 0);
	assert_int_equal(pthread_create(&t, NULL, cancel_soon, &c), 0);
	secs = drain(fm, &e);
	pthread_join(t, NULL);
	assert_true(secs < 5);
	assert_int_equal(e.n, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e.rc[i], -ECANCELED);
		assert_string_equal(r[i].error, "interrupted");
	}
	assert_int_equal(entries(), 0);
	assert_null(fetch_multi_new(&o, NULL, 0));
	fetch_multi_free(fm);
	fetch_multi_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_probe_and_unsafe_names,
				       watchdog_setup),
		cmocka_unit_test_setup(test_refused_is_retried_then_fails,
				       watchdog_setup),
		cmocka_unit_test_setup(test_cancel_stops_the_wait,
				       watchdog_setup),
		cmocka_unit_test_setup(test_protocols_limited, watchdog_setup),
		cmocka_unit_test_setup(test_multi_retries_run_side_by_side,
				       watchdog_setup),
		cmocka_unit_test_setup(test_multi_bad_name_and_cancel,
				       watchdog_setup),
	};
	char cmd[128];
	int rc;

	snprintf(dir, sizeof(dir), "%s/nt-fetch.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL ||
	    (dirfd_ = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
		return 1;
	fetch_global_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	fetch_global_cleanup();
	close(dirfd_);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
