/* SPDX-License-Identifier: ISC */
/* evloop.c -- the event loop proper: watches, a timer heap, dispatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evloop.h"
#include "evloop/evloop_int.h"

static uint64_t
evloop__clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
evloop__update_time(struct evloop *el)
{
	el->now = evloop__clock();
}

struct evloop *
evloop_new(const char *backend, int setsize)
{
	struct evloop *el;
	int rc;

	if (setsize <= 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((el = calloc(1, sizeof(*el))) == NULL)
		return NULL;
	if (backend == NULL || strcmp(backend, "epoll") == 0) {
		el->be = &evloop__epoll;
	} else if (strcmp(backend, "poll") == 0) {
		el->be = &evloop__poll;
	} else if (strcmp(backend, "uring") == 0) {
		el->be = &evloop__uring;
	} else {
		rc = -EINVAL;
		goto fail;
	}
	el->setsize = setsize;
	el->watch = malloc((size_t)setsize * sizeof(*el->watch));
	if (el->watch == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < setsize; i++) {
		el->watch[i].events = -1;
		el->watch[i].io = NULL;
	}
	if ((rc = el->be->init(el)) < 0)
		goto fail;
	el->now = evloop__clock();
	return el;
fail:
	free(el->watch);
	free(el);
	errno = -rc;
	return NULL;
}

void
evloop_free(struct evloop *el)
{
	if (el == NULL)
		return;
	for (int fd = 0; fd < el->setsize; fd++) {
		if (el->watch[fd].io != NULL)
			evloop__io_del(el, el->watch[fd].io);
	}
	el->be->done(el);
	free(el->rbuf);
	/* Timers still armed belong to the caller; only unlink them. */
	for (size_t i = 0; i < el->nheap; i++)
		el->heap[i]->slot = 0;
	free(el->heap);
	free(el->watch);
	free(el);
}

const char *
evloop_backend(const struct evloop *el)
{
	return el->be->name;
}

int
evloop_add(struct evloop *el, int fd, int events, evloop_io_cb *cb, void *arg)
{
	struct evloop__watch *w;
	int rc;

	if (fd < 0 || fd >= el->setsize)
		return -ERANGE;
	events &= EVLOOP_READ | EVLOOP_WRITE;
	w = &el->watch[fd];
	if ((rc = el->be->set(el, fd, w->events, events)) < 0)
		return rc;
	w->cb = cb;
	w->arg = arg;
	w->events = events;
	return 0;
}

int
evloop_set(struct evloop *el, int fd, int events)
{
	struct evloop__watch *w;
	int rc;

	if (fd < 0 || fd >= el->setsize || el->watch[fd].events < 0)
		return -ENOENT;
	events &= EVLOOP_READ | EVLOOP_WRITE;
	w = &el->watch[fd];
	if (w->events == events)
		return 0;
	if ((rc = el->be->set(el, fd, w->events, events)) < 0)
		return rc;
	w->events = events;
	return 0;
}

int
evloop_events(const struct evloop *el, int fd)
{
	if (fd < 0 || fd >= el->setsize)
		return -1;
	return el->watch[fd].events;
}

int
evloop_del(struct evloop *el, int fd)
{
	struct evloop__watch *w;
	int rc;

	if (fd < 0 || fd >= el->setsize)
		return -ENOENT;
	w = &el->watch[fd];
	if (w->events < 0 && w->io == NULL)
		return -ENOENT;
	rc = w->events < 0 ? 0 : el->be->set(el, fd, w->events, -1);
	if (w->io != NULL)
		evloop__io_del(el, w->io);
	w->events = -1;
	w->cb = NULL;
	w->arg = NULL;
	return rc;
}

int
evloop__ready(struct evloop *el, int fd, int events)
{
	struct evloop__watch *w;

	if (fd < 0 || fd >= el->setsize)
		return 0;
	w = &el->watch[fd];
	/* A callback earlier in this batch may have removed or narrowed the
	 * watch; report only what is still wanted. Errors always go through
	 * while the fd is watched, since the owner must learn of them. */
	if (w->events < 0)
		return 0;
	events &= w->events | EVLOOP_ERROR;
	if (events == 0 || (w->events == 0 && !(events & EVLOOP_ERROR)))
		return 0;
	w->cb(el, fd, events, w->arg);
	return 1;
}

