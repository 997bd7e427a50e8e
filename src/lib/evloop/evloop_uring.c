/* SPDX-License-Identifier: ISC */
/* evloop_uring.c -- the io_uring backend: multishot accept and receive into
 * a ring of provided buffers, sends submitted together with the wait
 * (evloop_send sends 4 KiB or more at once by itself). */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evloop_int.h"

/*
 * The ring, and why each setup flag:
 *
 * - IORING_SETUP_SINGLE_ISSUER (Linux 6.0): only the loop's thread
 *   submits, so the kernel need not serialise submitters. It doubles as
 *   the probe for multishot receive, also new in 6.0 (and not visible in
 *   the opcode probe): a kernel that refuses the flag is too old for this
 *   backend, which then fails with EOPNOTSUPP.
 * - IORING_SETUP_DEFER_TASKRUN (6.1): completion work runs when the loop
 *   enters the kernel to wait, in one batch, instead of interrupting the
 *   thread wherever it is. On 6.0 IORING_SETUP_COOP_TASKRUN (5.19) takes
 *   its place: no inter-processor interrupt, work run at the next entry.
 * - IORING_SETUP_R_DISABLED: a program may make the loop on one thread and
 *   run it on another (echo-server-poll makes its workers' loops in main);
 *   the first wait enables the ring, which makes its thread the issuer.
 * - IORING_SETUP_CQSIZE: room for many multishot completions a wait.
 * - io_uring_register_ring_fd (5.18): each enter skips the lookup of the
 *   ring's own descriptor.
 *
 * - A sparse file table (io_uring_register_files_sparse, 5.19) of
 *   setsize slots: a descriptor goes in at its own number when it first
 *   receives or sends (one io_uring_register call a connection), and its
 *   receives and sends name the slot (IOSQE_FIXED_FILE), so the kernel
 *   skips the descriptor lookup and reference count of each: about 3 %
 *   of the server's CPU per round trip at 64 B. The slot holds the socket
 *   open, so evloop_del empties it, after the cancels, before the
 *   caller's close. Without the table (a descriptor limit below setsize)
 *   descriptors are used as they are.
 *
 * Not used: direct descriptors from accept (IORING_FILE_INDEX_ALLOC): this
 * API hands out plain descriptors, which callers give to setsockopt,
 * getpeername and close. Nor SQPOLL: a kernel thread polling the ring
 * takes a core, of two here. Newer than
 * Debian 12's liburing 2.3 knows: IORING_SETUP_NO_SQARRAY (6.6), bundled
 * receives (6.10) and incrementally consumed buffers (IOU_PBUF_RING_INC,
 * 6.12), which let small messages share one buffer (tried on
 * bench/uring-echo.c: no cheaper at 64 B).
 *
 * Receive buffers: one ring of UR_NBUFS buffers of UR_BUFSZ bytes for all
 * connections, so the pool is sized to the data in flight, not to the
 * connection count. A buffer is free again as soon as the receive
 * callback returns, or, when the callback sent bytes out of it (an echo,
 * ur_send), as that send completes; the ring is refilled before each
 * wait (with DEFER_TASKRUN receives take buffers only inside it). The
 * ring holds UR_STOCK buffers at first and twice as many each time it
 * runs dry, up to all of them, and is refilled from the top of a stack
 * of free buffers, those used last going to the ring's head (ur_stock):
 * a light load reuses the same few, and the kernel writes to 16 pages
 * (64 KiB), not to 128 (512 KiB at 64 B messages, 2 MiB at 16 KiB) as
 * it did cycling through a ring of all of them. When
 * the ring runs dry, the kernel ends a multishot receive with ENOBUFS and
 * leaves the data in the socket; the receive is re-armed, and by the time
 * it is submitted (with the next wait) the batch's buffers are back.
 */
#define UR_SQ	   1024
#define UR_CQ	   8192
#define UR_NBUFS   128		  /* a power of 2 */
#define UR_STOCK   16		  /* buffers in the ring at first */
#define UR_HOLDMAX (UR_NBUFS / 2) /* sent from, out of the ring at once */
#define UR_BUFSZ   (16 * 1024)
#define UR_BGID	   1
#define UR_DEFAULT (IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_R_DISABLED)

