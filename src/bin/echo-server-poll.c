/* SPDX-License-Identifier: ISC */
/* echo-server-poll.c -- one thread per worker serves every client: evloop,
 * non-blocking sockets, a pending-output buffer per client, backpressure,
 * idle timeouts, shedding at the client or descriptor limit. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "evloop.h"
#include "sock.h"

/* Past this much pending output a client is no longer read: its own
 * memory stays below HIGH_WATER + one receive (64 KiB), whatever it
 * sends. */
#define HIGH_WATER  (256 * 1024)
#define FLUSH_MS    2000 /* at shutdown, for pending output */
#define PAUSE_MS    100	 /* accepting paused when out of descriptors */
#define MAX_WORKERS 64

/* What the command line asks for; parse_args fills it and nothing changes
 * it after that, so the workers read it without a lock. */
struct server_opts {
	const char *host;    /* NULL: every address */
	const char *backend; /* "poll", "epoll" or "uring" */
	long long port;	     /* 0: the kernel chooses */
	long long nworkers;
	uint64_t idle_ms; /* 0: never time out */
	long max_clients; /* 0: as many as descriptors allow */
	int quiet;
};

struct worker;

/* 88 bytes, a 96-byte heap block: at 19,000 held connections each
 * 16 bytes saved is 0.3 MiB, hence the flags in chars. */
struct client {
	int fd;
	unsigned char eof;    /* peer finished sending; close once flushed */
	unsigned char paused; /* not read: too much output pending */
	struct worker *w;
	struct client *prev, *next;
	struct evloop_timer idle;
	uint64_t last; /* ms of the last progress either way */
	unsigned long long echoed;
	char *name; /* peer address, only when logging */
};

struct worker {
	int id;
	const struct server_opts *o;
	struct evloop *el;
	int lfd, stopfd, reserve;
	int stopping;
	int error;
	struct client *clients;
	unsigned long long served, echoed, shed;
	struct evloop_timer pause, flush;
	pthread_t thread;
};

static const char *progname = "echo-server-poll";
static atomic_long nclients;

static void
usage(FILE *f)
{
	fprintf(f, "usage: echo-server-poll [-p PORT] [-b ADDR] [--backend "
		   "poll|epoll|uring]\n"
		   "                        [-t IDLE_SECONDS] [-m MAX_CLIENTS] "
		   "[-w WORKERS] [-q]\n"
		   "Echoes every byte back to every client, one thread per "
		   "worker.\n"
		   "\n"
		   "  -p, --port PORT          port (default 3000; 0: the "
		   "kernel chooses)\n"
		   "  -b, --bind ADDR          address to bind (default: every "
		   "address)\n"
		   "      --backend NAME       poll (default), epoll or uring\n"
		   "  -t, --idle SECONDS       close clients silent this long "
		   "(default 300;\n"
		   "                           0: never)\n"
		   "  -m, --max-clients N      shed connections beyond N "
		   "(default: the\n"
		   "                           descriptor limit)\n"
		   "  -w, --workers N          N threads sharing the port with "
		   "SO_REUSEPORT\n"
		   "                           (default 1)\n"
		   "  -q, --quiet              no line per connection\n"
		   "  -h, --help               this help\n"
		   "      --version            print the version\n");
}

static void
client_close(struct client *c, const char *why)
{
	struct worker *w = c->w;

	if (!w->o->quiet)
		fprintf(stderr, "%s: %s: closed (%s, %llu bytes echoed)\n",
			progname, c->name ? c->name : "?", why, c->echoed);
	/* Ends the receive and drops the send queue, before the close. */
	evloop_del(w->el, c->fd);
	evloop_timer_stop(w->el, &c->idle);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->name);
	free(c);
	atomic_fetch_sub(&nclients, 1);
	if (w->stopping && w->clients == NULL)
		evloop_stop(w->el);
}

/* A client that will send no more (EOF, or shutdown) goes once its
 * output is out. Returns 1 when c was closed. */
