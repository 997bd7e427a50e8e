/* SPDX-License-Identifier: ISC */
/* httpserv_fault.c -- the fault SPEC of /fault/SPEC/ paths (httpserv.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpserv_int.h"
#include "mtime.h"
#include "sock.h"

#define FAULT_SPECS 4096 /* distinct SPEC texts counted */

static int
parse_rate(const char *v, unsigned long *out)
{
	char *end;
	double r;

	errno = 0;
	r = strtod(v, &end);
	if (end == v || errno != 0 || r <= 0)
		return -EINVAL;
	if (*end == 'k' || *end == 'K')
		r *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		r *= 1024.0 * 1024, end++;
	if (*end != '\0' || r > 4e9)
		return -EINVAL;
	*out = (unsigned long)r;
	return 0;
}

/* No fault at all. */
void
httpserv__fault_init(struct httpserv_fault *f)
{
	memset(f, 0, sizeof(*f));
	f->retry = -1;
	f->cut = -1;
	f->stall_at = -1;
	f->redirect = -1;
	f->times = -1;
	f->seed = 1;
}

/* One NAME=VALUE item of a SPEC into f (v is NULL without "="). 0, -1
 * for a bad value, 1 when NAME is not one that takes a value. */
static int
parse_valued(const char *item, const char *v, struct httpserv_fault *f)
{
	const char *end = "";
	long long n = v != NULL ? httpserv__parse_count(v, &end) : 0;

	/* Items whose value is a plain count. */
#define COUNT_ITEM(name, field)                                                \
	if (strcmp(item, name) == 0) {                                         \
		if (v == NULL || n < 0 || *end != '\0')                        \
			return -EINVAL;                                        \
		field = n;                                                     \
		return 0;                                                      \
	}
	COUNT_ITEM("retry", f->retry)
	COUNT_ITEM("at", f->stall_at)
	COUNT_ITEM("redirect", f->redirect)
	COUNT_ITEM("times", f->times)
	COUNT_ITEM("seed", f->seed)
#undef COUNT_ITEM
	if (strcmp(item, "status") == 0) {
		if (v == NULL || n < 100 || n > 599 || *end != '\0')
			return -EINVAL;
		f->status = (int)n;
	} else if (strcmp(item, "cut") == 0) {
		if (v != NULL && strcmp(v, "rand") == 0)
			f->cut_rand = 1;
		else if (v == NULL || n < 0 || *end != '\0')
			return -EINVAL;
		else
			f->cut = n;
	} else if (strcmp(item, "stall") == 0) {
		char *e;

		if (v == NULL)
			return -EINVAL;
		f->stall = strtod(v, &e);
		if (e == v || *e != '\0' || !(f->stall > 0) || f->stall > 3600)
			return -EINVAL;
	} else if (strcmp(item, "change") == 0) {
		if (v == NULL) {
			f->change = 1;
		} else {
			if (n < 0 || *end != '\0')
				return -EINVAL;
			f->change = 2;
			f->change_after = n;
		}
	} else if (strcmp(item, "etaglen") == 0) {
		if (v == NULL || n < 3 || n > ETAG_MAX || *end != '\0')
			return -EINVAL;
		f->etaglen = (int)n;
	} else if (strcmp(item, "rate") == 0) {
		if (v == NULL || parse_rate(v, &f->rate) < 0)
			return -EINVAL;
	} else if (strcmp(item, "id") == 0) {
		/* Only makes a SPEC, and so its count, distinct. */
		if (v == NULL)
			return -EINVAL;
	} else {
		return 1;
	}
	return 0;
}

/* One item of a SPEC without a value into f. 0, or -EINVAL if unknown. */
static int
parse_flag(const char *item, struct httpserv_fault *f)
{
	if (strcmp(item, "rst") == 0)
		f->rst = 1;
	else if (strcmp(item, "norange") == 0)
		f->norange = 1;
	else if (strcmp(item, "badrange") == 0)
		f->badrange = 1;
	else if (strcmp(item, "nohead") == 0)
		f->nohead = 1;
	else if (strcmp(item, "chunked") == 0)
		f->chunked = 1;
	else if (strcmp(item, "novalidator") == 0)
		f->novalidator = 1;
	else if (strcmp(item, "close") == 0)
		f->close = 1;
	else
		return -EINVAL;
	return 0;
}