/* Operations, in the low bits of user_data (io is 16-byte aligned); 0 is
 * a cancellation, whose completion says nothing. */
enum { OP_POLL = 1, OP_ACCEPT, OP_RECV, OP_SEND };
#define OP_MASK	      7u
#define OPB(op)	      (1 << (op))
#define OPB_CANCELLED 0x100  /* a cancel of the receive is on its way */
#define OPB_ZOMBIE    0x200  /* deleted, on the zombie list */
#define OPB_DEFERRED  0x400  /* on the deferred list */
#define OPB_NOMEM     0x800  /* stashed data lost: ends with ENOMEM */
#define OPB_FIXED     0x1000 /* fd is in the ring's file table, at fd */

struct evloop_uring {
	struct io_uring ring;
	int enabled;
	struct io_uring_buf_ring *br;
	unsigned short free[UR_NBUFS]; /* buffers out of the ring, a stack */
	unsigned nfree;
	unsigned stocked; /* in the ring, not yet taken by the kernel */
	unsigned want;	  /* how many the ring should hold */
	/* The receive being delivered, which a send may go out of. */
	struct evloop__io *cur;
	const char *cur_p;
	size_t cur_n;
	unsigned cur_bid;
	int cur_taken;
	/* Buffers being sent from: the bytes, by buffer. */
	struct {
		const char *p;
		size_t n;
	} hold[UR_NBUFS];
	unsigned nheld;
	char *bufs;
	size_t brsize;
	/* Deleted with operations in flight, freed as the last completes. */
	struct evloop__io *zombies;
	/* Resumed receivers with stashed data, delivered before the wait. */
	struct evloop__io *deferred;
	unsigned long long dry; /* receives ended by an empty buffer ring */
	int files;		/* a file table of el->setsize slots */
};

static struct io_uring_sqe *
ur_sqe(struct evloop_uring *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	/* The queue is full: submit it now, ahead of the wait. */
	if (sqe == NULL && d->enabled && io_uring_submit(&d->ring) >= 0)
		sqe = io_uring_get_sqe(&d->ring);
	return sqe;
}

static unsigned
ur_pollmask(int events)
{
	return (events & EVLOOP_READ ? POLLIN | POLLRDHUP : 0) |
	       (events & EVLOOP_WRITE ? POLLOUT : 0);
}

/* Puts io->fd in the ring's file table, at its own number, so receives
 * and sends skip the descriptor's lookup and reference count each time.
 * Without room there, the descriptor is used as it is. */
static void
ur_fix(struct evloop_uring *d, struct evloop__io *io)
{
	if (!d->files || (io->ops & OPB_FIXED))
		return;
	if (io_uring_register_files_update(&d->ring, (unsigned)io->fd, &io->fd,
					   1) == 1)
		io->ops |= OPB_FIXED;
}

/* Takes io->fd out of the file table, which holds the socket open. */
static void
ur_unfix(struct evloop_uring *d, struct evloop__io *io)
{
	int none = -1;

	if (!(io->ops & OPB_FIXED))
		return;
	io_uring_register_files_update(&d->ring, (unsigned)io->fd, &none, 1);
	io->ops &= ~OPB_FIXED;
}

