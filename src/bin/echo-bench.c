/* SPDX-License-Identifier: ISC */
/* echo-bench.c -- load generator for echo servers: C connections, each
 * sending a message, checking every byte of its echo, and repeating;
 * reports round trips per second, latency percentiles and errors. */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "evloop.h"
#include "sock.h"

#define CONNECT_MS  15000 /* the whole connect phase, before timing */
#define PATTERN_PAD 251	  /* message offsets into the pattern: a prime */
/* Latency histogram: log2 buckets of nanoseconds, each split in 32. */
#define SUB_BITS 5
#define NBUCKETS (64 << SUB_BITS)

enum { E_CONNECT, E_RESET, E_CLOSED, E_MISMATCH, E_TIMEOUT, E_OTHER, E_KINDS };
static const char *const ekind[E_KINDS] = {
	"connect", "reset", "closed", "mismatch", "unfinished", "other",
};

/* What the command line asks for; parse_args fills it, nothing changes it
 * after that, so the threads read it without a lock. */
struct bench_opts {
	const char *host;
	const char *backend; /* the event loop's: "epoll", "poll", "uring" */
	long long port, nconn, length, nthreads;
	long long rounds_max; /* 0: until the time is up */
	long long nidle;
	double seconds;
};

/* What every thread shares: set up before the threads start, then only
 * read, but for the barrier. */
struct bench {
	const struct bench_opts *o;
	char *pattern;
	struct sockaddr_storage target;
	socklen_t target_len;
	pthread_barrier_t barrier;
};

struct bench_thread;

struct conn {
	struct bench_thread *t;
	int fd;
	int id;
	int connected, done;
	int idle; /* held open, never used: the mostly-idle server case */
	size_t sent, got;
	size_t off; /* this round's offset into the pattern */
	uint64_t start_ns, rounds;
};

struct bench_thread {
	pthread_t thread;
	struct bench *b;
	struct evloop *el;
	struct conn *conns;
	int nconns, active, connecting;
	uint64_t deadline_ms;
	int timing;		   /* 0 while connecting */
	uint64_t start_ns, end_ns; /* the timed phase */
	uint64_t rounds, errors[E_KINDS];
	uint64_t hist[NBUCKETS];
};

