/* SPDX-License-Identifier: ISC */
/* evloop_io.c -- the completion API (accept, receive, send with callbacks),
 * done by the backend when it can (uring), else on readiness here. */
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "evloop.h"
#include "evloop/evloop_int.h"

#define IO_RBUF		    (64 * 1024)
#define IO_READS_PER_WAKE   16 /* fairness: then the next ready descriptor */
#define IO_ACCEPTS_PER_WAKE 64

struct evloop__io *
evloop__io_get(struct evloop *el, int fd)
{
	struct evloop__watch *w = &el->watch[fd];

	if (w->io == NULL) {
		if ((w->io = calloc(1, sizeof(*w->io))) == NULL)
			return NULL;
		w->io->fd = fd;
	}
	return w->io;
}

struct evloop__ioq *
evloop__ioq_get(struct evloop__io *io)
{
	if (io->q == NULL)
		io->q = calloc(1, sizeof(*io->q));
	return io->q;
}

static void
ioq_free(struct evloop__io *io)
{
	buf_release(&io->q->out);
	buf_release(&io->q->inflight);
	buf_release(&io->q->stash);
	free(io->q);
	io->q = NULL;
}

void
evloop__ioq_trim(struct evloop__io *io)
{
	const struct evloop__ioq *q = io->q;

	if (q != NULL && buf_len(&q->out) == 0 && buf_len(&q->inflight) == 0 &&
	    buf_len(&q->stash) == 0 && q->stash_end == 0)
		ioq_free(io);
}

void
evloop__io_release(struct evloop *el, struct evloop__io *io)
{
	(void)el;
	if (!(io->flags & EVLOOP__DEAD) || io->busy > 0 || io->refs > 0)
		return;
	if (io->q != NULL)
		ioq_free(io);
	free(io);
}

void
evloop__io_del(struct evloop *el, struct evloop__io *io)
{
	el->watch[io->fd].io = NULL;
	io->flags = EVLOOP__DEAD;
	if (el->be->del != NULL)
		el->be->del(el, io);
	evloop__io_release(el, io);
}

/* The emulation on readiness: the interest follows what io is doing. */

static void io_ready(struct evloop *el, int fd, int events, void *arg);

static int
io_update(struct evloop *el, struct evloop__io *io)
{
	struct evloop__watch *w = &el->watch[io->fd];
	int ev = 0, rc;

	if (io->flags & (EVLOOP__ACCEPTING | EVLOOP__RECEIVING))
		ev |= EVLOOP_READ;
	if (evloop__out_len(io) > 0)
		ev |= EVLOOP_WRITE;
	if (w->events == ev && w->cb == io_ready)
		return 0;
	if ((rc = el->be->set(el, io->fd, w->events, ev)) < 0)
		return rc;
	w->events = ev;
	w->cb = io_ready;
	w->arg = io;
	return 0;
}

/* Sends what is queued. Returns 0, or -errno when the queue was dropped. */
static int
io_flush(struct evloop *el, struct evloop__io *io)
{
	ssize_t n;

	while (evloop__out_len(io) > 0) {
		struct buf *out = &io->q->out;
		n = send(io->fd, buf_data(out), buf_len(out),
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0) {
			int e = errno;
			buf_release(out);
			evloop__ioq_trim(io);
			if (io->send_cb != NULL)
				io->send_cb(el, io->fd, -e, io->send_arg);
			return -e;
		}
		buf_consume(out, (size_t)n);
		evloop__ioq_trim(io);
		if (io->send_cb != NULL)
			io->send_cb(el, io->fd, n, io->send_arg);
		if (io->flags & EVLOOP__DEAD)
			return 0;
	}
	return 0;
}