static int
ur_arm(struct evloop *el, struct evloop__io *io, int op)
{
	struct evloop_uring *d = el->bdata;
	struct io_uring_sqe *sqe;

	if (op == OP_RECV || op == OP_SEND)
		ur_fix(d, io);
	if ((sqe = ur_sqe(d)) == NULL)
		return -EBUSY;
	switch (op) {
	case OP_POLL:
		io_uring_prep_poll_add(sqe, io->fd, ur_pollmask(io->poll));
		break;
	case OP_ACCEPT:
		io_uring_prep_multishot_accept(sqe, io->fd, NULL, NULL,
					       SOCK_NONBLOCK | SOCK_CLOEXEC);
		break;
	case OP_RECV:
		io_uring_prep_recv_multishot(sqe, io->fd, NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = UR_BGID;
		break;
	default:
		if (io->hold != 0)
			io_uring_prep_send(sqe, io->fd, d->hold[io->hold - 1].p,
					   d->hold[io->hold - 1].n,
					   MSG_NOSIGNAL);
		else
			io_uring_prep_send(
				sqe, io->fd, buf_data(&io->q->inflight),
				buf_len(&io->q->inflight), MSG_NOSIGNAL);
		break;
	}
	if ((op == OP_RECV || op == OP_SEND) && (io->ops & OPB_FIXED))
		sqe->flags |= IOSQE_FIXED_FILE;
	io_uring_sqe_set_data64(sqe, (uintptr_t)io | (unsigned)op);
	io->ops |= OPB(op);
	io->refs++;
	return 0;
}

static void
ur_cancel(struct evloop *el, struct evloop__io *io, int op)
{
	struct io_uring_sqe *sqe = ur_sqe(el->bdata);

	if (sqe == NULL)
		return;
	io_uring_prep_cancel64(sqe, (uintptr_t)io | (unsigned)op, 0);
	io_uring_sqe_set_data64(sqe, 0);
}

static void
ur_defer(struct evloop_uring *d, struct evloop__io *io)
{
	if (io->ops & OPB_DEFERRED)
		return;
	io->ops |= OPB_DEFERRED;
	io->busy++; /* held until delivered */
	io->next = d->deferred;
	d->deferred = io;
}

/* Hands the send queue to the kernel, one send in flight at a time so the
 * bytes stay in order. */
static int
ur_send_next(struct evloop *el, struct evloop__io *io)
{
	struct evloop__ioq *q = io->q;

	if ((io->ops & OPB(OP_SEND)) || q == NULL)
		return 0;
	if (buf_len(&q->inflight) == 0) {
		struct buf t = q->inflight;
		q->inflight = q->out;
		q->out = t;
	}
	if (buf_len(&q->inflight) == 0) {
		/* An idle connection holds no buffer. */
		buf_release(&q->inflight);
		buf_release(&q->out);
		evloop__ioq_trim(io);
		return 0;
	}
	return ur_arm(el, io, OP_SEND);
}

/*
 * An echo without a copy: bytes that lie in the buffer being delivered
 * go out of it, and the buffer returns to the ring when the send
 * completes (before, every message was copied into a queue made for it
 * and freed after). Only with nothing queued before them, so the bytes
 * stay in order, and while at most UR_HOLDMAX buffers are so held, so
 * the ring keeps enough for receives.
 */
static int
ur_send(struct evloop *el, struct evloop__io *io, const void *p, size_t n)
{
	struct evloop_uring *d = el->bdata;
	const char *c = p;
	int rc;

	if (io != d->cur || d->cur_taken || c < d->cur_p ||
	    c + n > d->cur_p + d->cur_n || (io->ops & OPB(OP_SEND)) ||
	    (io->q != NULL && buf_len(&io->q->inflight) > 0) ||
	    d->nheld >= UR_HOLDMAX)
		return 0;
	d->hold[d->cur_bid].p = c;
	d->hold[d->cur_bid].n = n;
	io->hold = (unsigned short)(d->cur_bid + 1);
	if ((rc = ur_arm(el, io, OP_SEND)) < 0) {
		io->hold = 0;
		return rc;
	}
	d->cur_taken = 1;
	d->nheld++;
	return 1;
}

static size_t
ur_held(const struct evloop *el, const struct evloop__io *io)
{
	const struct evloop_uring *d = el->bdata;

	return io->hold != 0 ? d->hold[io->hold - 1].n : 0;
}

/* The send out of a receive buffer completed: the buffer is free, and
 * what the socket did not take joins the queue. Returns res, or -ENOMEM
 * when that could not be queued. */
static int
ur_unhold(struct evloop_uring *d, struct evloop__io *io, int res)
{
	unsigned bid = io->hold - 1u;
	struct evloop__ioq *q;

	io->hold = 0;
	if (res >= 0 && (size_t)res < d->hold[bid].n &&
	    !(io->flags & EVLOOP__DEAD)) {
		if ((q = evloop__ioq_get(io)) == NULL ||
		    buf_append(&q->inflight, d->hold[bid].p + res,
			       d->hold[bid].n - (size_t)res) < 0)
			res = -ENOMEM;
	}
	d->free[d->nfree++] = (unsigned short)bid;
	d->nheld--;
	return res;
}

/* Whether io has received data or an end kept for its resume. */
static int
ur_stashed(const struct evloop__io *io)
{
	const struct evloop__ioq *q = io->q;

	return (io->ops & OPB_NOMEM) ||
	       (q != NULL && (buf_len(&q->stash) > 0 || q->stash_end != 0));
}

static int
ur_start(struct evloop *el, struct evloop__io *io)
{
	struct evloop_uring *d = el->bdata;
	int rc = 0;

	if ((io->flags & EVLOOP__ACCEPTING) && !(io->ops & OPB(OP_ACCEPT)))
		rc = ur_arm(el, io, OP_ACCEPT);
	if (rc == 0 && (io->flags & EVLOOP__RECEIVING)) {
		if (ur_stashed(io))
			ur_defer(d, io);
		else if (!(io->ops & OPB(OP_RECV)))
			rc = ur_arm(el, io, OP_RECV);
	}
	if (rc == 0)
		rc = ur_send_next(el, io);
	return rc;
}

static void
ur_recv_stop(struct evloop *el, struct evloop__io *io)
{
	if ((io->ops & OPB(OP_RECV)) && !(io->ops & OPB_CANCELLED)) {
		ur_cancel(el, io, OP_RECV);
		io->ops |= OPB_CANCELLED;
	}
}

static void
ur_release(struct evloop *el, struct evloop__io *io)
{
	struct evloop_uring *d = el->bdata;

	if (!(io->flags & EVLOOP__DEAD) || io->busy > 0 || io->refs > 0)
		return;
	if (io->ops & OPB_ZOMBIE) {
		/* Singly linked: deletions in flight are few. */
		struct evloop__io **p = &d->zombies;
		while (*p != io)
			p = &(*p)->next;
		*p = io->next;
	}
	evloop__io_release(el, io);
}

static void
ur_del(struct evloop *el, struct evloop__io *io)
{
	struct evloop_uring *d = el->bdata;
	struct io_uring_sqe *sqe;

	if (io->refs == 0) {
		ur_unfix(d, io);
		return;
	}
	if (!(io->ops & OPB_DEFERRED)) {
		io->ops |= OPB_ZOMBIE;
		io->next = d->zombies;
		d->zombies = io;
	}
	/* Cancelled now, not with the next wait: the caller closes fd next,
	 * and a cancel by descriptor needs it open. Operations on the file
	 * table's slot are cancelled by the slot. */
	if ((sqe = ur_sqe(d)) != NULL) {
		io_uring_prep_cancel_fd(sqe, io->fd, IORING_ASYNC_CANCEL_ALL);
		io_uring_sqe_set_data64(sqe, 0);
	}
	if ((io->ops & OPB_FIXED) && (sqe = ur_sqe(d)) != NULL) {
		io_uring_prep_cancel_fd(sqe, io->fd,
					IORING_ASYNC_CANCEL_ALL |
						IORING_ASYNC_CANCEL_FD_FIXED);
		io_uring_sqe_set_data64(sqe, 0);
	}
	if (d->enabled)
		io_uring_submit(&d->ring);
	/* After the cancels: the close that follows must close the socket. */
	ur_unfix(d, io);
}

static int
ur_set(struct evloop *el, int fd, int old, int events)
{
	struct evloop__io *io;

	(void)old;
	if (events <= 0) /* a poll in flight reports nothing unwanted */
		return 0;
	if ((io = evloop__io_get(el, fd)) == NULL)
		return -ENOMEM;
	if (io->ops & OPB(OP_POLL)) {
		/* Wider than what is polled: cancelled, then re-armed. */
		if (events & ~io->poll)
			ur_cancel(el, io, OP_POLL);
		return 0;
	}
	io->poll = events;
	return ur_arm(el, io, OP_POLL);
}

/* Buffer bid's bytes. */
static char *
ur_buf(const struct evloop_uring *d, unsigned bid)
{
	return d->bufs + (size_t)bid * UR_BUFSZ;
}

/* Whether the buffers between the kernel's head of the ring and our tail
 * may be rewritten: only while the kernel cannot take one. With
 * DEFER_TASKRUN it takes them only inside this thread's io_uring_enter
 * (receives run as task work there, or inline as a submission), so
 * between enters, once every completion is seen (none waiting, none
 * overflowed), d->stocked is exactly the count the kernel has not taken.
 * With COOP_TASKRUN task work also runs on the way back from an
 * interrupt, at any moment. */
static int
ur_ring_still(struct evloop_uring *d)
{
	return (d->ring.flags & IORING_SETUP_DEFER_TASKRUN) &&
	       io_uring_cq_ready(&d->ring) == 0 &&
	       !(IO_URING_READ_ONCE(*d->ring.sq.kflags) &
		 IORING_SQ_CQ_OVERFLOW);
}

/* Fills the ring up to d->want from the top of the stack of free
 * buffers, so the ones used last are used again. The kernel takes from
 * the ring's head in order, so a buffer added at the tail waits behind
 * every one stocked before it, and under load the ring would cycle
 * through all of them (2 MiB of 16 KiB buffers, as much as a core's L2
 * cache here). So, when the ring is still, each buffer freed since the
 * last wait takes the place of one not yet taken at the head, and that
 * one goes to the tail: the next receives land in the buffers used last,
 * still in the cache. At 16 KiB and 1,000 connections, 0.97 of the CPU
 * per round trip (15 paired runs). */
static void
ur_stock(struct evloop_uring *d)
{
	unsigned mask = (unsigned)io_uring_buf_ring_mask(UR_NBUFS);
	unsigned short head = (unsigned short)(d->br->tail - d->stocked);
	unsigned front = 0, swap = ur_ring_still(d) ? d->stocked : 0;
	int n = 0;

	while (d->stocked < d->want && d->nfree > 0) {
		unsigned bid = d->free[--d->nfree];

		if (front < swap) {
			struct io_uring_buf *b =
				&d->br->bufs[(unsigned short)(head + front++) &
					     mask];
			unsigned old = b->bid;

			b->addr = (unsigned long)ur_buf(d, bid);
			b->bid = (unsigned short)bid;
			bid = old;
		}
		io_uring_buf_ring_add(d->br, ur_buf(d, bid), UR_BUFSZ,
				      (unsigned short)bid, (int)mask, n++);
		d->stocked++;
	}
	if (n > 0)
		io_uring_buf_ring_advance(d->br, n);
}

/* Keeps n bytes at p for the resume, or (p NULL) the end n: 1 for EOF,
 * -errno. Out of memory, the receive ends with ENOMEM when resumed. */
static void
ur_stash(struct evloop__io *io, const char *p, int n)
{
	struct evloop__ioq *q = evloop__ioq_get(io);

	if (q == NULL)
		io->ops |= OPB_NOMEM;
	else if (p == NULL)
		q->stash_end = n;
	else if (buf_append(&q->stash, p, (size_t)n) < 0)
		q->stash_end = -ENOMEM;
}

/* A receive's completion: data, EOF, an error, or the end of one
 * multishot receive that is to be re-armed. */
static void
ur_on_recv(struct evloop *el, struct evloop__io *io, int res, const char *p)
{
	struct evloop_uring *d = el->bdata;
	int live = !(io->flags & EVLOOP__DEAD);
	/* Stashed bytes go first: anything newer joins them. */
	int direct =
		(io->flags & EVLOOP__RECEIVING) && !(io->ops & OPB_DEFERRED);

	if (res == -ENOBUFS) {
		d->dry++;
		if (d->want < UR_NBUFS)
			d->want *= 2;
	}
	if (!live || res == -ENOBUFS || res == -ECANCELED)
		return;
	if (res > 0 && p != NULL) {
		if (direct)
			io->recv_cb(el, io->fd, p, res, io->recv_arg);
		else
			ur_stash(io, p, res);
		return;
	}
	if (res > 0)
		res = -EIO; /* data without a buffer: cannot happen */
	if (direct) {
		io->flags &= ~EVLOOP__RECEIVING;
		io->recv_cb(el, io->fd, "", res, io->recv_arg);
	} else {
		ur_stash(io, NULL, res == 0 ? 1 : res);
	}
}

static void
ur_on_send(struct evloop *el, struct evloop__io *io, int res)
{
	if (io->hold != 0)
		res = ur_unhold(el->bdata, io, res);
	else if (res > 0 && !(io->flags & EVLOOP__DEAD))
		buf_consume(&io->q->inflight, (size_t)res);
	if (io->flags & EVLOOP__DEAD)
		return;
	if (res < 0 && io->q != NULL) {
		buf_release(&io->q->inflight);
		buf_release(&io->q->out);
	}
	if (io->send_cb != NULL)
		io->send_cb(el, io->fd, res, io->send_arg);
	if (!(io->flags & EVLOOP__DEAD))
		ur_send_next(el, io);
}

static void
ur_on_accept(struct evloop *el, struct evloop__io *io, int res)
{
	if (io->flags & EVLOOP__DEAD) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res == -ECANCELED)
		return;
	/* An error ends a multishot accept; the caller decides when to
	 * go on (EMFILE: after shedding). An end without one is re-armed. */
	if (res < 0)
		io->flags &= ~EVLOOP__ACCEPTING;
	io->accept_cb(el, io->fd, res, io->recv_arg);
}

