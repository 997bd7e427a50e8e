/* SPDX-License-Identifier: ISC */
/* evloop_int.h -- the interface between evloop.c and its backends, one
 * file each in this folder (as curl keeps its TLS backends in lib/vtls/). */
#ifndef NT_EVLOOP_INT_H
#define NT_EVLOOP_INT_H

#include "buf.h"
#include "evloop.h"

/* struct evloop__io flags. */
#define EVLOOP__ACCEPTING 0x01 /* evloop_accept() until an error or del */
#define EVLOOP__RECEIVING 0x02 /* evloop_recv() until EOF, error or stop */
#define EVLOOP__DEAD	  0x04 /* deleted; freed once nothing uses it */

/*
 * A descriptor's completion-API state, allocated on first use and freed
 * by evloop__io_release() once it is deleted, no callback is running on
 * it (busy) and no kernel operation holds it (refs, uring only): until
 * then a completion for it is recognised as stale and dropped.
 */
struct evloop__io {
	int fd;
	unsigned short ops;  /* operations in flight (uring's own bits) */
	unsigned char flags; /* EVLOOP__* */
	unsigned char poll;  /* readiness mask being polled (uring) */
	unsigned char busy;  /* callbacks running on it */
	unsigned char refs;  /* operations in flight (uring) */
	unsigned short hold; /* uring: 1 + the buffer being sent from */
	evloop_accept_cb *accept_cb;
	evloop_recv_cb *recv_cb;
	evloop_send_cb *send_cb;
	void *recv_arg, *send_arg; /* accept uses recv_arg */
	struct evloop__ioq *q;	   /* NULL while nothing is queued */
	struct evloop__io *next;   /* on the backend's lists (uring) */
};

/*
 * What a descriptor has queued, apart from struct evloop__io and made
 * only while something is: with the small counters above, an idle
 * connection's state is 72 bytes (an 80-byte heap block), not 176, and
 * 19,000 of them hold 2 MiB less.
 */
struct evloop__ioq {
	struct buf out;	     /* queued, not yet handed to the kernel */
	struct buf inflight; /* handed to the kernel (uring) */
	struct buf stash;    /* received after evloop_recv_stop (uring) */
	int stash_end;	     /* 1: EOF, -errno: error, after the stash */
};

struct evloop__watch {
	evloop_io_cb *cb;
	void *arg;
	int events;	       /* interest; -1 when the fd is not watched */
	struct evloop__io *io; /* completion-API state, or NULL */
};

struct evloop__backend {
	const char *name;
	/* Allocates el->bdata. Returns 0 or -errno. */
	int (*init)(struct evloop *el);
	void (*done)(struct evloop *el);
	/* fd's interest goes from old (-1: not watched) to events (-1:
	 * remove). Returns 0 or -errno. */
	int (*set)(struct evloop *el, int fd, int old, int events);
	/* Waits up to timeout_ms (-1 forever), calls evloop__update_time()
	 * as soon as the wait returns, then evloop__ready() for each ready
	 * descriptor. Returns the count or -errno (-EINTR is not an error to
	 * the loop). */
	int (*wait)(struct evloop *el, int timeout_ms);
	/* The completion API. NULL (poll, epoll): evloop_io.c does it with
	 * a read, write or accept on readiness. start() begins what io's
	 * flags and queue ask for (accepting, receiving, sending what is in
	 * io->out); recv_stop() ends receiving; del() ends everything on
	 * io->fd before the caller closes it. Return 0 or -errno. */
	int (*start)(struct evloop *el, struct evloop__io *io);
	void (*recv_stop)(struct evloop *el, struct evloop__io *io);
	void (*del)(struct evloop *el, struct evloop__io *io);
	/* Optional (uring): sends the n bytes at p without a copy when they
	 * lie in the receive buffer being delivered to io. Returns 1 when
	 * it did, 0 when the caller is to queue a copy, or -errno. held()
	 * gives the bytes so sent and not yet completed. */
	int (*send)(struct evloop *el, struct evloop__io *io, const void *p,
		    size_t n);
	size_t (*held)(const struct evloop *el, const struct evloop__io *io);
};

struct evloop {
	const struct evloop__backend *be;
	void *bdata;
	int setsize;
	struct evloop__watch *watch; /* indexed by fd */
	struct evloop_timer **heap;
	size_t nheap, heapcap;
	uint64_t now;
	int stop;
	char *rbuf; /* receive buffer of the emulated completion API */
};

extern const struct evloop__backend evloop__poll;
extern const struct evloop__backend evloop__epoll;
extern const struct evloop__backend evloop__uring;

/* Sets el->now from the monotonic clock. */
void evloop__update_time(struct evloop *el);

/* Called by a backend for a ready fd; runs its callback if still wanted.
 * Returns 1 when it did, else 0. */
int evloop__ready(struct evloop *el, int fd, int events);

/* fd's completion state, made on first use; NULL when out of memory. */
struct evloop__io *evloop__io_get(struct evloop *el, int fd);

/* Frees io when it is dead and nothing uses it any more. */
void evloop__io_release(struct evloop *el, struct evloop__io *io);

/* io's queue, made on first use; NULL when out of memory. */
struct evloop__ioq *evloop__ioq_get(struct evloop__io *io);

/* Frees io's queue once it holds nothing. */
void evloop__ioq_trim(struct evloop__io *io);

/* On a completion backend, evloop_send sends this many bytes or more at
 * once by send(2), while they are in the cache (at 16 KiB and 1,000
 * connections on uring, 0.95 of the CPU per round trip). */
#define EVLOOP__SEND_NOW 4096

/* Bytes queued on io, not yet handed to the kernel. */
static inline size_t
evloop__out_len(const struct evloop__io *io)
{
	return io->q != NULL ? buf_len(&io->q->out) : 0;
}

/* Ends every completion operation on fd (evloop_del, evloop_free). */
void evloop__io_del(struct evloop *el, struct evloop__io *io);

#endif