/* The threads' results added up, for the report. */
struct bench_totals {
	uint64_t rounds, errors[E_KINDS], nerr, stalled;
	uint64_t connected, idle_connected;
	uint64_t hist[NBUCKETS];
	double elapsed;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: echo-bench [-s HOST] [-p PORT] [-c CONNECTIONS] [-l "
		"LENGTH]\n"
		"                  [-d SECONDS] [-T THREADS] [-n ROUNDS] [-i "
		"IDLE]\n"
		"Opens C connections, then on each sends LENGTH bytes, waits "
		"for the\n"
		"whole echo, checks every byte and repeats, for SECONDS.\n"
		"\n"
		"  -s, --server HOST       server (default localhost)\n"
		"  -p, --port PORT         port (default 3000)\n"
		"  -c, --connections N     connections (default 1)\n"
		"  -l, --length BYTES      message length, k/M suffixes "
		"(default 64)\n"
		"  -d, --duration SECONDS  timed phase (default 5)\n"
		"  -T, --threads N         threads sharing the connections "
		"(default 1)\n"
		"  -n, --rounds N          stop each connection after N round "
		"trips;\n"
		"                          one unfinished in time is an error\n"
		"  -i, --idle N            also hold N connections open, "
		"silent\n"
		"      --backend NAME      event loop: epoll (default), poll "
		"or "
		"uring\n"
		"  -h, --help              this help\n"
		"      --version           print the version\n"
		"Exit status 0 when no error of any kind occurred, 1 "
		"otherwise.\n");
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned
hist_index(uint64_t v)
{
	int e;

	if (v < (1u << SUB_BITS))
		return (unsigned)v;
	e = 63 - __builtin_clzll(v); /* v in [2^e, 2^(e+1)) */
	return (unsigned)(((e - SUB_BITS + 1) << SUB_BITS) +
			  ((v >> (e - SUB_BITS)) & ((1u << SUB_BITS) - 1)));
}

/* The largest value that falls into bucket i. */
static uint64_t
hist_value(unsigned i)
{
	unsigned e, m;

	if (i < (1u << SUB_BITS))
		return i;
	e = (i >> SUB_BITS) + SUB_BITS - 1;
	m = i & ((1u << SUB_BITS) - 1);
	return (((uint64_t)(m + (1u << SUB_BITS)) + 1) << (e - SUB_BITS)) - 1;
}

static void
conn_fail(struct bench_thread *t, struct conn *c, int kind)
{
	t->errors[kind]++;
	evloop_del(t->el, c->fd);
	close(c->fd);
	c->fd = -1;
	c->done = 1;
	if (!c->idle)
		t->active--;
}

static void
conn_finish(struct bench_thread *t, struct conn *c)
{
	evloop_del(t->el, c->fd);
	close(c->fd);
	c->fd = -1;
	c->done = 1;
	if (!c->idle)
		t->active--;
}

static int
errno_kind(int e)
{
	return e == ECONNRESET || e == EPIPE ? E_RESET : E_OTHER;
}

static void on_data(struct evloop *el, int fd, const char *data, ssize_t n,
		    void *arg);

/* Sends this round's message; the loop queues what the socket does not
 * take at once (uring: it goes out with the next wait). */
static void
round_begin(struct bench_thread *t, struct conn *c)
{
	size_t length = (size_t)t->b->o->length;
	ssize_t n;

	c->sent = length;
	c->got = 0;
	c->off = ((size_t)c->id * 31 + (size_t)c->rounds * 17) % PATTERN_PAD;
	c->start_ns = now_ns();
	n = evloop_send(t->el, c->fd, t->b->pattern + c->off, length, NULL,
			NULL);
	if (n < 0)
		conn_fail(t, c, errno_kind((int)-n));
}

/* Checks what came of c's echo, and at the end of the round records its
 * latency and starts the next one. */
static void
on_data(struct evloop *el, int fd, const char *data, ssize_t n, void *arg)
{
	struct conn *c = arg;
	struct bench_thread *t = c->t;
	const char *pattern = t->b->pattern;
	size_t length = (size_t)t->b->o->length;
	long long rounds_max = t->b->o->rounds_max;

	(void)fd;
	if (n == 0) {
		conn_fail(t, c, E_CLOSED);
		return;
	}
	if (n < 0) {
		conn_fail(t, c, errno_kind((int)-n));
		return;
	}
	/* More echoed than sent is as wrong as a changed byte. */
	if (c->got + (size_t)n > c->sent ||
	    memcmp(data, pattern + c->off + c->got, (size_t)n) != 0) {
		conn_fail(t, c, E_MISMATCH);
		return;
	}
	c->got += (size_t)n;
	if (c->got == length) {
		t->hist[hist_index(now_ns() - c->start_ns)]++;
		c->rounds++;
		t->rounds++;
		if (rounds_max > 0 && c->rounds >= (uint64_t)rounds_max) {
			conn_finish(t, c);
			return;
		}
		if (evloop_now(el) < t->deadline_ms)
			round_begin(t, c);
	}
}

/* Connect phase only (readiness): the connection is up, or failed, or
 * was closed by the server before timing began. */
static void
on_conn(struct evloop *el, int fd, int events, void *arg)
{
	struct conn *c = arg;
	struct bench_thread *t = c->t;
	int rc;

	(void)el;
	(void)fd;
	if (!c->connected) {
		if ((rc = sock_error(c->fd)) < 0 ||
		    (events & (EVLOOP_WRITE | EVLOOP_ERROR)) == 0) {
			if (rc < 0) {
				conn_fail(t, c, E_CONNECT);
				t->connecting--;
			}
			return;
		}
		c->connected = 1;
		t->connecting--;
		sock_set_nodelay(c->fd, 1);
		/* Quiet until the timed phase starts. */
		evloop_set(t->el, c->fd, 0);
		return;
	}
	/* With no interest left, a hang-up would otherwise be reported on
	 * every wait. */
	if (events & EVLOOP_ERROR)
		conn_fail(t, c, E_CLOSED);
}

/* Connect phase: every connection of t in flight at once, for at most
 * CONNECT_MS; one not up by then counts as a connect error. */
static void
thread_connect(struct bench_thread *t)
{
	const struct bench *b = t->b;
	uint64_t until;

	for (int i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];
		c->fd = socket(b->target.ss_family,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			t->errors[E_CONNECT]++;
			c->done = 1;
			continue;
		}
		if (connect(c->fd, (const struct sockaddr *)&b->target,
			    b->target_len) < 0 &&
		    errno != EINPROGRESS) {
			close(c->fd);
			c->fd = -1;
			t->errors[E_CONNECT]++;
			c->done = 1;
			continue;
		}
		if (evloop_add(t->el, c->fd, EVLOOP_WRITE, on_conn, c) < 0) {
			close(c->fd);
			c->fd = -1;
			t->errors[E_CONNECT]++;
			c->done = 1;
			continue;
		}
		if (!c->idle)
			t->active++;
		t->connecting++;
	}
	until = evloop_now(t->el) + CONNECT_MS;
	while (t->connecting > 0 && evloop_now(t->el) < until)
		evloop_run_once(t->el, 100);
	for (int i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];
		if (!c->done && !c->connected) {
			conn_fail(t, c, E_CONNECT);
			t->connecting--;
		}
	}
}