static int
ur_on_poll(struct evloop *el, struct evloop__io *io, int res)
{
	int events;

	if ((io->flags & EVLOOP__DEAD) || res == -ECANCELED)
		return 0;
	events = res < 0 ? EVLOOP_ERROR :
			   (res & (POLLIN | POLLRDHUP) ? EVLOOP_READ : 0) |
				   (res & POLLOUT ? EVLOOP_WRITE : 0) |
				   (res & (POLLERR | POLLHUP | POLLNVAL) ?
					    EVLOOP_ERROR :
					    0);
	return evloop__ready(el, io->fd, events);
}

/* Re-arms what io still wants once an operation of it has ended. */
static void
ur_rearm(struct evloop *el, struct evloop__io *io)
{
	struct evloop__watch *w = &el->watch[io->fd];

	if (io->flags & EVLOOP__DEAD)
		return;
	if (w->io == io && w->events > 0 && !(io->ops & OPB(OP_POLL))) {
		io->poll = w->events;
		ur_arm(el, io, OP_POLL);
	}
	if ((io->flags & EVLOOP__ACCEPTING) && !(io->ops & OPB(OP_ACCEPT)))
		ur_arm(el, io, OP_ACCEPT);
	if ((io->flags & EVLOOP__RECEIVING) && !(io->ops & OPB(OP_RECV)) &&
	    !(io->ops & OPB_DEFERRED))
		ur_arm(el, io, OP_RECV);
}

