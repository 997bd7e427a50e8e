/* SPDX-License-Identifier: ISC */
/* test_evloop.c -- the event loop on each backend: readiness, interest
 * changes, removal during dispatch, timer order, stop, and the completion
 * API: accept, receive, send, backpressure, deletion in flight. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "evloop.h"
#include "sock.h"
#include "watchdog.h"

static const char *backend_poll = "poll";
static const char *backend_epoll = "epoll";
static const char *backend_uring = "uring";

struct seen {
	int calls;
	int events;
	int fd;
	struct evloop *el;
	int other; /* an fd to remove when called */
	int stop;
};

static void
on_io(struct evloop *el, int fd, int events, void *arg)
{
	struct seen *s = arg;
	char c;

	s->calls++;
	s->events |= events;
	s->fd = fd;
	if (events & EVLOOP_READ)
		(void)!read(fd, &c, 1);
	if (s->other >= 0) {
		evloop_del(el, s->other);
		close(s->other);
		s->other = -1;
	}
	if (s->stop)
		evloop_stop(el);
}

static void
test_readiness(void **state)
{
	const char *be = *state;
	struct evloop *el = evloop_new(be, 1024);
	struct seen s = {0, 0, -1, NULL, -1, 0};
	int p[2], sp[2];

	assert_non_null(el);
	assert_string_equal(evloop_backend(el), be);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(evloop_add(el, p[0], EVLOOP_READ, on_io, &s), 0);
	assert_int_equal(evloop_events(el, p[0]), EVLOOP_READ);
	assert_int_equal(evloop_run_once(el, 20), 0); /* nothing yet */
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(evloop_run_once(el, 1000), 1);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.fd, p[0]);
	assert_true(s.events & EVLOOP_READ);

	/* Write interest: ready at once; interest 0 silences it. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	memset(&s, 0, sizeof(s));
	s.other = -1;
	assert_int_equal(evloop_add(el, sp[0], EVLOOP_WRITE, on_io, &s), 0);
	assert_int_equal(evloop_run_once(el, 1000), 1);
	assert_int_equal(s.events, EVLOOP_WRITE);
	assert_int_equal(evloop_set(el, sp[0], 0), 0);
	assert_int_equal(evloop_run_once(el, 20), 0);
	assert_int_equal(s.calls, 1);

	/* The peer hangs up: a read-interested fd is told (and reads EOF). */
	assert_int_equal(evloop_set(el, sp[0], EVLOOP_READ), 0);
	close(sp[1]);
	assert_int_equal(evloop_run_once(el, 1000), 1);
	assert_true(s.events & EVLOOP_READ);

	assert_int_equal(evloop_del(el, sp[0]), 0);
	assert_int_equal(evloop_events(el, sp[0]), -1);
	assert_int_equal(evloop_del(el, sp[0]), -ENOENT);
	assert_int_equal(evloop_set(el, sp[0], EVLOOP_READ), -ENOENT);
	assert_int_equal(evloop_add(el, 5000, EVLOOP_READ, on_io, &s), -ERANGE);
	close(sp[0]);
	evloop_del(el, p[0]);
	close(p[0]);
	close(p[1]);
	evloop_free(el);
	evloop_free(NULL);
}

/* Two fds ready at once; whichever runs first removes the other, which
 * must then not be called with stale readiness. */
static void
test_remove_during_dispatch(void **state)
{
	struct evloop *el = evloop_new(*state, 1024);
	struct seen a = {0, 0, -1, NULL, -1, 0}, b = a;
	int p[2], q[2];

	assert_non_null(el);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	a.other = q[0];
	b.other = p[0];
	assert_int_equal(evloop_add(el, p[0], EVLOOP_READ, on_io, &a), 0);
	assert_int_equal(evloop_add(el, q[0], EVLOOP_READ, on_io, &b), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "y", 1), 1);
	evloop_run_once(el, 1000);
	assert_int_equal(a.calls + b.calls, 1);
	if (a.calls)
		close(p[0]);
	else
		close(q[0]);
	close(p[1]);
	close(q[1]);
	evloop_free(el);
}

/* Many descriptors, removed from the middle: the poll backend's dense
 * array must stay consistent. */