/* Parses a SPEC (not NUL-terminated: len bytes) into f. 0 or -EINVAL. */
int
httpserv__fault_parse(const char *spec, size_t len, struct httpserv_fault *f)
{
	char buf[512], *item, *save = NULL;

	httpserv__fault_init(f);
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, spec, len);
	buf[len] = '\0';
	for (item = strtok_r(buf, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		char *v = strchr(item, '=');
		int rc;

		if (v != NULL)
			*v++ = '\0';
		rc = parse_valued(item, v, f);
		if (rc == 1)
			rc = v != NULL ? -1 : parse_flag(item, f);
		if (rc < 0)
			return -EINVAL;
	}
	return 0;
}

/* Builds the Location of the next hop of a redirect=N spec. */
void
httpserv__redirect_location(const char *spec, size_t slen, long long left,
			    const char *rest, char *out, size_t len)
{
	char buf[512], *item, *save = NULL;
	size_t o = 0;

	memcpy(buf, spec, slen);
	buf[slen] = '\0';
	out[0] = '\0';
	for (item = strtok_r(buf, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "redirect=", 9) == 0)
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s",
				      o == 0 ? "/fault/" : ",", item);
		if (o >= len)
			return;
	}
	if (left > 0)
		o += (size_t)snprintf(out + o, len - o, "%sredirect=%lld",
				      o == 0 ? "/fault/" : ",", left);
	if (o < len)
		snprintf(out + o, len - o, "%s", rest);
}

/* Waits up to ms milliseconds unless the server stops. 1 if stopping. */
int
httpserv__wait_or_stop(struct httpserv *s, int ms)
{
	struct pollfd p = {.fd = s->stopfd[0], .events = POLLIN};

	return poll(&p, 1, ms) > 0;
}

/* Counts one more request carrying spec; returns its number (from 1), or
 * 0 when too many distinct specs are being counted. */
unsigned long
httpserv__fault_count(struct httpserv *s, const char *spec, size_t len)
{
	struct httpserv_fault_count *fc;
	unsigned long n = 0;

	pthread_mutex_lock(&s->lock);
	for (fc = s->faults; fc != NULL; fc = fc->next)
		if (strlen(fc->spec) == len && memcmp(fc->spec, spec, len) == 0)
			break;
	if (fc == NULL && s->nfaults < FAULT_SPECS &&
	    (fc = malloc(sizeof(*fc) + len + 1)) != NULL) {
		memcpy(fc->spec, spec, len);
		fc->spec[len] = '\0';
		fc->n = 0;
		fc->next = s->faults;
		s->faults = fc;
		s->nfaults++;
	}
	if (fc != NULL)
		n = ++fc->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * The link is a queue in time: each send reserves n / rate seconds of it
 * after the ones before, so every connection together gets the rate,
 * whatever their number. Idle time is not saved up beyond a burst of
 * 20 ms, as a link has no credit to spend.
 */
double
httpserv__link_take(struct httpserv *s, size_t n)
{
	double now = mtime_now(), start, burst = 0.02;

	pthread_mutex_lock(&s->link_lock);
	if (s->link_free < now - burst)
		s->link_free = now - burst;
	start = s->link_free;
	s->link_free += (double)n / (double)s->o.link;
	pthread_mutex_unlock(&s->link_lock);
	return start > now ? start - now : 0;
}

unsigned long
httpserv__rate(struct httpserv *s)
{
	double first;

	if (s->o.rate_after <= 0)
		return s->o.rate;
	pthread_mutex_lock(&s->lock);
	first = s->first_req;
	pthread_mutex_unlock(&s->lock);
	if (first > 0 && mtime_now() >= first + s->o.rate_after)
		return s->o.rate_later;
	return s->o.rate;
}

void
httpserv__pace(struct httpserv_conn *c)
{
	unsigned long r = httpserv__rate(c->srv);

	if (r == c->paced)
		return;
	/* The kernel reads ~0 as no cap. */
	sock_set_pacing(c->fd, r != 0 ? r : ~0UL);
	c->paced = r;
}