/* Returns 1 when a callback may have run, 0 when surely none did. */
static int
ur_complete(struct evloop *el, const struct io_uring_cqe *cqe)
{
	struct evloop_uring *d = el->bdata;
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct evloop__io *io =
		(struct evloop__io *)(uintptr_t)(ud & ~(uint64_t)OP_MASK);
	int op = (int)(ud & OP_MASK), more = cqe->flags & IORING_CQE_F_MORE;
	const char *p = NULL;
	unsigned bid = 0;
	int ran = 1;

	if (io == NULL)
		return 0;
	if (!more) {
		io->ops &= ~OPB(op);
		if (op == OP_RECV)
			io->ops &= ~OPB_CANCELLED;
		io->refs--;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		p = ur_buf(d, bid);
		d->stocked--;
	}
	io->busy++;
	if (op == OP_RECV && p != NULL && cqe->res > 0) {
		d->cur = io;
		d->cur_p = p;
		d->cur_n = (size_t)cqe->res;
		d->cur_bid = bid;
		d->cur_taken = 0;
	}
	switch (op) {
	case OP_POLL:
		ran = ur_on_poll(el, io, cqe->res);
		break;
	case OP_ACCEPT:
		ur_on_accept(el, io, cqe->res);
		break;
	case OP_RECV:
		ur_on_recv(el, io, cqe->res, p);
		break;
	default:
		ur_on_send(el, io, cqe->res);
		break;
	}
	/* The data is consumed: its buffer is free, for the next wait,
	 * unless a send goes out of it. */
	if (p != NULL && !(d->cur == io && d->cur_taken))
		d->free[d->nfree++] = (unsigned short)bid;
	d->cur = NULL;
	io->busy--;
	if (!more)
		ur_rearm(el, io);
	ur_release(el, io);
	return ran;
}

