/* SPDX-License-Identifier: ISC */
/* counter.c -- the thread-safe counter the threading demo contrasts with a
 * bare shared variable. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "counter.h"

struct counter {
	pthread_mutex_t lock; /* guards value; held only inside this file */
	long long value;
};

struct counter *
counter_new(void)
{
	struct counter *c = calloc(1, sizeof(*c));
	int rc;

	if (c == NULL)
		return NULL;
	if ((rc = pthread_mutex_init(&c->lock, NULL)) != 0) {
		free(c);
		errno = rc;
		return NULL;
	}
	return c;
}

void
counter_free(struct counter *c)
{
	if (c == NULL)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

long long
counter_add(struct counter *c, long long delta)
{
	long long v;

	pthread_mutex_lock(&c->lock);
	v = c->value += delta;
	pthread_mutex_unlock(&c->lock);
	return v;
}

long long
counter_get(struct counter *c)
{
	long long v;

	pthread_mutex_lock(&c->lock);
	v = c->value;
	pthread_mutex_unlock(&c->lock);
	return v;
}
