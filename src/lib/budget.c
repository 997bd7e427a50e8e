/* SPDX-License-Identifier: ISC */
/* budget.c -- connections in all, per host, and one rate, shared by the
 * downloads of a run under one mutex. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "budget.h"
#include "mtime.h"

struct budget_hostent {
	char key[BUDGET_HOST_MAX];
	int open; /* connections taken */
	int cap;  /* 0: the run's per_host */
};

struct budget {
	struct budget_opts o;
	pthread_mutex_t mu;
	pthread_cond_t room; /* a connection came back or demand fell */
	int open;	     /* connections taken, over all hosts */
	int waiters;	     /* threads in budget_wait_room() */
	int demand;	     /* connections wanted more than held */
	struct budget_hostent *hosts;
	int nhosts, hostcap;
	double tokens, last_refill; /* the rate's bucket */
};

struct budget *
budget_new(const struct budget_opts *o)
{
	struct budget *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->o = *o;
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->room, NULL);
	b->last_refill = mtime_now();
	return b;
}

void
budget_free(struct budget *b)
{
	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->mu);
	pthread_cond_destroy(&b->room);
	free(b->hosts);
	free(b);
}

int
budget_host(const char *url, char *key, size_t size)
{
	const char *s = strstr(url, "://"), *h, *e, *at;
	const char *port = NULL;
	size_t slen, hlen, plen = 0;
	int https;

	if (s == NULL)
		return -EINVAL;
	slen = (size_t)(s - url);
	h = s + 3;
	e = h + strcspn(h, "/?#");
	/* user information ends at the last '@' before the path */
	for (at = h; at < e; at++)
		if (*at == '@')
			h = at + 1;
	if (*h == '[') {
		const char *c = memchr(h, ']', (size_t)(e - h));

		if (c == NULL)
			return -EINVAL;
		hlen = (size_t)(c + 1 - h);
		if (c + 1 < e && c[1] == ':')
			port = c + 2;
	} else {
		const char *c = memchr(h, ':', (size_t)(e - h));

		hlen = (size_t)((c != NULL ? c : e) - h);
		if (c != NULL)
			port = c + 1;
	}
	if (port != NULL)
		plen = (size_t)(e - port);
	https = slen == 5 && strncasecmp(url, "https", 5) == 0;
	if (hlen == 0 || slen + hlen + plen + 12 > size)
		return -EINVAL;
	for (size_t i = 0; i < slen; i++)
		*key++ = (char)tolower((unsigned char)url[i]);
	memcpy(key, "://", 3);
	key += 3;
	for (size_t i = 0; i < hlen; i++)
		*key++ = (char)tolower((unsigned char)h[i]);
	*key++ = ':';
	if (plen > 0) {
		memcpy(key, port, plen);
		key += plen;
	} else {
		strcpy(key, https ? "443" : "80");
		key += https ? 3 : 2;
	}
	*key = '\0';
	return 0;
}

/* The host's entry, made on first use; NULL without memory. */
static struct budget_hostent *
host_of(struct budget *b, const char *host)
{
	struct budget_hostent *h;

	for (int i = 0; i < b->nhosts; i++)
		if (strcmp(b->hosts[i].key, host) == 0)
			return &b->hosts[i];
	if (b->nhosts == b->hostcap) {
		int cap = b->hostcap ? b->hostcap * 2 : 8;

		if ((h = realloc(b->hosts, (size_t)cap * sizeof(*h))) == NULL)
			return NULL;
		b->hosts = h;
		b->hostcap = cap;
	}
	h = &b->hosts[b->nhosts++];
	memset(h, 0, sizeof(*h));
	snprintf(h->key, sizeof(h->key), "%s", host);
	return h;
}

static int
cap_of(const struct budget *b, const struct budget_hostent *h)
{
	return h->cap > 0 ? h->cap : b->o.per_host;
}