/* Stashed data and ends, for receivers resumed since the last wait. */
static int
ur_deliver(struct evloop *el)
{
	struct evloop_uring *d = el->bdata;
	struct evloop__io *io;
	int n = 0;

	while ((io = d->deferred) != NULL) {
		d->deferred = io->next;
		io->ops &= ~OPB_DEFERRED;
		if ((io->flags & (EVLOOP__DEAD | EVLOOP__RECEIVING)) ==
		    EVLOOP__RECEIVING) {
			struct buf b = BUF_INIT;
			int end = io->ops & OPB_NOMEM ? -ENOMEM : 0;
			io->ops &= ~OPB_NOMEM;
			if (io->q != NULL) {
				b = io->q->stash;
				end = end ? end : io->q->stash_end;
				buf_init(&io->q->stash);
				io->q->stash_end = 0;
				evloop__ioq_trim(io);
			}
			if (buf_len(&b) > 0)
				io->recv_cb(el, io->fd, buf_data(&b),
					    (ssize_t)buf_len(&b), io->recv_arg);
			buf_release(&b);
			if (end != 0 && !(io->flags & EVLOOP__DEAD)) {
				io->flags &= ~EVLOOP__RECEIVING;
				io->recv_cb(el, io->fd, "", end > 0 ? 0 : end,
					    io->recv_arg);
			}
			n++;
		}
		io->busy--;
		ur_rearm(el, io);
		ur_release(el, io);
	}
	return n;
}

