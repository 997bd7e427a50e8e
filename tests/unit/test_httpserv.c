/* SPDX-License-Identifier: ISC */
/* test_httpserv.c -- the file server in-process, spoken to over raw sockets. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "httpserv.h"
#include "httpserv_int.h"
#include "sock.h"
#include "watchdog.h"

static char root[64];

static void
write_file(const char *name, const char *data, size_t len)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Sends req and reads until the peer closes or n bytes came; returns
 * the bytes read (NUL-terminated in buf). */
static size_t
exchange(int fd, const char *req, char *buf, size_t len, size_t want)
{
	size_t have = 0;

	if (req != NULL)
		assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
				 (ssize_t)strlen(req));
	while (have + 1 < len && have < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 5000) <= 0)
			break;
		n = recv(fd, buf + have, len - 1 - have, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	buf[have] = '\0';
	return have;
}

static struct httpserv *
start(struct httpserv_opts *o)
{
	struct httpserv *s;

	o->root = root;
	s = httpserv_new(o);
	assert_non_null(s);
	assert_true(httpserv_port(s) > 0);
	assert_int_equal(httpserv_start(s), 0);
	assert_int_equal(httpserv_start(s), -EALREADY);
	return s;
}

static void
test_new_errors(void **state)
{
	struct httpserv_opts o = {.root = "/nonexistent/dir"};

	(void)state;
	errno = 0;
	assert_null(httpserv_new(&o));
	assert_int_equal(errno, ENOENT);
	o.root = "/etc/hostname";
	assert_null(httpserv_new(&o));
	assert_int_equal(errno, ENOTDIR);
	o.root = root;
	o.host = "no.such.host.invalid";
	assert_null(httpserv_new(&o));
	assert_int_equal(errno, EADDRNOTAVAIL);
	assert_null(httpserv_new(NULL));
	httpserv_free(NULL);
	httpserv_stop(NULL);
	/* Never started: free alone is enough. */
	o.host = NULL;
	httpserv_free(httpserv_new(&o));
}

