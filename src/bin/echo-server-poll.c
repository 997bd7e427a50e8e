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

#include "buf.h"
#include "cli.h"
#include "evloop.h"
#include "sock.h"

#define SCRATCH (64 * 1024)
/* Past this much pending output a client is no longer read: its own
 * memory stays below HIGH_WATER + SCRATCH, whatever it sends. */
#define HIGH_WATER     (256 * 1024)
#define READS_PER_WAKE 16   /* fairness: then the next ready client */
#define FLUSH_MS       2000 /* at shutdown, for pending output */
#define PAUSE_MS       100  /* accepting paused when out of descriptors */
#define MAX_WORKERS    64

/* What the command line asks for; parse_args fills it and nothing changes
 * it after that, so the workers read it without a lock. */
struct server_opts {
	const char *host;    /* NULL: every address */
	const char *backend; /* "poll" or "epoll" */
	long long port;	     /* 0: the kernel chooses */
	long long nworkers;
	uint64_t idle_ms; /* 0: never time out */
	long max_clients; /* 0: as many as descriptors allow */
	int quiet;
};

struct worker;

struct client {
	int fd;
	int eof; /* peer finished sending; close once flushed */
	struct worker *w;
	struct client *prev, *next;
	struct buf out;
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
	char *scratch;
	pthread_t thread;
};

static const char *progname = "echo-server-poll";
static atomic_long nclients;