static void
io_accept_ready(struct evloop *el, struct evloop__io *io)
{
	for (int i = 0; i < IO_ACCEPTS_PER_WAKE; i++) {
		int fd = accept4(io->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (fd < 0) {
			fd = -errno;
			io->flags &= ~EVLOOP__ACCEPTING;
		}
		io->accept_cb(el, io->fd, fd, io->recv_arg);
		if ((io->flags & (EVLOOP__DEAD | EVLOOP__ACCEPTING)) !=
		    EVLOOP__ACCEPTING)
			return;
	}
}

static void
io_recv_ready(struct evloop *el, struct evloop__io *io)
{
	ssize_t n;

	if (el->rbuf == NULL && (el->rbuf = malloc(IO_RBUF)) == NULL)
		return; /* level-triggered: tried again next time */
	for (int i = 0; i < IO_READS_PER_WAKE; i++) {
		n = recv(io->fd, el->rbuf, IO_RBUF, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			n = n < 0 ? -errno : 0;
			io->flags &= ~EVLOOP__RECEIVING;
		}
		io->recv_cb(el, io->fd, el->rbuf, n, io->recv_arg);
		if ((io->flags & (EVLOOP__DEAD | EVLOOP__RECEIVING)) !=
		    EVLOOP__RECEIVING)
			return;
		/* A short read drained the socket; level triggering tells
		 * us of anything new. */
		if (n < IO_RBUF)
			return;
	}
}

static void
io_ready(struct evloop *el, int fd, int events, void *arg)
{
	struct evloop__io *io = arg;

	(void)fd;
	io->busy++;
	if ((events & (EVLOOP_WRITE | EVLOOP_ERROR)) && evloop__out_len(io) > 0)
		io_flush(el, io);
	if ((events & (EVLOOP_READ | EVLOOP_ERROR)) &&
	    !(io->flags & EVLOOP__DEAD)) {
		if (io->flags & EVLOOP__ACCEPTING)
			io_accept_ready(el, io);
		else if (io->flags & EVLOOP__RECEIVING)
			io_recv_ready(el, io);
	}
	io->busy--;
	if (!(io->flags & EVLOOP__DEAD))
		io_update(el, io);
	evloop__io_release(el, io);
}

/* The public calls: the backend's when it has them, else the above. */

static struct evloop__io *
io_lookup(struct evloop *el, int fd, int make)
{
	if (fd < 0 || fd >= el->setsize) {
		errno = ERANGE;
		return NULL;
	}
	if (!make) {
		errno = ENOENT;
		return el->watch[fd].io;
	}
	errno = ENOMEM;
	return evloop__io_get(el, fd);
}

static int
io_start(struct evloop *el, struct evloop__io *io)
{
	return el->be->start != NULL ? el->be->start(el, io) :
				       io_update(el, io);
}

int
evloop_accept(struct evloop *el, int lfd, evloop_accept_cb *cb, void *arg)
{
	struct evloop__io *io = io_lookup(el, lfd, 1);

	if (io == NULL)
		return -errno;
	io->accept_cb = cb;
	io->recv_arg = arg;
	io->flags |= EVLOOP__ACCEPTING;
	return io_start(el, io);
}

int
evloop_recv(struct evloop *el, int fd, evloop_recv_cb *cb, void *arg)
{
	struct evloop__io *io = io_lookup(el, fd, 1);

	if (io == NULL)
		return -errno;
	io->recv_cb = cb;
	io->recv_arg = arg;
	io->flags |= EVLOOP__RECEIVING;
	return io_start(el, io);
}

int
evloop_recv_stop(struct evloop *el, int fd)
{
	struct evloop__io *io = io_lookup(el, fd, 0);

	if (io == NULL)
		return -errno;
	if (!(io->flags & EVLOOP__RECEIVING))
		return 0;
	io->flags &= ~EVLOOP__RECEIVING;
	if (el->be->recv_stop != NULL) {
		el->be->recv_stop(el, io);
		return 0;
	}
	return io_update(el, io);
}

ssize_t
evloop_send(struct evloop *el, int fd, const void *p, size_t n,
	    evloop_send_cb *cb, void *arg)
{
	struct evloop__io *io = io_lookup(el, fd, 1);
	struct evloop__ioq *q;
	ssize_t sent = 0;
	int rc, now;

	if (io == NULL)
		return -errno;
	io->send_cb = cb;
	io->send_arg = arg;
	/* Straight out when nothing waits before it: always on readiness;
	 * on completion, for a page or more, which is in the cache now and
	 * may not be by the time the next wait submits the send (below that
	 * the send goes into the ring, out with the next wait and the other
	 * sends: at 64 B a send(2) each was no cheaper). */
	if (el->be->start == NULL)
		now = evloop__out_len(io) == 0;
	else
		now = n >= EVLOOP__SEND_NOW && evloop_send_pending(el, fd) == 0;
	if (now) {
		do
			sent = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		while (sent < 0 && errno == EINTR);
		if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (sent < 0)
			sent = 0;
		if ((size_t)sent == n)
			return sent;
	}
	/* The rest straight from the loop's receive buffer, when the
	 * backend can. */
	if (el->be->send != NULL && evloop__out_len(io) == 0 &&
	    (rc = el->be->send(el, io, (const char *)p + sent,
			       n - (size_t)sent)) != 0)
		return rc < 0 ? rc : sent;
	if ((size_t)sent == n)
		return sent;
	if ((q = evloop__ioq_get(io)) == NULL)
		return -ENOMEM;
	if ((rc = buf_append(&q->out, (const char *)p + sent,
			     n - (size_t)sent)) < 0) {
		evloop__ioq_trim(io);
		return rc;
	}
	if ((rc = io_start(el, io)) < 0)
		return rc;
	return sent;
}

size_t
evloop_send_pending(const struct evloop *el, int fd)
{
	const struct evloop__io *io;
	size_t n;

	if (fd < 0 || fd >= el->setsize || (io = el->watch[fd].io) == NULL)
		return 0;
	n = el->be->held != NULL ? el->be->held(el, io) : 0;
	if (io->q != NULL)
		n += buf_len(&io->q->out) + buf_len(&io->q->inflight);
	return n;
}
