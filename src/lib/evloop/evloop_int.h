/* SPDX-License-Identifier: ISC */
/* evloop_int.h -- the interface between evloop.c and its backends, one
 * file each in this folder (as curl keeps its TLS backends in lib/vtls/). */
#ifndef NT_EVLOOP_INT_H
#define NT_EVLOOP_INT_H

#include "evloop.h"

struct evloop__watch {
	evloop_io_cb *cb;
	void *arg;
	int events; /* interest; -1 when the fd is not watched */
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
};

extern const struct evloop__backend evloop__poll;
extern const struct evloop__backend evloop__epoll;

/* Sets el->now from the monotonic clock. */
void evloop__update_time(struct evloop *el);

/* Called by a backend for a ready fd; runs its callback if still wanted. */
void evloop__ready(struct evloop *el, int fd, int events);

#endif