static int
ur_enable(struct evloop_uring *d)
{
	/* (liburing 2.3 declares io_uring_enable_rings but lacks it.) */
	int rc = io_uring_register((unsigned)d->ring.ring_fd,
				   IORING_REGISTER_ENABLE_RINGS, NULL, 0);

	if (rc < 0)
		return rc;
	d->enabled = 1;
	/* Per thread: registered here, on the loop's own. */
	(void)io_uring_register_ring_fd(&d->ring);
	return 0;
}

static int
ur_wait(struct evloop *el, int timeout_ms)
{
	struct evloop_uring *d = el->bdata;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int rc, n, ran = 0;

	if (!d->enabled && (rc = ur_enable(d)) < 0)
		return rc;
	if (d->deferred != NULL)
		timeout_ms = 0;
	ur_stock(d);
	/* One enter submits everything queued since the last wait (sends,
	 * re-armed receives) and waits. */
	if (timeout_ms < 0) {
		rc = io_uring_submit_and_wait(&d->ring, 1);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ms / 1000,
			.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
		};
		rc = io_uring_submit_and_wait_timeout(&d->ring, &cqe, 1, &ts,
						      NULL);
	}
	evloop__update_time(el);
	if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN &&
	    rc != -EBUSY)
		return rc;
	n = ur_deliver(el);
	io_uring_for_each_cqe(&d->ring, head, cqe)
	{
		ran += ur_complete(el, cqe);
		seen++;
	}
	io_uring_cq_advance(&d->ring, seen);
	return n + ran;
}

static int
ur_setup(struct evloop_uring *d)
{
	struct io_uring_params p;
	unsigned extra[] = {IORING_SETUP_DEFER_TASKRUN,
			    IORING_SETUP_COOP_TASKRUN, 0};
	int rc = -EINVAL;

	/* The best the kernel takes; EINVAL means it does not know a flag. */
	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = UR_DEFAULT | IORING_SETUP_CQSIZE | extra[i];
		p.cq_entries = UR_CQ;
		rc = io_uring_queue_init_params(UR_SQ, &d->ring, &p);
		if (rc != -EINVAL)
			break;
	}
	if (rc == -EINVAL)
		return -EOPNOTSUPP;
	if (rc < 0)
		return rc;
	if (!(p.features & IORING_FEAT_EXT_ARG) ||
	    !(p.features & IORING_FEAT_NODROP)) {
		io_uring_queue_exit(&d->ring);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* The opcodes this backend needs, asked of the running kernel. */
static int
ur_probe(struct evloop_uring *d)
{
	static const int need[] = {IORING_OP_POLL_ADD, IORING_OP_ACCEPT,
				   IORING_OP_RECV, IORING_OP_SEND,
				   IORING_OP_ASYNC_CANCEL};
	struct io_uring_probe *pr = io_uring_get_probe_ring(&d->ring);
	int rc = 0;

	if (pr == NULL)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!io_uring_opcode_supported(pr, need[i]))
			rc = -EOPNOTSUPP;
	}
	io_uring_free_probe(pr);
	return rc;
}