static void
test_exact_response(void **state)
{
	struct httpserv_opts o = {0};
	struct httpserv *s = start(&o);
	char buf[4096];
	int fd = sock_connect("127.0.0.1", httpserv_port(s), 0);

	(void)state;
	assert_true(fd >= 0);
	exchange(fd,
		 "GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=2-4\r\n"
		 "Connection: close\r\n\r\n",
		 buf, sizeof(buf), sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 206 Partial Content\r\n"));
	assert_non_null(strstr(buf, "\r\nContent-Length: 3\r\n"));
	assert_non_null(strstr(buf, "\r\nContent-Range: bytes 2-4/12\r\n"));
	assert_non_null(strstr(buf, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(buf, "\r\nETag: \""));
	assert_non_null(strstr(buf, "\r\n\r\nllo"));
	assert_int_equal(strlen(strstr(buf, "\r\n\r\n")), 4 + 3);
	close(fd);
	httpserv_free(s);
}

struct logged {
	pthread_mutex_t lock;
	int n, status[16];
	unsigned long conn[16];
};

static void
log_cb(const struct httpserv_logent *e, void *arg)
{
	struct logged *l = arg;

	pthread_mutex_lock(&l->lock);
	if (l->n < 16) {
		l->status[l->n] = e->status;
		l->conn[l->n] = e->conn;
		l->n++;
	}
	pthread_mutex_unlock(&l->lock);
}

static void
test_keepalive_stats_log(void **state)
{
	struct logged l = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct httpserv_opts o = {.log = log_cb, .log_arg = &l};
	struct httpserv *s = start(&o);
	struct httpserv_stats st;
	char buf[4096];
	int fd = sock_connect("127.0.0.1", httpserv_port(s), 0);

	(void)state;
	assert_true(fd >= 0);
	for (int i = 0; i < 5; i++) {
		size_t n = exchange(
			fd, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n", buf,
			sizeof(buf), 0);
		(void)n;
		/* Each response ends with the 12-byte body. */
		while (strstr(buf, "hello world\n") == NULL) {
			size_t have = strlen(buf);
			assert_true(exchange(fd, NULL, buf + have,
					     sizeof(buf) - have, 1) > 0);
		}
	}
	exchange(fd, "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", buf,
		 sizeof(buf), 1);
	httpserv_stats(s, &st);
	assert_int_equal(st.connections, 1);
	assert_int_equal(st.live, 1);
	close(fd);
	httpserv_free(s);
	assert_int_equal(l.n, 6);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(l.status[i], 200);
		assert_int_equal(l.conn[i], 1);
	}
	assert_int_equal(l.status[5], 404);
}

static void
test_faults_off(void **state)
{
	struct httpserv_opts o = {0};
	struct httpserv *s = start(&o);
	char buf[4096];
	int fd = sock_connect("127.0.0.1", httpserv_port(s), 0);

	(void)state;
	/* Without opts.faults a /fault/ path is just a (missing) file. */
	exchange(fd,
		 "GET /fault/status=503/hello.txt HTTP/1.1\r\nHost: t\r\n"
		 "Connection: close\r\n\r\n",
		 buf, sizeof(buf), sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 404 "));
	close(fd);
	httpserv_free(s);
}

/* Stopping must end connections idle or stalled mid-body at once. */
static void
test_stop_with_busy_connections(void **state)
{
	struct httpserv_opts o = {.faults = 1, .idle_timeout = 600};
	struct httpserv *s = start(&o);
	struct timespec t0, t1;
	char buf[256];
	int idle = sock_connect("127.0.0.1", httpserv_port(s), 0);
	int stalled = sock_connect("127.0.0.1", httpserv_port(s), 0);
	int fd;

	(void)state;
	assert_true(idle >= 0 && stalled >= 0);
	exchange(stalled,
		 "GET /fault/stall=60,at=3/hello.txt HTTP/1.1\r\nHost: "
		 "t\r\n\r\n",
		 buf, sizeof(buf), 1);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	fd = sock_connect("127.0.0.1", httpserv_port(s), 0);
	assert_true(fd >= 0);
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	httpserv_stop(s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	httpserv_stop(s);
	httpserv_free(s);
	/* The clients see the end of their connections. */
	assert_true(exchange(idle, NULL, buf, sizeof(buf), sizeof(buf)) == 0);
	close(idle);
	close(stalled);
}

static void
test_parse_range(void **state)
{
	static const struct {
		const char *v;
		long long size;
		int want;
		long long first, last;
	} cases[] = {
		{"bytes=0-9", 100, HTTPSERV_RANGE_OK, 0, 9},
		{"bytes=90-", 100, HTTPSERV_RANGE_OK, 90, 99},
		{"bytes=-10", 100, HTTPSERV_RANGE_OK, 90, 99},
		{"bytes=-1000", 100, HTTPSERV_RANGE_OK, 0, 99},
		{"bytes=50-5000", 100, HTTPSERV_RANGE_OK, 50, 99},
		{"bytes=99-99", 100, HTTPSERV_RANGE_OK, 99, 99},
		{"Bytes = 1-2", 100, HTTPSERV_RANGE_OK, 1, 2},
		{"bytes=100-", 100, HTTPSERV_RANGE_UNSAT, 0, 0},
		{"bytes=-0", 100, HTTPSERV_RANGE_UNSAT, 0, 0},
		{"bytes=0-0", 0, HTTPSERV_RANGE_UNSAT, 0, 0},
		{"bytes=-5", 0, HTTPSERV_RANGE_UNSAT, 0, 0},
		{"bytes=5-2", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"bytes=0-1,5-6", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"bytes=x-1", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"bytes=1-x", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"bytes=-", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"bytes 0-1", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"items=0-1", 100, HTTPSERV_RANGE_NONE, 0, 0},
		{"bytes=99999999999999999999-", 100, HTTPSERV_RANGE_NONE, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long a = -7, b = -7;
		int got = httpserv__parse_range(cases[i].v, cases[i].size, &a,
						&b);

		if (got != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].v, got,
				 cases[i].want);
		if (got == HTTPSERV_RANGE_OK) {
			assert_int_equal(a, cases[i].first);
			assert_int_equal(b, cases[i].last);
		}
	}
}

static void
test_paths(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(
		httpserv__path_decode("a%20b/c%2Fd", 11, out, sizeof(out)), 0);
	assert_string_equal(out, "a b/c/d");
	assert_int_equal(httpserv__path_decode("a%00b", 5, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(httpserv__path_decode("a%2", 3, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(httpserv__path_decode("a%zz", 4, out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(httpserv__path_decode("abcdef", 6, out, 4), -EINVAL);
	assert_int_equal(httpserv__path_escapes(".."), 1);
	assert_int_equal(httpserv__path_escapes("a/../b"), 1);
	assert_int_equal(httpserv__path_escapes("a/.."), 1);
	assert_int_equal(httpserv__path_escapes("..a/b..c/..."), 0);
	assert_int_equal(httpserv__path_escapes("a/./b"), 0);
}

static void
test_fault_spec(void **state)
{
	struct httpserv_fault f;
	char loc[128];

	(void)state;
	assert_int_equal(
		httpserv__fault_parse("status=503,retry=2,times=3", 26, &f), 0);
	assert_int_equal(f.status, 503);
	assert_int_equal(f.retry, 2);
	assert_int_equal(f.times, 3);
	assert_int_equal(f.cut, -1);
	/* Only len bytes count: "cut=5" of "cut=5/x". */
	assert_int_equal(httpserv__fault_parse("cut=5/x", 5, &f), 0);
	assert_int_equal(f.cut, 5);
	assert_int_equal(httpserv__fault_parse("cut=rand,seed=9,rst", 19, &f),
			 0);
	assert_true(f.cut_rand && f.rst && f.seed == 9);
	assert_int_equal(httpserv__fault_parse("stall=0.5,at=10", 15, &f), 0);
	assert_float_equal(f.stall, 0.5, 1e-9);
	assert_int_equal(f.stall_at, 10);
	assert_int_equal(httpserv__fault_parse("rate=2M", 7, &f), 0);
	assert_int_equal(f.rate, 2 << 20);
	assert_int_equal(httpserv__fault_parse("change", 6, &f), 0);
	assert_int_equal(f.change, 1);
	assert_int_equal(httpserv__fault_parse("change=4", 8, &f), 0);
	assert_true(f.change == 2 && f.change_after == 4);
	static const char *bad[] = {
		"",	     "nope",	 "status=99", "status=600", "status",
		"cut=",	     "cut=x",	 "stall=0",   "stall=-1",   "rate=0",
		"norange=1", "times=-1", "id",	      "redirect=a",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (httpserv__fault_parse(bad[i], strlen(bad[i]), &f) !=
		    -EINVAL)
			fail_msg("fault spec \"%s\" accepted", bad[i]);
	httpserv__redirect_location("redirect=2,id=a", 15, 1, "/f", loc,
				    sizeof(loc));
	assert_string_equal(loc, "/fault/id=a,redirect=1/f");
	httpserv__redirect_location("redirect=1", 10, 0, "/f", loc,
				    sizeof(loc));
	assert_string_equal(loc, "/f");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_fault_spec),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_exact_response),
		cmocka_unit_test(test_keepalive_stats_log),
		cmocka_unit_test(test_faults_off),
		cmocka_unit_test(test_stop_with_busy_connections),
	};
	char path[128];
	int rc;

	snprintf(root, sizeof(root), "/tmp/nt-httpserv.XXXXXX");
	if (mkdtemp(root) == NULL)
		return 1;
	write_file("hello.txt", "hello world\n", 12);
	rc = cmocka_run_group_tests(tests, watchdog_setup, NULL);
	snprintf(path, sizeof(path), "%s/hello.txt", root);
	unlink(path);
	rmdir(root);
	return rc;
}