/* The heap: heap[0] is the earliest deadline; t->slot is index + 1. */

static int
timer_before(const struct evloop_timer *a, const struct evloop_timer *b)
{
	return a->when < b->when;
}

static void
heap_place(struct evloop *el, size_t i, struct evloop_timer *t)
{
	el->heap[i] = t;
	t->slot = i + 1;
}

static void
heap_up(struct evloop *el, size_t i)
{
	struct evloop_timer *t = el->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!timer_before(t, el->heap[parent]))
			break;
		heap_place(el, i, el->heap[parent]);
		i = parent;
	}
	heap_place(el, i, t);
}

static void
heap_down(struct evloop *el, size_t i)
{
	struct evloop_timer *t = el->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= el->nheap)
			break;
		if (c + 1 < el->nheap &&
		    timer_before(el->heap[c + 1], el->heap[c]))
			c++;
		if (!timer_before(el->heap[c], t))
			break;
		heap_place(el, i, el->heap[c]);
		i = c;
	}
	heap_place(el, i, t);
}

void
evloop_timer_init(struct evloop_timer *t, evloop_timer_cb *cb, void *arg)
{
	t->when = 0;
	t->slot = 0;
	t->cb = cb;
	t->arg = arg;
}

int
evloop_timer_start(struct evloop *el, struct evloop_timer *t, uint64_t ms)
{
	if (t->slot != 0)
		evloop_timer_stop(el, t);
	if (el->nheap == el->heapcap) {
		size_t cap = el->heapcap ? el->heapcap * 2 : 64;
		struct evloop_timer **h = realloc(el->heap, cap * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		el->heap = h;
		el->heapcap = cap;
	}
	t->when = el->now + ms;
	el->heap[el->nheap++] = t;
	heap_up(el, el->nheap - 1);
	return 0;
}

void
evloop_timer_stop(struct evloop *el, struct evloop_timer *t)
{
	size_t i;
	struct evloop_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = el->heap[--el->nheap];
	if (i == el->nheap)
		return;
	/* The last timer fills the hole, then moves whichever way it must. */
	heap_place(el, i, last);
	if (i > 0 && timer_before(last, el->heap[(i - 1) / 2]))
		heap_up(el, i);
	else
		heap_down(el, i);
}

size_t
evloop_timer_count(const struct evloop *el)
{
	return el->nheap;
}

uint64_t
evloop_now(const struct evloop *el)
{
	return el->now;
}

int
evloop_run_once(struct evloop *el, int timeout_ms)
{
	int n, fired = 0;
	size_t budget;

	if (el->nheap > 0) {
		uint64_t when = el->heap[0]->when;
		int due = when <= el->now	    ? 0 :
			  when - el->now > 86400000 ? 86400000 :
						      (int)(when - el->now);
		if (timeout_ms < 0 || due < timeout_ms)
			timeout_ms = due;
	}
	/* The backend updates el->now as the wait returns, before any
	 * callback: a callback stamping an event must not get the time the
	 * wait began, which can be most of an idle timeout earlier. */
	n = el->be->wait(el, timeout_ms);
	if (n < 0 && n != -EINTR)
		return n;
	if (n > 0)
		fired += n;
	/* Only timers due now run; one re-armed for 0 ms waits for the next
	 * iteration, so a timer cannot starve the descriptors. */
	budget = el->nheap;
	while (budget-- > 0 && el->nheap > 0 && el->heap[0]->when <= el->now) {
		struct evloop_timer *t = el->heap[0];
		evloop_timer_stop(el, t);
		t->cb(el, t, t->arg);
		fired++;
	}
	return fired;
}

int
evloop_run(struct evloop *el)
{
	int rc;

	el->stop = 0;
	while (!el->stop) {
		if ((rc = evloop_run_once(el, -1)) < 0)
			return rc;
	}
	return 0;
}

void
evloop_stop(struct evloop *el)
{
	el->stop = 1;
}

const char *
evloop_strerror(int code)
{
	return strerror(-code);
}
