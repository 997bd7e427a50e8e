/* SPDX-License-Identifier: ISC */
/* tpool.c -- worker threads and a bounded ring of pending items. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "tpool.h"

struct worker {
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
	struct tpool_conf conf;
	pthread_mutex_t mu;
	pthread_cond_t notempty;
	pthread_cond_t notfull;
	void **ring;
	size_t head, count;
	int closing;
	int joined;
	unsigned nworkers;
	struct worker workers[TPOOL_MAX_THREADS];
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct tpool *p = w->pool;
	void *wctx = NULL, *item;

	if (p->conf.init != NULL)
		wctx = p->conf.init(p->conf.arg, w->index);
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
		p->head = (p->head + 1) % p->conf.queue;
		p->count--;
		pthread_cond_signal(&p->notfull);
		pthread_mutex_unlock(&p->mu);
		p->conf.task(item, wctx);
	}
	if (p->conf.fini != NULL)
		p->conf.fini(p->conf.arg, wctx);
	return NULL;
}

struct tpool *
tpool_new(const struct tpool_conf *conf)
{
	struct tpool *p;
	pthread_attr_t attr;
	int rc = 0;

	if (conf == NULL || conf->threads < 1 ||
	    conf->threads > TPOOL_MAX_THREADS || conf->queue < 1 ||
	    conf->task == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->conf = *conf;
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
		struct worker *w = &p->workers[i];

		w->pool = p;
		w->index = i;
		if ((rc = pthread_create(&w->thread, &attr, worker_main, w)) != 0)
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
	while (p->count == p->conf.queue && !p->closing)
		pthread_cond_wait(&p->notfull, &p->mu);
	if (p->closing) {
		pthread_mutex_unlock(&p->mu);
		return -EPIPE;
	}
	p->ring[(p->head + p->count) % p->conf.queue] = item;
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