/* A thread: connects its share, then runs round trips until the time is
 * up or every connection is done, then closes what is left. */
static void *
bench_run(void *arg)
{
	struct bench_thread *t = arg;
	const struct bench_opts *o = t->b->o;

	thread_connect(t);
	/* Timing starts once every thread has its connections up. */
	pthread_barrier_wait(&t->b->barrier);
	t->timing = 1;
	evloop_run_once(t->el, 0); /* refresh the loop's clock */
	t->start_ns = now_ns();
	t->deadline_ms = evloop_now(t->el) + (uint64_t)(o->seconds * 1000);
	/* From readiness (connecting) to completion (the round trips). */
	for (int i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];
		if (c->done || c->idle)
			continue;
		evloop_del(t->el, c->fd);
		if (evloop_recv(t->el, c->fd, on_data, c) < 0) {
			conn_fail(t, c, E_OTHER);
			continue;
		}
		round_begin(t, c);
	}
	while (t->active > 0 && evloop_now(t->el) < t->deadline_ms) {
		uint64_t left = t->deadline_ms - evloop_now(t->el);
		evloop_run_once(t->el, left > 100 ? 100 : (int)left + 1);
	}
	t->end_ns = now_ns();
	for (int i = 0; i < t->nconns; i++) {
		struct conn *c = &t->conns[i];
		if (c->done)
			continue;
		if (o->rounds_max > 0 && !c->idle)
			t->errors[E_TIMEOUT]++;
		evloop_del(t->el, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	return NULL;
}

static double
percentile(const uint64_t *hist, uint64_t total, double p)
{
	uint64_t want = (uint64_t)ceil(total * p), seen = 0;

	if (total == 0)
		return 0;
	if (want == 0)
		want = 1;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return hist_value(i) / 1e6;
	}
	return 0;
}

/* getopt_long()'s short options (a literal, which the completion test
 * reads from the preprocessed source). */
#define OPTSTRING "s:p:c:l:d:T:n:i:h"

