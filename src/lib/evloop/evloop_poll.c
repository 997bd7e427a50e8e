/* SPDX-License-Identifier: ISC */
/* evloop_poll.c -- the poll(2) backend: a dense pollfd array, O(1) changes. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "evloop_int.h"

struct evloop_poll {
	struct pollfd *pfd; /* dense: the first n entries are live */
	int *slot;	    /* fd -> index in pfd, or -1 */
	int n;
	struct pollfd *ready; /* copied out before dispatch */
};

static int
pl_init(struct evloop *el)
{
	struct evloop_poll *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -ENOMEM;
	d->pfd = malloc((size_t)el->setsize * sizeof(*d->pfd));
	d->ready = malloc((size_t)el->setsize * sizeof(*d->ready));
	d->slot = malloc((size_t)el->setsize * sizeof(*d->slot));
	if (d->pfd == NULL || d->ready == NULL || d->slot == NULL) {
		free(d->pfd);
		free(d->ready);
		free(d->slot);
		free(d);
		return -ENOMEM;
	}
	for (int i = 0; i < el->setsize; i++)
		d->slot[i] = -1;
	el->bdata = d;
	return 0;
}

static void
pl_done(struct evloop *el)
{
	struct evloop_poll *d = el->bdata;

	free(d->pfd);
	free(d->ready);
	free(d->slot);
	free(d);
}

static int
pl_set(struct evloop *el, int fd, int old, int events)
{
	struct evloop_poll *d = el->bdata;
	int i = d->slot[fd];

	(void)old;
	if (events < 0) {
		if (i < 0)
			return 0;
		/* The last entry fills the hole so the array stays dense. */
		d->pfd[i] = d->pfd[--d->n];
		d->slot[d->pfd[i].fd] = i;
		d->slot[fd] = -1;
		return 0;
	}
	if (i < 0) {
		i = d->n++;
		d->slot[fd] = i;
		d->pfd[i].fd = fd;
	}
	d->pfd[i].events = (short)((events & EVLOOP_READ ? POLLIN : 0) |
				   (events & EVLOOP_WRITE ? POLLOUT : 0));
	d->pfd[i].revents = 0;
	return 0;
}

static int
pl_wait(struct evloop *el, int timeout_ms)
{
	struct evloop_poll *d = el->bdata;
	int n = poll(d->pfd, (nfds_t)d->n, timeout_ms), nready = 0;

	evloop__update_time(el);
	if (n < 0)
		return -errno;
	/* Callbacks change the array as they run, so take the ready set out
	 * of it first. */
	for (int i = 0; i < d->n && nready < n; i++) {
		if (d->pfd[i].revents != 0)
			d->ready[nready++] = d->pfd[i];
	}
	for (int i = 0; i < nready; i++) {
		short r = d->ready[i].revents;
		int events =
			(r & POLLIN ? EVLOOP_READ : 0) |
			(r & POLLOUT ? EVLOOP_WRITE : 0) |
			(r & (POLLERR | POLLHUP | POLLNVAL) ? EVLOOP_ERROR : 0);
		evloop__ready(el, d->ready[i].fd, events);
	}
	return nready;
}

/* The completion API is evloop_io.c's, on readiness. */
const struct evloop__backend evloop__poll = {
	.name = "poll",
	.init = pl_init,
	.done = pl_done,
	.set = pl_set,
	.wait = pl_wait,
};