static int
client_done(struct client *c)
{
	if (!c->eof && !c->w->stopping)
		return 0;
	if (evloop_send_pending(c->w->el, c->fd) > 0)
		return 0;
	client_close(c, c->eof ? "EOF" : "shutdown");
	return 1;
}

static void
client_count(struct client *c, ssize_t n)
{
	if (n <= 0)
		return;
	c->echoed += (unsigned long long)n;
	c->w->echoed += (unsigned long long)n;
	c->last = evloop_now(c->w->el);
}

static void on_recv(struct evloop *el, int fd, const char *data, ssize_t n,
		    void *arg);

/* Output went out: below the high-water mark a paused client is read
 * again. */
static void
on_sent(struct evloop *el, int fd, ssize_t n, void *arg)
{
	struct client *c = arg;
	int rc;

	if (n < 0) {
		client_close(c, strerror((int)-n));
		return;
	}
	client_count(c, n);
	if (client_done(c))
		return;
	if (c->paused && !c->eof && !c->w->stopping &&
	    evloop_send_pending(el, fd) < HIGH_WATER) {
		c->paused = 0;
		if ((rc = evloop_recv(el, fd, on_recv, c)) < 0)
			client_close(c, strerror(-rc));
	}
}

/* Echoes what came: the loop sends it, or queues what the socket does not
 * take; past the high-water mark the client is no longer read, so its
 * memory stays bounded whatever it sends. */
static void
on_recv(struct evloop *el, int fd, const char *data, ssize_t n, void *arg)
{
	struct client *c = arg;
	ssize_t sent;

	if (n < 0) {
		client_close(c, strerror((int)-n));
		return;
	}
	if (n == 0) {
		c->eof = 1;
		client_done(c);
		return;
	}
	c->last = evloop_now(el);
	if ((sent = evloop_send(el, fd, data, (size_t)n, on_sent, c)) < 0) {
		client_close(c, strerror((int)-sent));
		return;
	}
	client_count(c, sent);
	if (evloop_send_pending(el, fd) >= HIGH_WATER) {
		c->paused = 1;
		evloop_recv_stop(el, fd);
	}
}

static void
on_idle(struct evloop *el, struct evloop_timer *t, void *arg)
{
	struct client *c = arg;
	uint64_t idle_ms = c->w->o->idle_ms;
	uint64_t now = evloop_now(el), quiet_for = now - c->last;

	(void)t;
	/* Progress only stamps c->last; the timer is re-armed here, once per
	 * idle period, so traffic costs no heap operation at all. */
	if (quiet_for >= idle_ms) {
		client_close(c, "idle");
		return;
	}
	evloop_timer_start(el, &c->idle, idle_ms - quiet_for);
}

static void on_accept(struct evloop *el, int lfd, int fd, void *arg);

static void
on_resume_accept(struct evloop *el, struct evloop_timer *t, void *arg)
{
	struct worker *w = arg;

	(void)t;
	if (w->reserve < 0)
		w->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!w->stopping && evloop_accept(el, w->lfd, on_accept, w) < 0)
		evloop_timer_start(el, &w->pause, PAUSE_MS);
}

/* Out of descriptors: the spare one makes room to accept and close the
 * connection, so it leaves the queue instead of waking us forever.
 * Returns 0 when one was shed, else accepting pauses a moment: Linux
 * reports EMFILE before it looks at the queue, so an empty queue would
 * report it again at once. */
static int
shed_emfile(struct worker *w)
{
	int fd = -EMFILE;

	if (w->reserve >= 0) {
		close(w->reserve);
		w->reserve = -1;
		fd = sock_accept(w->lfd, 1, NULL);
		if (fd >= 0) {
			close(fd);
			w->shed++;
		}
		w->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (w->reserve >= 0 && fd >= 0)
			return 0;
	}
	evloop_timer_start(w->el, &w->pause, PAUSE_MS);
	return -1;
}

