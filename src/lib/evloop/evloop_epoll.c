/* SPDX-License-Identifier: ISC */
/* evloop_epoll.c -- the epoll backend: O(ready descriptors) per wait. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "evloop_int.h"

#define EPOLL_BATCH 1024

struct evloop_epoll {
	int epfd;
	struct epoll_event ev[EPOLL_BATCH];
};

static int
ep_init(struct evloop *el)
{
	struct evloop_epoll *d = malloc(sizeof(*d));

	if (d == NULL)
		return -ENOMEM;
	if ((d->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		int e = errno;
		free(d);
		return -e;
	}
	el->bdata = d;
	return 0;
}

static void
ep_done(struct evloop *el)
{
	struct evloop_epoll *d = el->bdata;

	close(d->epfd);
	free(d);
}

static int
ep_set(struct evloop *el, int fd, int old, int events)
{
	struct evloop_epoll *d = el->bdata;
	struct epoll_event ev = {0};
	int op;

	if (events < 0) {
		op = EPOLL_CTL_DEL;
	} else {
		op = old < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		/* Level-triggered: a callback may leave data unread (for
		 * fairness or backpressure) and be told again next time. */
		ev.events = (events & EVLOOP_READ ? EPOLLIN | EPOLLRDHUP : 0) |
			    (events & EVLOOP_WRITE ? EPOLLOUT : 0);
	}
	ev.data.fd = fd;
	if (epoll_ctl(d->epfd, op, fd, &ev) < 0) {
		/* A descriptor closed behind our back is already gone. */
		if (op == EPOLL_CTL_DEL && (errno == EBADF || errno == ENOENT))
			return 0;
		return -errno;
	}
	return 0;
}

static int
ep_wait(struct evloop *el, int timeout_ms)
{
	struct evloop_epoll *d = el->bdata;
	int n = epoll_wait(d->epfd, d->ev, EPOLL_BATCH, timeout_ms);

	evloop__update_time(el);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		uint32_t e = d->ev[i].events;
		int events = (e & (EPOLLIN | EPOLLRDHUP) ? EVLOOP_READ : 0) |
			     (e & EPOLLOUT ? EVLOOP_WRITE : 0) |
			     (e & (EPOLLERR | EPOLLHUP) ? EVLOOP_ERROR : 0);
		evloop__ready(el, d->ev[i].data.fd, events);
	}
	return n;
}

/* The completion API is evloop_io.c's, on readiness. */
const struct evloop__backend evloop__epoll = {
	.name = "epoll",
	.init = ep_init,
	.done = ep_done,
	.set = ep_set,
	.wait = ep_wait,
};