int
budget_take(struct budget *b, const char *host)
{
	struct budget_hostent *h;
	int rc = -EAGAIN, cap;

	pthread_mutex_lock(&b->mu);
	if ((h = host_of(b, host)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	cap = cap_of(b, h);
	if ((b->o.total > 0 && b->open >= b->o.total) ||
	    (cap > 0 && h->open >= cap))
		goto out;
	b->open++;
	h->open++;
	rc = 0;
out:
	pthread_mutex_unlock(&b->mu);
	return rc;
}

void
budget_put(struct budget *b, const char *host)
{
	struct budget_hostent *h;

	pthread_mutex_lock(&b->mu);
	if ((h = host_of(b, host)) != NULL && h->open > 0) {
		h->open--;
		b->open--;
	}
	/* One connection back: waiters for other hosts cannot use it, so
	 * all look (they are a few threads, one a worker at most). */
	if (b->waiters > 0)
		pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->mu);
}

int
budget_refused(struct budget *b, const char *host)
{
	struct budget_hostent *h;
	int cap = -1;

	pthread_mutex_lock(&b->mu);
	if ((h = host_of(b, host)) != NULL && h->open > 0) {
		if (cap_of(b, h) == 0 || h->open < cap_of(b, h))
			h->cap = h->open;
		cap = cap_of(b, h);
	}
	pthread_mutex_unlock(&b->mu);
	return cap;
}

int
budget_host_room(struct budget *b, const char *host)
{
	struct budget_hostent *h;
	int room;

	pthread_mutex_lock(&b->mu);
	h = host_of(b, host);
	room = (b->o.total <= 0 || b->open < b->o.total) &&
	       (h == NULL || cap_of(b, h) == 0 || h->open < cap_of(b, h));
	pthread_mutex_unlock(&b->mu);
	return room;
}

int
budget_host_cap(struct budget *b, const char *host)
{
	struct budget_hostent *h;
	int cap = 0;

	pthread_mutex_lock(&b->mu);
	if ((h = host_of(b, host)) != NULL)
		cap = cap_of(b, h);
	pthread_mutex_unlock(&b->mu);
	return cap;
}

void
budget_want(struct budget *b, int delta)
{
	pthread_mutex_lock(&b->mu);
	b->demand += delta;
	if (delta < 0 && b->waiters > 0)
		pthread_cond_broadcast(&b->room);
	pthread_mutex_unlock(&b->mu);
}

/* Room in all and, with n > 0, to one of the hosts. */
static int
has_room(struct budget *b, const char *const *hosts, int n)
{
	if (b->o.total > 0 && b->o.total - b->open <= b->demand)
		return 0;
	for (int i = 0; i < n; i++) {
		struct budget_hostent *h = host_of(b, hosts[i]);

		/* Without memory for its entry, a take fails too. */
		if (h != NULL && (cap_of(b, h) == 0 || h->open < cap_of(b, h)))
			return 1;
	}
	return n == 0;
}

int
budget_wait_room(struct budget *b, const char *const *hosts, int n,
		 double timeout)
{
	struct timespec ts;
	double until;
	int room;

	/* Room at once (the common case), or no wait asked for: no clock. */
	pthread_mutex_lock(&b->mu);
	room = has_room(b, hosts, n);
	pthread_mutex_unlock(&b->mu);
	if (room || timeout <= 0)
		return room;
	until = mtime_now() + timeout;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)timeout;
	ts.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&b->mu);
	b->waiters++;
	while (!(room = has_room(b, hosts, n)) && mtime_now() < until)
		if (pthread_cond_timedwait(&b->room, &b->mu, &ts) != 0)
			break;
	b->waiters--;
	room = has_room(b, hosts, n);
	pthread_mutex_unlock(&b->mu);
	return room;
}

int
budget_rate_capped(const struct budget *b)
{
	return b->o.max_speed > 0;
}

int
budget_may_receive(struct budget *b, double now, double *wake)
{
	double rate = (double)b->o.max_speed, burst = rate / 20;
	int ok;

	if (rate <= 0)
		return 1;
	if (burst < 16384)
		burst = 16384;
	pthread_mutex_lock(&b->mu);
	if (now > b->last_refill) {
		b->tokens += rate * (now - b->last_refill);
		if (b->tokens > burst)
			b->tokens = burst;
		b->last_refill = now;
	}
	ok = b->tokens > 0;
	if (!ok && wake != NULL)
		*wake = now - b->tokens / rate;
	pthread_mutex_unlock(&b->mu);
	return ok;
}

void
budget_spend(struct budget *b, long long n)
{
	if (b->o.max_speed <= 0)
		return;
	pthread_mutex_lock(&b->mu);
	b->tokens -= (double)n;
	pthread_mutex_unlock(&b->mu);
}
