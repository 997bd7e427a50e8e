/* SPDX-License-Identifier: ISC */
/* httpserv.c -- the server: listening, connection threads, keep-alive, stop. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpserv.h"
#include "httpserv_int.h"
#include "sock.h"
#include "mtime.h"

#define CONN_STACK    (256 * 1024)
#define DEFAULT_CONNS 128
#define PACED_MSS     1448

/* ---- requests ---- */

/* Reads until a whole request head is in buf. Returns its length, 0 when
 * the connection ends (EOF, idle, stop) or -EMSGSIZE when the head is too
 * long or not text. */
static long
read_head(struct httpserv_conn *c, char *buf, size_t *have)
{
	struct httpserv *s = c->srv;
	int idle_ms = (int)(s->o.idle_timeout * 1000);

	for (;;) {
		struct pollfd p[2] = {
			{.fd = c->fd, .events = POLLIN},
			{.fd = s->stopfd[0], .events = POLLIN},
		};
		char *end;
		ssize_t n;

		buf[*have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			return end + 4 - buf;
		if ((end = strstr(buf, "\n\n")) != NULL)
			return end + 2 - buf;
		if (*have >= REQ_MAX)
			return -EMSGSIZE;
		if (strlen(buf) != *have)
			return -EMSGSIZE; /* a NUL inside the head: not HTTP */
		n = poll(p, 2, idle_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (p[1].revents & POLLIN))
			return 0;
		n = recv(c->fd, buf + *have, REQ_MAX - *have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		*have += (size_t)n;
	}
}

/* Serves r, or refuses it when the connection is one past the client's
 * limit; the first request also starts the clock of opts.rate_after. */
static int
serve_or_refuse(struct httpserv_conn *c, struct httpserv_req *r,
		struct httpserv_resp *rs)
{
	struct httpserv *s = c->srv;

	if (s->o.rate_after > 0) {
		pthread_mutex_lock(&s->lock);
		if (s->first_req == 0)
			s->first_req = mtime_now();
		pthread_mutex_unlock(&s->lock);
	}
	if (c->over) {
		rs->keep = 0;
		return httpserv__send_simple(c, r, rs, 503,
					     "Retry-After: 1\r\n");
	}
	return httpserv__serve(c, r, rs);
}

/* Answers one request head. Returns 1 to keep the connection, else 0. */
static int
handle(struct httpserv_conn *c, char *head, long len)
{
	struct httpserv *s = c->srv;
	struct httpserv_req r;
	struct httpserv_resp rs = {.status = 0, .keep = 1};
	int rc;

	head[len] = '\0';
	if (httpserv__parse_head(head, &r) < 0 || (r.minor == 1 && !r.host) ||
	    r.body) {
		/* Unsure where this request ends: answer and close. */
		rs.keep = 0;
		rc = httpserv__send_simple(c, NULL, &rs, 400, NULL);
	} else {
		rs.minor = r.minor;
		if (r.minor == 1)
			rs.keep = !httpserv__has_token(r.connection, "close");
		else
			rs.keep =
				httpserv__has_token(r.connection, "keep-alive");
		rc = serve_or_refuse(c, &r, &rs);
	}
	c->cut = rs.cut;
	pthread_mutex_lock(&s->lock);
	s->nreqs++;
	pthread_mutex_unlock(&s->lock);
	if (s->o.log != NULL) {
		struct httpserv_logent e = {
			.conn = c->id,
			.method = r.method ? r.method : "?",
			.target = r.target ? r.target : "?",
			.range = r.range,
			.status = rs.status,
			.sent = rs.sent,
			.cut = rs.cut,
		};
		s->o.log(&e, s->o.log_arg);
	}
	return rc == 0 && rs.keep;
}

/*
 * Closing a socket with unread input makes the kernel send a reset, which
 * can destroy the response before the client reads it (after a 400 to a
 * pipelined batch, say). So half-close, then read and drop what the
 * client still sends, for a bounded time.
 */
static void
linger_close(struct httpserv_conn *c, char *buf)
{
	double end = mtime_now() + 1.0;
	long total = 0;

	shutdown(c->fd, SHUT_WR);
	while (total < 1024 * 1024) {
		struct pollfd p[2] = {
			{.fd = c->fd, .events = POLLIN},
			{.fd = c->srv->stopfd[0], .events = POLLIN},
		};
		double left = end - mtime_now();
		ssize_t n;

		if (left <= 0 || poll(p, 2, (int)(left * 1000) + 1) <= 0 ||
		    (p[1].revents & POLLIN))
			break;
		n = recv(c->fd, buf, REQ_MAX, MSG_DONTWAIT);
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			break;
		total += n > 0 ? n : 0;
	}
}

static void *
conn_main(void *arg)
{
	struct httpserv_conn *c = arg;
	struct httpserv *s = c->srv;
	char *buf = malloc(REQ_MAX + 1);
	size_t have = 0;

	httpserv__pace(c);
	while (buf != NULL && !atomic_load(&s->stopping)) {
		long len = read_head(c, buf, &have);
		int keep;

		if (len == 0)
			break;
		if (len < 0) {
			struct httpserv_resp rs = {.keep = 0};

			httpserv__send_simple(c, NULL, &rs, 431, NULL);
			break;
		}
		/* The head is parsed in place; keep what follows it. */
		{
			char next = buf[len];

			keep = handle(c, buf, len);
			buf[len] = next;
		}
		memmove(buf, buf + len, have - (size_t)len);
		have -= (size_t)len;
		if (!keep)
			break;
	}
	if (buf != NULL && !c->cut && !atomic_load(&s->stopping))
		linger_close(c, buf);
	free(buf);
	pthread_mutex_lock(&s->lock);
	close(c->fd);
	c->fd = -1;
	c->state = SLOT_DONE;
	s->live--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
			      sizeof(a6->sin6_addr)) == 0;
	return 0;
}

/* Is a new connection from peer one past its client's limit? Called with
 * s->lock held: it counts the connections being served to that address. */
static int
over_limit_locked(struct httpserv *s, const struct sockaddr_storage *peer)
{
	int n = 0;

	if (s->o.max_per_client <= 0)
		return 0;
	for (int i = 0; i < s->o.max_conns; i++) {
		const struct httpserv_conn *c = &s->conns[i];

		n += c->state == SLOT_RUN && !c->over &&
		     same_addr(&c->peer, peer);
	}
	return n >= s->o.max_per_client;
}

/* Joins finished connection threads. Called with s->lock held; those
 * threads have left their last critical section, so the join is short. */
static void
reap_locked(struct httpserv *s)
{
	for (int i = 0; i < s->o.max_conns; i++) {
		if (s->conns[i].state == SLOT_DONE) {
			pthread_join(s->conns[i].thread, NULL);
			s->conns[i].state = SLOT_FREE;
		}
	}
}

/*
 * Milliseconds until the cap changes (opts.rate_after; -1: it never will,
 * or has). At the change it gives every open connection the new cap: a
 * connection whose whole reply is already queued makes no more writes to
 * take it at. Called by the accepting thread only.
 */
static int
rate_change(struct httpserv *s, int *done)
{
	unsigned long r = s->o.rate_later;
	double due, now = mtime_now();
	int ms = -1;

	if (s->o.rate_after <= 0 || *done)
		return -1;
	pthread_mutex_lock(&s->lock);
	due = s->first_req + s->o.rate_after;
	if (s->first_req == 0) {
		ms = 50; /* no request yet: look again soon */
	} else if (now < due) {
		ms = (int)((due - now) * 1000) + 1;
	} else {
		for (int i = 0; i < s->o.max_conns; i++)
			if (s->conns[i].state == SLOT_RUN &&
			    s->conns[i].fd >= 0)
				sock_set_pacing(s->conns[i].fd, r ? r : ~0UL);
		*done = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return ms;
}

static void *
accept_main(void *arg)
{
	struct httpserv *s = arg;
	pthread_attr_t attr;
	int changed = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CONN_STACK);
	for (;;) {
		struct pollfd p[2] = {
			{.fd = s->lfd, .events = POLLIN},
			{.fd = s->stopfd[0], .events = POLLIN},
		};
		struct httpserv_conn *c = NULL;
		struct sockaddr_storage peer;
		int fd;

		/* Past the bound, new clients wait in the listen backlog. */
		pthread_mutex_lock(&s->lock);
		while (!atomic_load(&s->stopping) && s->live >= s->o.max_conns)
			pthread_cond_wait(&s->cond, &s->lock);
		reap_locked(s);
		pthread_mutex_unlock(&s->lock);
		if (atomic_load(&s->stopping))
			break;
		if (poll(p, 2, rate_change(s, &changed)) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		memset(&peer, 0, sizeof(peer));
		fd = sock_accept(s->lfd, 0, &peer);
		if (fd < 0) {
			/* Out of descriptors, say: let some connections end. */
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ||
			    fd == -ENOBUFS)
				httpserv__wait_or_stop(s, 50);
			continue;
		}
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->o.max_conns; i++) {
			if (s->conns[i].state == SLOT_FREE) {
				c = &s->conns[i];
				break;
			}
		}
		/* live < max_conns and reaped: a free slot exists. */
		if (c == NULL) {
			pthread_mutex_unlock(&s->lock);
			close(fd);
			continue;
		}
		c->over = over_limit_locked(s, &peer);
		c->peer = peer;
		c->paced = 0;
		c->fd = fd;
		c->state = SLOT_RUN;
		c->id = ++s->nconns;
		s->live++;
		if (pthread_create(&c->thread, &attr, conn_main, c) != 0) {
			close(fd);
			c->fd = -1;
			c->state = SLOT_FREE;
			s->live--;
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

struct httpserv *
httpserv_new(const struct httpserv_opts *opts)
{
	struct httpserv *s;
	int rc, e;

	if (opts == NULL || opts->root == NULL || opts->max_conns < 0 ||
	    opts->idle_timeout < 0 || opts->rate_after < 0 ||
	    opts->max_per_client < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *opts;
	s->rootfd = s->lfd = s->stopfd[0] = s->stopfd[1] = -1;
	if (s->o.max_conns == 0)
		s->o.max_conns = DEFAULT_CONNS;
	if (s->o.idle_timeout == 0)
		s->o.idle_timeout = 30;
	if (s->o.idle_timeout > 86400)
		s->o.idle_timeout = 86400;
	s->o.root = NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->link_lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	atomic_init(&s->stopping, 0);
	if ((s->root = strdup(opts->root)) == NULL)
		goto fail;
	if ((s->realroot = realpath(s->root, NULL)) == NULL)
		goto fail;
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		goto fail;
	s->conns = calloc((size_t)s->o.max_conns, sizeof(*s->conns));
	if (s->conns == NULL)
		goto fail;
	for (int i = 0; i < s->o.max_conns; i++) {
		s->conns[i].srv = s;
		s->conns[i].fd = -1;
	}
	if (pipe2(s->stopfd, O_CLOEXEC) < 0)
		goto fail;
	rc = sock_listen(s->o.host ? s->o.host : "127.0.0.1", s->o.port, 511,
			 0);
	if (rc < 0) {
		errno = rc <= SOCK_ERESOLVE + 100 ? EADDRNOTAVAIL : -rc;
		goto fail;
	}
	s->lfd = rc;
	if (s->o.rate != 0 || s->o.rate_later != 0) {
		/*
		 * The kernel sends a connection's first 10 segments unpaced.
		 * Loopback's 64 KiB segments would make that 640 KiB free of
		 * the cap; an Ethernet-sized MSS (inherited by accepted
		 * sockets) keeps it to 14 KiB, as on the internet.
		 */
		int mss = PACED_MSS;

		setsockopt(s->lfd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	}
	s->port = sock_local_port(s->lfd);
	s->o.host = NULL;
	return s;
fail:
	e = errno;
	httpserv_free(s);
	errno = e;
	return NULL;
}

int
httpserv_port(const struct httpserv *s)
{
	return s->port;
}

int
httpserv_start(struct httpserv *s)
{
	sigset_t all, old;
	int rc;

	if (s->started)
		return -EALREADY;
	/* Threads inherit the mask: the server's threads take no signals
	 * (and a write to a closed peer is EPIPE, never SIGPIPE). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->acceptor, NULL, accept_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	s->started = 1;
	return 0;
}

void
httpserv_stop(struct httpserv *s)
{
	struct httpserv_conn *busy[64];
	int nb;

	if (s == NULL || !s->started)
		return;
	s->started = 0;
	atomic_store(&s->stopping, 1);
	if (write(s->stopfd[1], "x", 1) < 0) {
		/* A pipe with room for one byte cannot fail here. */
	}
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->acceptor, NULL);
	/* Wake connections blocked in a send, then join them all. */
	do {
		nb = 0;
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->o.max_conns && nb < 64; i++) {
			struct httpserv_conn *c = &s->conns[i];

			if (c->state == SLOT_FREE)
				continue;
			if (c->fd >= 0)
				shutdown(c->fd, SHUT_RDWR);
			busy[nb++] = c;
		}
		pthread_mutex_unlock(&s->lock);
		for (int i = 0; i < nb; i++) {
			pthread_join(busy[i]->thread, NULL);
			pthread_mutex_lock(&s->lock);
			busy[i]->state = SLOT_FREE;
			pthread_mutex_unlock(&s->lock);
		}
	} while (nb > 0);
}

void
httpserv_stats(struct httpserv *s, struct httpserv_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->connections = s->nconns;
	st->requests = s->nreqs;
	st->live = s->live;
	pthread_mutex_unlock(&s->lock);
}

void
httpserv_free(struct httpserv *s)
{
	struct httpserv_fault_count *fc, *next;

	if (s == NULL)
		return;
	httpserv_stop(s);
	for (fc = s->faults; fc != NULL; fc = next) {
		next = fc->next;
		free(fc);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->rootfd >= 0)
		close(s->rootfd);
	if (s->stopfd[0] >= 0)
		close(s->stopfd[0]);
	if (s->stopfd[1] >= 0)
		close(s->stopfd[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->link_lock);
	pthread_cond_destroy(&s->cond);
	free(s->conns);
	free(s->root);
	free(s->realroot);
	free(s);
}