static void
usage(FILE *f)
{
	fprintf(f, "usage: echo-server-poll [-p PORT] [-b ADDR] [--backend "
		   "poll|epoll]\n"
		   "                        [-t IDLE_SECONDS] [-m MAX_CLIENTS] "
		   "[-w WORKERS] [-q]\n"
		   "Echoes every byte back to every client, one thread per "
		   "worker.\n"
		   "\n"
		   "  -p, --port PORT          port (default 3000; 0: the "
		   "kernel chooses)\n"
		   "  -b, --bind ADDR          address to bind (default: every "
		   "address)\n"
		   "      --backend NAME       poll (default) or epoll\n"
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
	evloop_del(w->el, c->fd);
	evloop_timer_stop(w->el, &c->idle);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	buf_release(&c->out);
	free(c->name);
	free(c);
	atomic_fetch_sub(&nclients, 1);
	if (w->stopping && w->clients == NULL)
		evloop_stop(w->el);
}

/* Interest follows state: read while output is below the high-water mark
 * (and the peer still sends), write only while output is pending. */
static void
client_update(struct client *c)
{
	size_t pending = buf_len(&c->out);
	int ev = 0;

	if (!c->eof && !c->w->stopping && pending < HIGH_WATER)
		ev |= EVLOOP_READ;
	if (pending > 0)
		ev |= EVLOOP_WRITE;
	if (ev == 0) {
		/* Nothing to read, nothing to write: done. */
		client_close(c, c->eof ? "EOF" : "shutdown");
		return;
	}
	evloop_set(c->w->el, c->fd, ev);
}

/* Sends what is pending. Returns 0, or -errno after which c is unusable. */
static int
client_flush(struct client *c)
{
	while (buf_len(&c->out) > 0) {
		ssize_t n = send(c->fd, buf_data(&c->out), buf_len(&c->out),
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		buf_consume(&c->out, (size_t)n);
		c->echoed += (unsigned long long)n;
		c->w->echoed += (unsigned long long)n;
		c->last = evloop_now(c->w->el);
	}
	/* An idle client holds no buffer. */
	buf_release(&c->out);
	return 0;
}

/* Echoes n bytes just read: straight back when nothing waits before them,
 * else (or for what the socket does not take) into the client's buffer. */
static int
client_echo(struct client *c, const char *p, size_t n)
{
	if (buf_len(&c->out) == 0) {
		ssize_t s;
		do
			s = send(c->fd, p, n, MSG_NOSIGNAL);
		while (s < 0 && errno == EINTR);
		if (s < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			s = 0;
		}
		c->echoed += (unsigned long long)s;
		c->w->echoed += (unsigned long long)s;
		p += s;
		n -= (size_t)s;
	}
	return buf_append(&c->out, p, n);
}

static void
on_client(struct evloop *el, int fd, int events, void *arg)
{
	struct client *c = arg;
	struct worker *w = c->w;
	int rc;

	(void)fd;
	if (events & (EVLOOP_WRITE | EVLOOP_ERROR)) {
		if ((rc = client_flush(c)) < 0) {
			client_close(c, strerror(-rc));
			return;
		}
	}
	if ((events & (EVLOOP_READ | EVLOOP_ERROR)) && !c->eof &&
	    !w->stopping) {
		for (int i = 0; i < READS_PER_WAKE; i++) {
			ssize_t n = recv(c->fd, w->scratch, SCRATCH, 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				client_close(c, strerror(errno));
				return;
			}
			if (n == 0) {
				c->eof = 1;
				break;
			}
			c->last = evloop_now(el);
			if ((rc = client_echo(c, w->scratch, (size_t)n)) < 0) {
				client_close(c, strerror(-rc));
				return;
			}
			/* TCP hands over everything queued, up to the size
			 * asked: a short read means the socket is drained,
			 * and level triggering wakes us for anything new. */
			if (n < SCRATCH || buf_len(&c->out) >= HIGH_WATER)
				break;
		}
	}
	client_update(c);
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

static void
on_resume_accept(struct evloop *el, struct evloop_timer *t, void *arg)
{
	struct worker *w = arg;

	(void)t;
	if (w->reserve < 0)
		w->reserve = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (!w->stopping)
		evloop_set(el, w->lfd, EVLOOP_READ);
}

/* Out of descriptors: the spare one makes room to accept and close the
 * connection, so it leaves the queue instead of waking us forever.
 * Returns 0 when one was shed, 1 when none was pending (Linux reports
 * EMFILE before it looks at the queue), -1 when accepting is paused. */
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
		if (w->reserve >= 0 && fd != -EMFILE && fd != -ENFILE)
			return fd >= 0 ? 0 : 1;
	}
	/* No spare (another worker took it): stop listening a moment. */
	evloop_set(w->el, w->lfd, 0);
	evloop_timer_start(w->el, &w->pause, PAUSE_MS);
	return -1;
}

static void
on_accept(struct evloop *el, int lfd, int events, void *arg)
{
	struct worker *w = arg;
	const struct server_opts *o = w->o;
	struct sockaddr_storage peer;
	struct client *c;
	char name[64];
	int fd;

	(void)events;
	for (;;) {
		fd = sock_accept(lfd, 1, &peer);
		if (fd == -EAGAIN)
			return;
		if (fd == -EMFILE || fd == -ENFILE) {
			if (shed_emfile(w) != 0)
				return;
			continue;
		}
		if (fd == -ENOBUFS || fd == -ENOMEM) {
			evloop_set(el, lfd, 0);
			evloop_timer_start(el, &w->pause, PAUSE_MS);
			return;
		}
		if (fd < 0) /* ECONNABORTED and the like: that one is gone */
			continue;
		if ((o->max_clients > 0 &&
		     atomic_load(&nclients) >= o->max_clients) ||
		    (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			w->shed++;
			continue;
		}
		c->fd = fd;
		c->w = w;
		c->last = evloop_now(el);
		buf_init(&c->out);
		evloop_timer_init(&c->idle, on_idle, c);
		if (!o->quiet)
			c->name = strdup(
				sock_addr_str(&peer, name, sizeof(name)));
		if (evloop_add(el, fd, EVLOOP_READ, on_client, c) < 0 ||
		    (o->idle_ms > 0 &&
		     evloop_timer_start(el, &c->idle, o->idle_ms) < 0)) {
			evloop_del(el, fd);
			close(fd);
			free(c->name);
			free(c);
			w->shed++;
			continue;
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
		client_update(c);
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
	if ((w->scratch = malloc(SCRATCH)) == NULL)
		return -ENOMEM;
	if ((w->el = evloop_new(backend, (int)setsize)) == NULL)
		return -errno;
	evloop_timer_init(&w->pause, on_resume_accept, w);
	evloop_timer_init(&w->flush, on_flush_timeout, w);
	if ((rc = evloop_add(w->el, w->lfd, EVLOOP_READ, on_accept, w)) < 0)
		return rc;
	if ((rc = evloop_add(w->el, w->stopfd, EVLOOP_READ, on_stop, w)) < 0)
		return rc;
	return 0;
}

static void
worker_cleanup(struct worker *w)
{
	evloop_free(w->el);
	free(w->scratch);
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
			    strcmp(optarg, "epoll") != 0)
				cli_bad_value("backend (poll or epoll)", optarg,
					      -EINVAL);
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