static void
test_many_fds(void **state)
{
	enum { N = 200 };
	struct evloop *el = evloop_new(*state, 4096);
	struct seen s[N];
	int p[N][2];

	assert_non_null(el);
	for (int i = 0; i < N; i++) {
		memset(&s[i], 0, sizeof(s[i]));
		s[i].other = -1;
		assert_int_equal(pipe(p[i]), 0);
		assert_int_equal(
			evloop_add(el, p[i][0], EVLOOP_READ, on_io, &s[i]), 0);
	}
	for (int i = 0; i < N; i += 3) {
		assert_int_equal(evloop_del(el, p[i][0]), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(write(p[i][1], "z", 1), 1);
	for (int k = 0; k < 10; k++)
		evloop_run_once(el, 10);
	for (int i = 0; i < N; i++) {
		assert_int_equal(s[i].calls, i % 3 == 0 ? 0 : 1);
		close(p[i][0]);
		close(p[i][1]);
	}
	evloop_free(el);
}

struct fired {
	uint64_t when[1000];
	int n;
	int id[1000];
};

static struct fired fired;

static void
on_timer(struct evloop *el, struct evloop_timer *t, void *arg)
{
	(void)el;
	fired.when[fired.n] = t->when;
	fired.id[fired.n] = (int)(intptr_t)arg;
	fired.n++;
}

static void
test_timers(void **state)
{
	struct evloop *el = evloop_new(*state, 64);
	struct evloop_timer t[5];
	const int ms[5] = {30, 10, 20, 0, 50};
	uint64_t t0;

	assert_non_null(el);
	memset(&fired, 0, sizeof(fired));
	t0 = evloop_now(el);
	for (int i = 0; i < 5; i++) {
		evloop_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
		assert_int_equal(evloop_timer_start(el, &t[i], (uint64_t)ms[i]),
				 0);
	}
	assert_int_equal(evloop_timer_count(el), 5);
	evloop_timer_stop(el, &t[2]);
	evloop_timer_stop(el, &t[2]); /* harmless twice */
	assert_false(evloop_timer_active(&t[2]));
	for (int k = 0; k < 100 && evloop_timer_count(el) > 0; k++)
		evloop_run_once(el, -1);
	assert_int_equal(fired.n, 4);
	assert_int_equal(fired.id[0], 3);
	assert_int_equal(fired.id[1], 1);
	assert_int_equal(fired.id[2], 0);
	assert_int_equal(fired.id[3], 4);
	/* Not early. */
	assert_true(evloop_now(el) >= t0 + 50);
	evloop_free(el);
}

/* Random starts, restarts and stops: what fires, fires once, in order. */
static void
test_timer_heap(void **state)
{
	enum { N = 1000 };
	struct evloop *el = evloop_new(*state, 64);
	static struct evloop_timer t[N];
	int stopped[N] = {0}, expect = 0, count[N] = {0};

	assert_non_null(el);
	memset(&fired, 0, sizeof(fired));
	srand(42);
	for (int i = 0; i < N; i++) {
		evloop_timer_init(&t[i], on_timer, (void *)(intptr_t)i);
		evloop_timer_start(el, &t[i], (uint64_t)(rand() % 100));
	}
	for (int i = 0; i < N; i++) {
		int r = rand() % 4;
		if (r == 0) {
			evloop_timer_stop(el, &t[i]);
			stopped[i] = 1;
		} else if (r == 1) {
			evloop_timer_start(el, &t[i], (uint64_t)(rand() % 100));
		}
	}
	for (int i = 0; i < N; i++)
		expect += !stopped[i];
	assert_int_equal(evloop_timer_count(el), (size_t)expect);
	for (int k = 0; k < 1000 && evloop_timer_count(el) > 0; k++)
		evloop_run_once(el, -1);
	assert_int_equal(fired.n, expect);
	for (int i = 0; i < fired.n; i++) {
		count[fired.id[i]]++;
		if (i > 0)
			assert_true(fired.when[i] >= fired.when[i - 1]);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(count[i], stopped[i] ? 0 : 1);
	evloop_free(el);
}

static void
on_stop_timer(struct evloop *el, struct evloop_timer *t, void *arg)
{
	(void)t;
	(*(int *)arg)++;
	evloop_stop(el);
}

static void
test_run_stop(void **state)
{
	struct evloop *el = evloop_new(*state, 64);
	struct evloop_timer t;
	int n = 0;

	assert_non_null(el);
	evloop_timer_init(&t, on_stop_timer, &n);
	evloop_timer_start(el, &t, 10);
	assert_int_equal(evloop_run(el), 0);
	assert_int_equal(n, 1);
	/* Freed with a timer still armed: the timer is merely unlinked. */
	evloop_timer_start(el, &t, 1000);
	evloop_free(el);
	assert_false(evloop_timer_active(&t));
}

/* A child process, not a thread, writes later: valgrind runs one thread
 * of a process at a time, and 3.19 does not know io_uring_enter blocks. */
static pid_t
write_later(int fd)
{
	struct timespec ts = {0, 300000000};
	pid_t pid = fork();

	if (pid == 0) {
		nanosleep(&ts, NULL);
		(void)!write(fd, "x", 1);
		_exit(0);
	}
	return pid;
}

static void
on_io_now(struct evloop *el, int fd, int events, void *arg)
{
	char c;

	(void)events;
	(void)!read(fd, &c, 1);
	*(uint64_t *)arg = evloop_now(el);
}

/* A callback after a long wait sees the time the wait ended: an event
 * stamped with the time it began would look up to a whole wait old. */
static void
test_now_in_callback(void **state)
{
	struct evloop *el = evloop_new(*state, 64);
	struct evloop_timer t;
	pid_t pid;
	uint64_t before, seen = 0;
	int p[2], n = 0;

	assert_non_null(el);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(evloop_add(el, p[0], EVLOOP_READ, on_io_now, &seen),
			 0);
	/* Bounds the wait, should the write never come. */
	evloop_timer_init(&t, on_stop_timer, &n);
	evloop_timer_start(el, &t, 5000);
	before = evloop_now(el);
	assert_true((pid = write_later(p[1])) > 0);
	assert_int_equal(evloop_run_once(el, -1), 1);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(n, 0);
	assert_true(seen >= before + 250);
	evloop_timer_stop(el, &t);
	evloop_free(el);
	close(p[0]);
	close(p[1]);
}

/* The completion API. */

struct echo_srv {
	int lfd;
	int accepted, fd;
	int eof;
	size_t got, sent;
	int errors;
};

static void
srv_recv(struct evloop *el, int fd, const char *data, ssize_t n, void *arg)
{
	struct echo_srv *s = arg;

	if (n <= 0) {
		s->eof = n == 0;
		s->errors += n < 0;
		evloop_del(el, fd);
		close(fd);
		s->fd = -1;
		return;
	}
	s->got += (size_t)n;
	if (evloop_send(el, fd, data, (size_t)n, NULL, NULL) < 0)
		s->errors++;
}

static void
srv_accept(struct evloop *el, int lfd, int fd, void *arg)
{
	struct echo_srv *s = arg;

	(void)lfd;
	if (fd < 0) {
		s->errors++;
		return;
	}
	s->accepted++;
	s->fd = fd;
	if (evloop_recv(el, fd, srv_recv, s) < 0)
		s->errors++;
}

/* Reads n bytes from fd (non-blocking) while the loop runs. */
static size_t
read_while_running(struct evloop *el, int fd, char *p, size_t n)
{
	size_t got = 0;

	for (int k = 0; k < 2000 && got < n; k++) {
		ssize_t r = recv(fd, p + got, n - got, MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		else
			evloop_run_once(el, 5);
	}
	return got;
}

/* Accept, receive and send back over TCP, then EOF. */
static void
test_io_echo(void **state)
{
	struct evloop *el = evloop_new(*state, 1024);
	struct echo_srv s = {.fd = -1};
	char back[16] = {0};
	int cfd;

	assert_non_null(el);
	s.lfd = sock_listen("127.0.0.1", 0, 16, SOCKF_NONBLOCK);
	assert_true(s.lfd >= 0);
	assert_int_equal(evloop_accept(el, s.lfd, srv_accept, &s), 0);
	cfd = sock_connect("127.0.0.1", sock_local_port(s.lfd), 0);
	assert_true(cfd >= 0);
	assert_int_equal(write(cfd, "hello", 5), 5);
	assert_int_equal(read_while_running(el, cfd, back, 5), 5);
	assert_string_equal(back, "hello");
	assert_int_equal(s.accepted, 1);
	close(cfd);
	for (int k = 0; k < 200 && !s.eof; k++)
		evloop_run_once(el, 5);
	assert_true(s.eof);
	assert_int_equal(s.errors, 0);
	assert_int_equal(evloop_del(el, s.lfd), 0);
	close(s.lfd);
	evloop_free(el);
}

struct sendq {
	size_t done;
	int errors, calls;
};

static void
on_sent(struct evloop *el, int fd, ssize_t n, void *arg)
{
	struct sendq *q = arg;

	(void)el;
	(void)fd;
	q->calls++;
	if (n < 0)
		q->errors++;
	else
		q->done += (size_t)n;
}

/* More than the socket takes: queued, sent in order as the peer reads,
 * the callback counting every byte. */
static void
test_io_send_queue(void **state)
{
	enum { LEN = 1 << 20 };
	struct evloop *el = evloop_new(*state, 1024);
	struct sendq q = {0};
	char *data = malloc(LEN), *back = malloc(LEN);
	ssize_t now;
	int sp[2];

	assert_non_null(el);
	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (char)(i * 7 + (i >> 10));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	/* Into an empty socket: 4 KiB or more goes out at once on every
	 * backend; less, only on readiness (uring: with the next wait). */
	assert_int_equal(evloop_send(el, sp[0], data, 4096, on_sent, &q), 4096);
	assert_int_equal(evloop_send(el, sp[0], data + 4096, 100, on_sent, &q),
			 strcmp(*state, "uring") == 0 ? 0 : 100);
	assert_int_equal(read_while_running(el, sp[1], back, 4196), 4196);
	assert_memory_equal(back, data, 4196);
	assert_int_equal(evloop_send_pending(el, sp[0]), 0);
	q.done = 0;
	now = evloop_send(el, sp[0], data, LEN / 2, on_sent, &q);
	assert_true(now >= 0 && now < LEN / 2);
	assert_int_equal(evloop_send_pending(el, sp[0]), LEN / 2 - now);
	assert_true(evloop_send(el, sp[0], data + LEN / 2, LEN / 2, on_sent,
				&q) >= 0);
	assert_int_equal(read_while_running(el, sp[1], back, LEN), LEN);
	assert_memory_equal(back, data, LEN);
	for (int k = 0; k < 100 && evloop_send_pending(el, sp[0]) > 0; k++)
		evloop_run_once(el, 5);
	assert_int_equal(evloop_send_pending(el, sp[0]), 0);
	assert_int_equal((size_t)now + q.done, LEN);
	assert_int_equal(q.errors, 0);
	assert_int_equal(evloop_del(el, sp[0]), 0);
	close(sp[0]);
	close(sp[1]);
	free(data);
	free(back);
	evloop_free(el);
}

/* Echoes of 16 KiB messages to a peer that reads only once it has
 * written half of them: the server's sends fill the socket, so they go
 * out in part at once (4 KiB or more), the rest held or queued; every
 * byte comes back, in order. */
static void
test_io_echo_large(void **state)
{
	enum { LEN = 2 << 20, CHUNK = 16384 };
	struct evloop *el = evloop_new(*state, 1024);
	struct echo_srv s = {.fd = -1};
	char *data = malloc(LEN), *back = malloc(LEN);
	size_t put = 0, got = 0;
	int cfd;

	assert_non_null(el);
	assert_non_null(data);
	assert_non_null(back);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (char)(i * 7 + (i >> 12));
	s.lfd = sock_listen("127.0.0.1", 0, 16, SOCKF_NONBLOCK);
	assert_true(s.lfd >= 0);
	assert_int_equal(evloop_accept(el, s.lfd, srv_accept, &s), 0);
	cfd = sock_connect("127.0.0.1", sock_local_port(s.lfd), 0);
	assert_true(cfd >= 0);
	for (int k = 0; k < 20000 && got < LEN; k++) {
		ssize_t w = 0, r = 0;

		if (put < LEN)
			w = send(cfd, data + put,
				 LEN - put < CHUNK ? LEN - put : CHUNK,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w > 0)
			put += (size_t)w;
		if (put >= LEN / 2)
			r = recv(cfd, back + got, LEN - got, MSG_DONTWAIT);
		if (r > 0)
			got += (size_t)r;
		evloop_run_once(el, w > 0 || r > 0 ? 0 : 1);
	}
	assert_int_equal(got, LEN);
	assert_memory_equal(back, data, LEN);
	assert_int_equal(s.got, LEN);
	assert_int_equal(s.errors, 0);
	close(cfd);
	for (int k = 0; k < 200 && !s.eof; k++)
		evloop_run_once(el, 5);
	assert_true(s.eof);
	assert_int_equal(evloop_del(el, s.lfd), 0);
	close(s.lfd);
	free(data);
	free(back);
	evloop_free(el);
}

struct rcv {
	char data[256];
	size_t got;
	int calls, end;
};

static void
on_rcv(struct evloop *el, int fd, const char *data, ssize_t n, void *arg)
{
	struct rcv *r = arg;

	(void)el;
	(void)fd;
	r->calls++;
	if (n <= 0) {
		r->end = n == 0 ? 1 : (int)n;
		return;
	}
	if (r->got + (size_t)n <= sizeof(r->data))
		memcpy(r->data + r->got, data, (size_t)n);
	r->got += (size_t)n;
}

/* A stopped receiver is not called; what came meanwhile is not lost. */
static void
test_io_recv_stop(void **state)
{
	struct evloop *el = evloop_new(*state, 1024);
	struct rcv r = {0};
	int sp[2];

	assert_non_null(el);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(evloop_recv_stop(el, sp[0]), -ENOENT);
	assert_int_equal(evloop_recv(el, sp[0], on_rcv, &r), 0);
	assert_int_equal(write(sp[1], "a", 1), 1);
	for (int k = 0; k < 200 && r.got < 1; k++)
		evloop_run_once(el, 5);
	assert_int_equal(r.got, 1);
	assert_int_equal(evloop_recv_stop(el, sp[0]), 0);
	assert_int_equal(write(sp[1], "b", 1), 1);
	for (int k = 0; k < 10; k++)
		evloop_run_once(el, 5);
	assert_int_equal(r.got, 1);
	assert_int_equal(evloop_recv(el, sp[0], on_rcv, &r), 0);
	assert_int_equal(write(sp[1], "c", 1), 1);
	close(sp[1]);
	for (int k = 0; k < 200 && !r.end; k++)
		evloop_run_once(el, 5);
	assert_int_equal(r.got, 3);
	assert_memory_equal(r.data, "abc", 3);
	assert_int_equal(r.end, 1);
	assert_int_equal(evloop_del(el, sp[0]), 0);
	close(sp[0]);
	evloop_free(el);
}

/* Deleted with a send and a receive in flight: no callback, no leak. */
static void
test_io_del_in_flight(void **state)
{
	enum { LEN = 1 << 20 };
	struct evloop *el = evloop_new(*state, 1024);
	struct sendq q = {0};
	struct rcv r = {0};
	char *data = calloc(1, LEN);
	int sp[2];

	assert_non_null(el);
	assert_non_null(data);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_int_equal(evloop_recv(el, sp[0], on_rcv, &r), 0);
	assert_true(evloop_send(el, sp[0], data, LEN, on_sent, &q) >= 0);
	for (int k = 0; k < 5; k++)
		evloop_run_once(el, 5);
	assert_true(evloop_send_pending(el, sp[0]) > 0);
	assert_int_equal(evloop_del(el, sp[0]), 0);
	assert_int_equal(evloop_send_pending(el, sp[0]), 0);
	close(sp[0]);
	(void)!send(sp[1], "x", 1, MSG_NOSIGNAL);
	for (int k = 0; k < 10; k++)
		evloop_run_once(el, 5);
	assert_int_equal(r.calls, 0);
	assert_int_equal(q.errors, 0);
	/* Freed with operations still in flight on another one. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp + 0), 0);
	assert_int_equal(evloop_recv(el, sp[0], on_rcv, &r), 0);
	assert_true(evloop_send(el, sp[0], data, LEN, on_sent, &q) >= 0);
	evloop_run_once(el, 5);
	evloop_free(el);
	close(sp[0]);
	close(sp[1]);
	free(data);
}

struct rcv_many {
	size_t got;
	int bad, end;
};

static void
on_rcv_many(struct evloop *el, int fd, const char *data, ssize_t n, void *arg)
{
	struct rcv_many *r = arg;

	(void)el;
	(void)fd;
	if (n <= 0) {
		r->end = n == 0 ? 1 : -1;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (data[i] != (char)((r->got + (size_t)i) % 251))
			r->bad++;
	}
	r->got += (size_t)n;
}

/* More senders than the loop has receive buffers (uring: the ring runs
 * dry and receives are re-armed): every byte arrives, in order. */
static void
test_io_many_senders(void **state)
{
	enum { N = 200, LEN = 48 * 1024 };
	struct evloop *el = evloop_new(*state, 4096);
	static struct rcv_many r[N];
	static int sp[N][2];
	char *data = malloc(LEN);
	size_t total = 0;
	int ends = 0;

	assert_non_null(el);
	assert_non_null(data);
	for (size_t i = 0; i < LEN; i++)
		data[i] = (char)(i % 251);
	memset(r, 0, sizeof(r));
	for (int i = 0; i < N; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp[i]), 0);
		assert_int_equal(sock_set_nonblock(sp[i][1], 1), 0);
		assert_int_equal(write(sp[i][1], data, LEN), LEN);
		shutdown(sp[i][1], SHUT_WR);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(evloop_recv(el, sp[i][0], on_rcv_many, &r[i]),
				 0);
	for (int k = 0; k < 4000 && ends < N; k++) {
		evloop_run_once(el, 5);
		ends = 0;
		for (int i = 0; i < N; i++)
			ends += r[i].end;
	}
	for (int i = 0; i < N; i++) {
		total += r[i].got;
		assert_int_equal(r[i].bad, 0);
		assert_int_equal(r[i].end, 1);
		evloop_del(el, sp[i][0]);
		close(sp[i][0]);
		close(sp[i][1]);
	}
	assert_int_equal(total, (size_t)N * LEN);
	free(data);
	evloop_free(el);
}

static void
test_bad_backend(void **state)
{
	(void)state;
	errno = 0;
	assert_null(evloop_new("kqueue", 64));
	assert_int_equal(errno, EINVAL);
	assert_null(evloop_new("poll", 0));
}

/* A kernel without io_uring (as seccomp or an old kernel would have it):
 * the uring backend says so, the others still work. */
static void
test_no_uring(void **state)
{
	struct evloop *el;

	(void)state;
	assert_int_equal(setenv("NT_EVLOOP_NO_URING", "1", 1), 0);
	errno = 0;
	assert_null(evloop_new("uring", 64));
	assert_int_equal(errno, ENOSYS);
	el = evloop_new(NULL, 64);
	assert_non_null(el);
	assert_string_equal(evloop_backend(el), "epoll");
	evloop_free(el);
	assert_int_equal(unsetenv("NT_EVLOOP_NO_URING"), 0);
	el = evloop_new("uring", 64);
	assert_non_null(el);
	evloop_free(el);
}

#define BOTH(f)                                                                \
	cmocka_unit_test_prestate(f, (void *)&backend_poll[0]),                \
		cmocka_unit_test_prestate(f, (void *)&backend_epoll[0]),       \
		cmocka_unit_test_prestate(f, (void *)&backend_uring[0])

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_readiness),
		BOTH(test_remove_during_dispatch),
		BOTH(test_many_fds),
		BOTH(test_timers),
		BOTH(test_timer_heap),
		BOTH(test_run_stop),
		BOTH(test_now_in_callback),
		BOTH(test_io_echo),
		BOTH(test_io_echo_large),
		BOTH(test_io_send_queue),
		BOTH(test_io_recv_stop),
		BOTH(test_io_del_in_flight),
		BOTH(test_io_many_senders),
		cmocka_unit_test(test_bad_backend),
		cmocka_unit_test(test_no_uring),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