/* Accepting stopped on an error: go on now, or after a pause. */
static void
accept_error(struct worker *w, int err)
{
	if (err == -EMFILE || err == -ENFILE) {
		if (shed_emfile(w) != 0)
			return;
	} else if (err == -ENOBUFS || err == -ENOMEM) {
		evloop_timer_start(w->el, &w->pause, PAUSE_MS);
		return;
	}
	/* ECONNABORTED and the like: that one is gone. */
	if (evloop_accept(w->el, w->lfd, on_accept, w) < 0)
		evloop_timer_start(w->el, &w->pause, PAUSE_MS);
}

/* A new client: its state, its idle timer, and receiving. Returns 0, or
 * -errno after which fd is the caller's to close. */
static int
client_new(struct worker *w, int fd)
{
	const struct server_opts *o = w->o;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	struct client *c;
	char name[64];

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->fd = fd;
	c->w = w;
	c->last = evloop_now(w->el);
	evloop_timer_init(&c->idle, on_idle, c);
	if (!o->quiet && getpeername(fd, (struct sockaddr *)&peer, &len) == 0)
		c->name = strdup(sock_addr_str(&peer, name, sizeof(name)));
	if (evloop_recv(w->el, fd, on_recv, c) < 0 ||
	    (o->idle_ms > 0 &&
	     evloop_timer_start(w->el, &c->idle, o->idle_ms) < 0)) {
		evloop_del(w->el, fd);
		evloop_timer_stop(w->el, &c->idle);
		free(c->name);
		free(c);
		return -ENOMEM;
	}
	sock_set_nodelay(fd, 1);
	c->next = w->clients;
	if (c->next)
		c->next->prev = c;
	w->clients = c;
	atomic_fetch_add(&nclients, 1);
	w->served++;
	if (!o->quiet)
		fprintf(stderr, "%s: %s: connected\n", progname,
			c->name ? c->name : "?");
	return 0;
}

static void
on_accept(struct evloop *el, int lfd, int fd, void *arg)
{
	struct worker *w = arg;
	const struct server_opts *o = w->o;

	(void)el;
	(void)lfd;
	if (fd < 0) {
		accept_error(w, fd);
		return;
	}
	if ((o->max_clients > 0 && atomic_load(&nclients) >= o->max_clients) ||
	    client_new(w, fd) < 0) {
		close(fd);
		w->shed++;
	}
}

static void
on_flush_timeout(struct evloop *el, struct evloop_timer *t, void *arg)
{
	struct worker *w = arg;

	(void)t;
	while (w->clients != NULL)
		client_close(w->clients, "shutdown, output dropped");
	evloop_stop(el);
}

/* Shutdown: no new clients, no more input; pending output gets FLUSH_MS. */
static void
on_stop(struct evloop *el, int fd, int events, void *arg)
{
	struct worker *w = arg;
	uint64_t v;
	struct client *c, *next;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0 && errno == EAGAIN)
		return;
	w->stopping = 1;
	evloop_del(el, fd);
	evloop_del(el, w->lfd);
	evloop_timer_stop(el, &w->pause);
	close(w->lfd);
	w->lfd = -1;
	for (c = w->clients; c != NULL; c = next) {
		next = c->next;
		evloop_recv_stop(el, c->fd);
		client_done(c);
	}
	if (w->clients == NULL)
		evloop_stop(el);
	else
		evloop_timer_start(el, &w->flush, FLUSH_MS);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	int rc;

	rc = evloop_run(w->el);
	if (rc < 0) {
		w->error = rc;
		/* Tell the main thread, which waits for signals only. */
		kill(getpid(), SIGUSR1);
	}
	while (w->clients != NULL)
		client_close(w->clients, "shutdown");
	return NULL;
}

