/* SPDX-License-Identifier: ISC */
/* tpool.c -- worker threads and a bounded ring of pending items. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "tpool.h"

struct tpool_worker {
	struct tpool *pool;
	pthread_t thread;
	unsigned index;
};

/*
 * Locking: mu guards head, count, closing. Producers wait on notfull,
 * workers on notempty. Tasks run with mu released, so a slow task never
 * holds up submitters or other workers.
 */
struct tpool {
	struct tpool_opts opts;
	pthread_mutex_t mu;
	pthread_cond_t notempty;
	pthread_cond_t notfull;
	void **ring;
	size_t head, count;
	int closing;
	int joined;
	unsigned nworkers;
	struct tpool_worker workers[TPOOL_MAX_THREADS];
};

static void *
worker_main(void *arg)
{
	struct tpool_worker *w = arg;
	struct tpool *p = w->pool;
	void *wctx = NULL, *item;

	if (p->opts.init != NULL)
		wctx = p->opts.init(w->index, p->opts.arg);
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->count == 0 && !p->closing)
			pthread_cond_wait(&p->notempty, &p->mu);
		if (p->count == 0) {
			/* Closing and drained. */
			pthread_mutex_unlock(&p->mu);
			break;
		}
		item = p->ring[p->head];
		p->head = (p->head + 1) % p->opts.queue;
		p->count--;
		pthread_cond_signal(&p->notfull);
		pthread_mutex_unlock(&p->mu);
		p->opts.task(wctx, item);
	}
	if (p->opts.fini != NULL)
		p->opts.fini(wctx, p->opts.arg);
	return NULL;
}

struct tpool *
tpool_new(const struct tpool_opts *opts)
{
	struct tpool *p;
	pthread_attr_t attr;
	struct tpool_opts *conf;
	long cpus;
	int rc = 0;

	if (opts == NULL || opts->threads > TPOOL_MAX_THREADS ||
	    opts->task == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->opts = *opts;
	conf = &p->opts;
	if (conf->threads == 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		conf->threads = cpus < 1		 ? 1 :
				cpus > TPOOL_MAX_THREADS ? TPOOL_MAX_THREADS :
							   (unsigned)cpus;
	}
	if (conf->queue == 0)
		conf->queue = conf->threads;
	if ((p->ring = calloc(conf->queue, sizeof(*p->ring))) == NULL) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->notempty, NULL);
	pthread_cond_init(&p->notfull, NULL);
	pthread_attr_init(&attr);
	if (conf->stack > 0)
		pthread_attr_setstacksize(&attr, conf->stack);
	for (unsigned i = 0; i < conf->threads; i++) {
		struct tpool_worker *w = &p->workers[i];

		w->pool = p;
		w->index = i;
		if ((rc = pthread_create(&w->thread, &attr, worker_main, w)) !=
		    0)
			break;
		p->nworkers++;
	}
	pthread_attr_destroy(&attr);
	if (p->nworkers == 0) {
		tpool_free(p);
		errno = rc;
		return NULL;
	}
	return p;
}

unsigned
tpool_threads(const struct tpool *p)
{
	return p->nworkers;
}

int
tpool_submit(struct tpool *p, void *item)
{
	pthread_mutex_lock(&p->mu);
	while (p->count == p->opts.queue && !p->closing)
		pthread_cond_wait(&p->notfull, &p->mu);
	if (p->closing) {
		pthread_mutex_unlock(&p->mu);
		return -EPIPE;
	}
	p->ring[(p->head + p->count) % p->opts.queue] = item;
	p->count++;
	pthread_cond_signal(&p->notempty);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

int
tpool_finish(struct tpool *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	pthread_cond_broadcast(&p->notempty);
	pthread_cond_broadcast(&p->notfull);
	pthread_mutex_unlock(&p->mu);
	if (!p->joined) {
		for (unsigned i = 0; i < p->nworkers; i++)
			pthread_join(p->workers[i].thread, NULL);
		p->joined = 1;
	}
	return 0;
}

void
tpool_free(struct tpool *p)
{
	if (p == NULL)
		return;
	tpool_finish(p);
	pthread_cond_destroy(&p->notfull);
	pthread_cond_destroy(&p->notempty);
	pthread_mutex_destroy(&p->mu);
	free(p->ring);
	free(p);
}