static const struct option longopts[] = {
	{"server", required_argument, NULL, 's'},
	{"port", required_argument, NULL, 'p'},
	{"connections", required_argument, NULL, 'c'},
	{"length", required_argument, NULL, 'l'},
	{"duration", required_argument, NULL, 'd'},
	{"threads", required_argument, NULL, 'T'},
	{"rounds", required_argument, NULL, 'n'},
	{"idle", required_argument, NULL, 'i'},
	{"backend", required_argument, NULL, 'B'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct bench_opts *o)
{
	int c, rc;

	*o = (struct bench_opts){
		.host = "localhost",
		.backend = "epoll",
		.port = 3000,
		.nconn = 1,
		.length = 64,
		.nthreads = 1,
		.seconds = 5,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, OPTSTRING, longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (optarg[0] == '\0')
				cli_bad_value("server host", optarg, -EINVAL);
			o->host = optarg;
			break;
		case 'p':
			o->port = cli_long_arg(optarg, 1, 65535,
					       "port (1 to 65535)");
			break;
		case 'c':
			o->nconn =
				cli_long_arg(optarg, 1, 1000000,
					     "connection count (1 to 1000000)");
			break;
		case 'l':
			o->length = cli_size_arg(optarg, 1, 64 << 20,
						 "message length (1 to 64M)");
			break;
		case 'd':
			if ((rc = cli_parse_seconds(optarg, 86400,
						    &o->seconds)) < 0 ||
			    o->seconds <= 0)
				cli_bad_value("duration in seconds "
					      "(more than 0)",
					      optarg, rc < 0 ? rc : -ERANGE);
			break;
		case 'T':
			o->nthreads = cli_long_arg(optarg, 1, 256,
						   "thread count (1 to 256)");
			break;
		case 'n':
			o->rounds_max = cli_long_arg(optarg, 1, 1000000000,
						     "round count (1 or more)");
			break;
		case 'i':
			o->nidle = cli_long_arg(optarg, 0, 1000000,
						"idle connection count");
			break;
		case 'B':
			if (strcmp(optarg, "poll") != 0 &&
			    strcmp(optarg, "epoll") != 0 &&
			    strcmp(optarg, "uring") != 0)
				cli_bad_value("backend (poll, epoll or uring)",
					      optarg, -EINVAL);
			o->backend = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, OPTSTRING);
		}
	}
	cli_no_operands(argc, argv, usage);
	/* A thread with no connection would only wait at the barrier. */
	if (o->nthreads > o->nconn)
		o->nthreads = o->nconn;
}

/* One blocking connect finds the address that works; the rest go there
 * directly, non-blocking, all in flight together. */
static void
find_target(const struct bench_opts *o, struct bench *b)
{
	int fd;

	fd = sock_connect(o->host, (int)o->port, 0);
	if (fd < 0)
		errx(1, "%s port %lld: %s", o->host, o->port,
		     sock_strerror(fd));
	b->target_len = sizeof(b->target);
	if (getpeername(fd, (struct sockaddr *)&b->target, &b->target_len) < 0)
		err(1, "getpeername");
	close(fd);
}

/* The message pattern, and each thread's share of conns with its loop
 * and loop; exits when out of memory. */
static void
setup_threads(struct bench *b, struct bench_thread *threads, struct conn *conns,
	      long limit)
{
	const struct bench_opts *o = b->o;
	long long all = o->nconn + o->nidle;

	for (long long i = 0; i < o->length + PATTERN_PAD; i++)
		b->pattern[i] = (char)(i * 7 + (i >> 8) * 13);
	/* Thread k owns connections k, k + T, k + 2T ..., stored as one
	 * contiguous slice of the array. */
	for (long long i = 0, k = 0; k < o->nthreads; k++) {
		struct bench_thread *t = &threads[k];
		t->b = b;
		t->conns = &conns[i];
		for (long long j = k; j < all; j += o->nthreads) {
			conns[i].id = (int)j;
			conns[i].idle = j >= o->nconn;
			conns[i].t = t;
			conns[i].fd = -1;
			i++;
			t->nconns++;
		}
		t->el = evloop_new(o->backend, (int)(limit > 0 ? limit : 1024));
		if (t->el == NULL)
			err(1, "thread %lld setup", k);
	}
}

/* Starts the threads, lets them time together and waits for them all. */
static void
run_threads(struct bench *b, struct bench_thread *threads)
{
	long long n = b->o->nthreads;
	int rc, started = 0;

	if ((rc = pthread_barrier_init(&b->barrier, NULL, (unsigned)n + 1)) !=
	    0)
		errx(1, "barrier: %s", strerror(rc));
	for (; started < n; started++) {
		if ((rc = pthread_create(&threads[started].thread, NULL,
					 bench_run, &threads[started])) != 0)
			errx(1, "thread: %s", strerror(rc));
	}
	pthread_barrier_wait(&b->barrier);
	for (int i = 0; i < started; i++)
		pthread_join(threads[i].thread, NULL);
}

/* Adds up the threads' results into tot and frees their loops and
 * buffers; the elapsed time runs from the first start to the last end. */