/* The provided-buffer ring (5.19). The buffers are mapped, not
 * allocated: the kernel fills them, and valgrind takes mapped memory as
 * defined. */
static int
ur_buffers(struct evloop_uring *d)
{
	struct io_uring_buf_reg reg = {0};
	long page = sysconf(_SC_PAGESIZE);
	int rc;

	d->brsize = UR_NBUFS * sizeof(struct io_uring_buf);
	d->brsize = (d->brsize + (size_t)page - 1) & ~((size_t)page - 1);
	d->br = mmap(NULL, d->brsize, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	d->bufs =
		mmap(NULL, (size_t)UR_NBUFS * UR_BUFSZ, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (d->br == MAP_FAILED || d->bufs == MAP_FAILED)
		return -ENOMEM;
	reg.ring_addr = (unsigned long)d->br;
	reg.ring_entries = UR_NBUFS;
	reg.bgid = UR_BGID;
	if ((rc = io_uring_register_buf_ring(&d->ring, &reg, 0)) < 0)
		return rc == -EINVAL ? -EOPNOTSUPP : rc;
	io_uring_buf_ring_init(d->br);
	for (unsigned i = 0; i < UR_NBUFS; i++)
		d->free[d->nfree++] = (unsigned short)(UR_NBUFS - 1 - i);
	d->want = UR_STOCK;
	ur_stock(d);
	return 0;
}

static void
ur_unmap(struct evloop_uring *d)
{
	if (d->br != NULL && d->br != MAP_FAILED)
		munmap(d->br, d->brsize);
	if (d->bufs != NULL && d->bufs != MAP_FAILED)
		munmap(d->bufs, (size_t)UR_NBUFS * UR_BUFSZ);
}

static int
ur_init(struct evloop *el)
{
	struct evloop_uring *d;
	const char *off = getenv("NT_EVLOOP_NO_URING");
	int rc;

	/* As a kernel without io_uring, or one filtered by seccomp, says. */
	if (off != NULL && *off != '\0' && strcmp(off, "0") != 0)
		return -ENOSYS;
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return -ENOMEM;
	if ((rc = ur_setup(d)) < 0) {
		free(d);
		return rc;
	}
	if ((rc = ur_probe(d)) < 0 || (rc = ur_buffers(d)) < 0) {
		io_uring_queue_exit(&d->ring);
		ur_unmap(d);
		free(d);
		return rc;
	}
	/* An empty file table (5.19), a slot for each descriptor number the
	 * loop takes; without it (a descriptor limit below setsize) the
	 * descriptors are used as they are. */
	d->files = io_uring_register_files_sparse(&d->ring,
						  (unsigned)el->setsize) == 0;
	el->bdata = d;
	return 0;
}

static void
ur_done(struct evloop *el)
{
	struct evloop_uring *d = el->bdata;
	struct evloop__io *io;

	/* Every operation ends with the ring; what they held is freed. */
	io_uring_queue_exit(&d->ring);
	ur_unmap(d);
	while ((io = d->deferred) != NULL) {
		d->deferred = io->next;
		io->busy--;
		io->refs = 0;
		io->ops = 0;
		evloop__io_release(el, io);
	}
	while ((io = d->zombies) != NULL) {
		d->zombies = io->next;
		io->refs = 0;
		evloop__io_release(el, io);
	}
	free(d);
}

const struct evloop__backend evloop__uring = {
	.name = "uring",
	.init = ur_init,
	.done = ur_done,
	.set = ur_set,
	.wait = ur_wait,
	.start = ur_start,
	.recv_stop = ur_recv_stop,
	.del = ur_del,
	.send = ur_send,
	.held = ur_held,
};