static int
worker_setup(struct worker *w, const char *backend, long setsize)
{
	int rc;

	w->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	w->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stopfd < 0)
		return -errno;
	if ((w->el = evloop_new(backend, (int)setsize)) == NULL)
		return -errno;
	evloop_timer_init(&w->pause, on_resume_accept, w);
	evloop_timer_init(&w->flush, on_flush_timeout, w);
	if ((rc = evloop_accept(w->el, w->lfd, on_accept, w)) < 0)
		return rc;
	if ((rc = evloop_add(w->el, w->stopfd, EVLOOP_READ, on_stop, w)) < 0)
		return rc;
	return 0;
}

static void
worker_cleanup(struct worker *w)
{
	evloop_free(w->el);
	if (w->lfd >= 0)
		close(w->lfd);
	if (w->stopfd >= 0)
		close(w->stopfd);
	if (w->reserve >= 0)
		close(w->reserve);
}

/* getopt_long()'s short options (a literal, which the completion test
 * reads from the preprocessed source). */
#define OPTSTRING "p:b:t:m:w:qh"

static const struct option longopts[] = {
	{"port", required_argument, NULL, 'p'},
	{"bind", required_argument, NULL, 'b'},
	{"backend", required_argument, NULL, 'B'},
	{"idle", required_argument, NULL, 't'},
	{"max-clients", required_argument, NULL, 'm'},
	{"workers", required_argument, NULL, 'w'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct server_opts *o)
{
	long long v;
	double secs;
	int c, rc;

	*o = (struct server_opts){
		.backend = "poll",
		.port = 3000,
		.nworkers = 1,
		.idle_ms = 300000,
	};
	opterr = 0;
	while ((c = getopt_long(argc, argv, OPTSTRING, longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->port = cli_long_arg(optarg, 0, 65535,
					       "port (0 to 65535)");
			break;
		case 'b':
			o->host = optarg;
			break;
		case 'B':
			if (strcmp(optarg, "poll") != 0 &&
			    strcmp(optarg, "epoll") != 0 &&
			    strcmp(optarg, "uring") != 0)
				cli_bad_value("backend (poll, epoll or uring)",
					      optarg, -EINVAL);
			o->backend = optarg;
			break;
		case 't':
			if ((rc = cli_parse_seconds(optarg, 86400 * 365,
						    &secs)) < 0)
				cli_bad_value("idle timeout in seconds", optarg,
					      rc);
			o->idle_ms = (uint64_t)(secs * 1000 + 0.5);
			if (secs > 0 && o->idle_ms == 0)
				o->idle_ms = 1;
			break;
		case 'm':
			v = cli_long_arg(optarg, 1, 100000000,
					 "client limit (1 or more)");
			o->max_clients = (long)v;
			break;
		case 'w':
			o->nworkers = cli_long_arg(optarg, 1, MAX_WORKERS,
						   "worker count (1 to 64)");
			break;
		case 'q':
			o->quiet = 1;
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
}

/* A listener and a loop for each worker; the port they share, or -1
 * after a warning. */
static long long
listen_all(const struct server_opts *o, struct worker *ws, long limit)
{
	long long port = o->port;
	int flags = SOCKF_NONBLOCK | (o->nworkers > 1 ? SOCKF_REUSEPORT : 0);
	int rc;

	for (int i = 0; i < o->nworkers; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->lfd = sock_listen(o->host, (int)port, 4096, flags);
		if (w->lfd < 0) {
			warnx("%s port %lld: %s", o->host ? o->host : "*", port,
			      sock_strerror(w->lfd));
			return -1;
		}
		/* Port 0: the first worker's port is everyone's. */
		if (port == 0)
			port = sock_local_port(w->lfd);
		if ((rc = worker_setup(w, o->backend, limit)) < 0) {
			warnx("worker %d: %s", i, strerror(-rc));
			return -1;
		}
	}
	return port;
}

/* The line saying where we listen, once every listener is up. */
static void
announce(const struct server_opts *o, int lfd, long long port, long limit)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char addr[80];

	if (getsockname(lfd, (struct sockaddr *)&ss, &sslen) == 0)
		sock_addr_str(&ss, addr, sizeof(addr));
	else
		snprintf(addr, sizeof(addr), "port %lld", port);
	fprintf(stderr,
		"%s: listening on %s (%s backend, %lld worker%s, "
		"%ld descriptors)\n",
		progname, addr, o->backend, o->nworkers,
		o->nworkers > 1 ? "s" : "", limit);
}

/* Starts the workers; how many started, fewer after a warning. */
static int
start_workers(struct worker *ws, long long n)
{
	int rc, started;

	for (started = 0; started < n; started++) {
		if ((rc = pthread_create(&ws[started].thread, NULL, worker_run,
					 &ws[started])) != 0) {
			warnx("worker %d: %s", started, strerror(rc));
			break;
		}
	}
	return started;
}

/* Tells the first n workers to stop, waits for them and prints the
 * totals; 1 when a worker failed, else 0. */
static int
stop_workers(struct worker *ws, int n)
{
	unsigned long long served = 0, echoed = 0, shed = 0;
	char per[MAX_WORKERS * 22 + 16];
	int status = 0;

	for (int i = 0; i < n; i++) {
		uint64_t one = 1;
		if (write(ws[i].stopfd, &one, sizeof(one)) < 0)
			warn("stopping worker %d", i);
	}
	per[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t l = strlen(per);
		pthread_join(ws[i].thread, NULL);
		if (ws[i].error < 0) {
			warnx("worker %d: %s", i, evloop_strerror(ws[i].error));
			status = 1;
		}
		served += ws[i].served;
		echoed += ws[i].echoed;
		shed += ws[i].shed;
		snprintf(per + l, sizeof(per) - l, "%s%llu", i ? "+" : "",
			 ws[i].served);
	}
	fprintf(stderr,
		"%s: served %llu clients (workers %s), echoed %llu "
		"bytes, shed %llu connections\n",
		progname, served, per, echoed, shed);
	return status;
}

/* Whether the backend works here: io_uring may be missing, disabled or
 * filtered. 0, or -1 after a one-line reason. */
static int
backend_check(const char *backend)
{
	struct evloop *el = evloop_new(backend, 64);

	if (el != NULL) {
		evloop_free(el);
		return 0;
	}
	warnx("--backend %s: %s", backend,
	      errno == EOPNOTSUPP ? "io_uring here is older than Linux 6.0" :
	      errno == ENOSYS	  ? "io_uring is not available here" :
	      errno == EPERM	  ? "io_uring is disabled here" :
				    strerror(errno));
	return -1;
}

/* Serves until SIGINT or SIGTERM, or until a worker fails; the exit
 * status. */
static int
run(const struct server_opts *o)
{
	struct worker ws[MAX_WORKERS];
	long long port;
	sigset_t set;
	long limit;
	int sig, status = 0, started;

	signal(SIGPIPE, SIG_IGN);
	/* Workers inherit this mask; only the main thread takes signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (backend_check(o->backend) < 0)
		return 1;
	if ((limit = sock_raise_nofile(0)) < 0) {
		warnx("descriptor limit: %s", strerror((int)-limit));
		limit = 1024;
	}

	memset(ws, 0, sizeof(ws));
	for (int i = 0; i < o->nworkers; i++) {
		ws[i].lfd = ws[i].stopfd = ws[i].reserve = -1;
		ws[i].o = o;
	}
	if ((port = listen_all(o, ws, limit)) < 0) {
		status = 1;
		goto out;
	}
	announce(o, ws[0].lfd, port, limit);

	started = start_workers(ws, o->nworkers);
	if (started < o->nworkers)
		status = 1;
	if (status == 0) {
		if (sigwait(&set, &sig) != 0)
			sig = SIGTERM;
		if (sig == SIGUSR1)
			status = 1;
	}
	if (stop_workers(ws, started) != 0)
		status = 1;
out:
	for (int i = 0; i < o->nworkers; i++)
		worker_cleanup(&ws[i]);
	return status;
}

int
main(int argc, char **argv)
{
	struct server_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