static void
sum_threads(struct bench_thread *threads, long long n, struct bench_totals *tot)
{
	uint64_t t_first = threads[0].start_ns, t_last = threads[0].end_ns;

	for (int k = 1; k < n; k++) {
		if (threads[k].start_ns < t_first)
			t_first = threads[k].start_ns;
		if (threads[k].end_ns > t_last)
			t_last = threads[k].end_ns;
	}
	tot->elapsed = (t_last - t_first) / 1e9;
	if (tot->elapsed <= 0)
		tot->elapsed = 1e-9;
	for (int k = 0; k < n; k++) {
		struct bench_thread *t = &threads[k];
		tot->rounds += t->rounds;
		for (int e = 0; e < E_KINDS; e++)
			tot->errors[e] += t->errors[e];
		for (unsigned i = 0; i < NBUCKETS; i++)
			tot->hist[i] += t->hist[i];
		for (int i = 0; i < t->nconns; i++) {
			struct conn *c = &t->conns[i];
			if (c->idle) {
				tot->idle_connected += c->connected;
				continue;
			}
			tot->connected += c->connected;
			if (c->connected && c->rounds == 0)
				tot->stalled++;
		}
		evloop_free(t->el);
	}
	for (int e = 0; e < E_KINDS; e++)
		tot->nerr += tot->errors[e];
}

/* The report on standard output. */
static void
print_report(const struct bench_opts *o, const struct bench_totals *tot)
{
	const uint64_t *hist = tot->hist;
	double elapsed = tot->elapsed;
	uint64_t rounds = tot->rounds;

	printf("server          %s port %lld\n", o->host, o->port);
	printf("connections     %lld (%llu connected)\n", o->nconn,
	       (unsigned long long)tot->connected);
	if (o->nidle > 0)
		printf("idle            %lld (%llu connected)\n", o->nidle,
		       (unsigned long long)tot->idle_connected);
	printf("length          %lld bytes\n", o->length);
	printf("seconds         %.3f\n", elapsed);
	printf("round-trips     %llu\n", (unsigned long long)rounds);
	printf("round-trips/s   %.1f\n", rounds / elapsed);
	printf("MiB/s           %.2f\n",
	       rounds * (double)o->length / elapsed / 1048576);
	printf("latency-p50     %.3f ms\n", percentile(hist, rounds, 0.50));
	printf("latency-p99     %.3f ms\n", percentile(hist, rounds, 0.99));
	printf("latency-p99.9   %.3f ms\n", percentile(hist, rounds, 0.999));
	printf("stalled         %llu\n", (unsigned long long)tot->stalled);
	printf("errors          %llu (", (unsigned long long)tot->nerr);
	for (int e = 0; e < E_KINDS; e++)
		printf("%s%s %llu", e ? ", " : "", ekind[e],
		       (unsigned long long)tot->errors[e]);
	printf(")\n");
}

/* Runs the benchmark o asks for and reports; the exit status. */
static int
run(const struct bench_opts *o)
{
	/* Static: the histogram alone is 16 KiB. */
	static struct bench_totals tot;
	struct bench b = {.o = o};
	struct bench_thread *threads;
	struct conn *conns;
	struct evloop *el;
	long limit;

	signal(SIGPIPE, SIG_IGN);
	if ((el = evloop_new(o->backend, 64)) == NULL)
		errx(1, "--backend %s: %s", o->backend,
		     errno == EOPNOTSUPP ?
			     "io_uring here is older than Linux 6.0" :
		     errno == ENOSYS ? "io_uring is not available here" :
		     errno == EPERM  ? "io_uring is disabled here" :
				       strerror(errno));
	evloop_free(el);
	limit = sock_raise_nofile(0);
	if (limit > 0 && o->nconn + o->nidle + 64 > limit)
		errx(1,
		     "%lld connections need more descriptors than the "
		     "limit of %ld",
		     o->nconn + o->nidle, limit);
	find_target(o, &b);

	b.pattern = malloc((size_t)o->length + PATTERN_PAD);
	threads = calloc((size_t)o->nthreads, sizeof(*threads));
	conns = calloc((size_t)(o->nconn + o->nidle), sizeof(*conns));
	if (b.pattern == NULL || threads == NULL || conns == NULL)
		err(1, "malloc");
	setup_threads(&b, threads, conns, limit);
	run_threads(&b, threads);
	sum_threads(threads, o->nthreads, &tot);
	print_report(o, &tot);
	pthread_barrier_destroy(&b.barrier);
	free(b.pattern);
	free(threads);
	free(conns);
	return tot.nerr == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct bench_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
