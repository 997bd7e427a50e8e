/* SPDX-License-Identifier: ISC */
/* batch.c -- reads URL lists, reserves unique names, runs the downloads. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "tpool.h"
#include "urlname.h"

/* Names given so far, with for each the next suffix worth trying, so
 * that thousands of URLs sharing one name stay linear. */
struct batch_nameset {
	struct slot {
		const char *name;
		unsigned long next;
	} * slots;
	size_t mask;
};

struct batch {
	struct batch_item *items;
	size_t n, cap;
	struct batch_nameset ns; /* the names batch_reserve() gave; read
				  * only while the batch runs */
};

struct batch *
batch_new(void)
{
	return calloc(1, sizeof(struct batch));
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->items[i].url);
		free(b->items[i].name);
	}
	free(b->ns.slots);
	free(b->items);
	free(b);
}

size_t
batch_count(const struct batch *b)
{
	return b->n;
}

struct batch_item *
batch_item(struct batch *b, size_t i)
{
	return &b->items[i];
}

int
batch_add(struct batch *b, const char *url, unsigned long line)
{
	struct batch_item *it;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct batch_item *items;

		if ((items = realloc(b->items, cap * sizeof(*items))) == NULL)
			return -ENOMEM;
		b->items = items;
		b->cap = cap;
	}
	it = &b->items[b->n];
	memset(it, 0, sizeof(*it));
	if ((it->url = strdup(url)) == NULL)
		return -ENOMEM;
	it->line = line;
	it->state = BATCH_PENDING;
	b->n++;
	return 0;
}

static int
blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
	       c == '\f';
}

long
batch_read(struct batch *b, FILE *in, batch_bad_cb *bad, void *arg)
{
	char *line = NULL, *s, *e;
	size_t size = 0;
	unsigned long lineno = 0;
	long nbad = 0;
	int rc = 0;

	errno = 0;
	while (getline(&line, &size, in) >= 0) {
		lineno++;
		s = line;
		/* A byte order mark some editors put before the first line. */
		if (lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3;
		while (blank((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && blank((unsigned char)e[-1]))
			e--;
		*e = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		if (!urlname_is_http(s)) {
			nbad++;
			if (bad != NULL)
				bad(lineno, s, arg);
			continue;
		}
		if ((rc = batch_add(b, s, lineno)) < 0)
			break;
	}
	if (rc == 0 && ferror(in))
		rc = errno != 0 ? -errno : -EIO;
	free(line);
	return rc < 0 ? rc : nbad;
}

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct slot *
lookup(struct batch_nameset *ns, const char *name)
{
	size_t i = (size_t)hash(name) & ns->mask;

	while (ns->slots[i].name != NULL &&
	       strcmp(ns->slots[i].name, name) != 0)
		i = (i + 1) & ns->mask;
	return &ns->slots[i];
}

int
batch_reserve(struct batch *b)
{
	struct batch_nameset ns;
	size_t size = 16;
	int rc = 0;

	while (size < 2 * b->n + 16)
		size *= 2;
	free(b->ns.slots);
	b->ns.slots = NULL;
	if ((ns.slots = calloc(size, sizeof(*ns.slots))) == NULL)
		return -ENOMEM;
	ns.mask = size - 1;
	for (size_t i = 0; i < b->n; i++) {
		struct batch_item *it = &b->items[i];
		struct slot *base, *sl;
		char *name;

		free(it->name);
		it->name = NULL;
		if ((name = urlname_from_url(it->url)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		base = lookup(&ns, name);
		if (base->name == NULL) {
			base->name = name;
			base->next = 1;
			it->name = name;
			continue;
		}
		/* Taken: the first free NAME.K, K counting on from last time.
		 */
		for (;;) {
			char *cand;

			if (asprintf(&cand, "%s.%lu", name, base->next++) < 0) {
				free(name);
				rc = -ENOMEM;
				goto out;
			}
			sl = lookup(&ns, cand);
			if (sl->name == NULL) {
				sl->name = cand;
				sl->next = 1;
				it->name = cand;
				break;
			}
			free(cand);
		}
		free(name);
	}
out:
	/* The names are owned by the items; the set only borrows them, and
	 * is kept for batch_taken(). */
	if (rc < 0)
		free(ns.slots);
	else
		b->ns = ns;
	return rc;
}

/* fetch_taken_cb: whether batch_reserve() gave name to an item. */
static int
batch_taken(const char *name, void *arg)
{
	struct batch *b = arg;

	return b->ns.slots != NULL && lookup(&b->ns, name)->name != NULL;
}

struct batch_runner {
	struct batch *b;
	const struct batch_run_opts *o;
	struct fetch_opts fetch; /* o->fetch with the batch's taken */
	struct fetch_share *share;
	unsigned threads, concurrency;
	atomic_size_t next; /* the next item a worker claims */
};

static int
stopping(const struct batch_run_opts *o)
{
	return o->fetch.cancel != NULL && atomic_load(o->fetch.cancel) != 0;
}

/* The next pending item for this worker, or NULL when none is left (or
 * the run is stopping). An atomic increment: no lock, no queue to feed. */
static struct batch_item *
claim(struct batch_runner *r)
{
	size_t i;

	while (!stopping(r->o) && (i = atomic_fetch_add(&r->next, 1)) < r->b->n)
		if (r->b->items[i].state == BATCH_PENDING)
			return &r->b->items[i];
	return NULL;
}

static void
item_end(struct batch_runner *r, struct batch_item *it, int rc)
{
	it->state = rc == 0	     ? BATCH_SAVED :
		    rc == -ECANCELED ? BATCH_INTERRUPTED :
				       BATCH_FAILED;
	if (r->o->on_done != NULL)
		r->o->on_done(it, r->o->arg);
}

static void
item_start(struct batch_runner *r, struct batch_item *it)
{
	if (r->o->on_start != NULL)
		r->o->on_start(it, r->o->arg);
}

/* An item that cannot run at all (no curl handle). */
static void
item_unrunnable(struct batch_runner *r, struct batch_item *it)
{
	item_start(r, it);
	memset(&it->res, 0, sizeof(it->res));
	snprintf(it->res.error, sizeof(it->res.error), "no curl handle: %s",
		 strerror(ENOMEM));
	item_end(r, it, -ENOMEM);
}

static void
on_fetch_done(void *cookie, int rc, void *arg)
{
	item_end(arg, cookie, rc);
}

static void *
worker_init(unsigned index, void *arg)
{
	struct batch_runner *r = arg;
	/* The concurrency, spread over the workers as evenly as it goes. */
	unsigned slots = r->concurrency / r->threads +
			 (index < r->concurrency % r->threads);

	return fetch_multi_new(&r->fetch, r->share, slots);
}

static void
worker_fini(void *wctx, void *arg)
{
	(void)arg;
	fetch_multi_free(wctx);
}

/*
 * A worker: keeps its multi handle's slots filled with claimed items and
 * moves their transfers on, until no item is left and its last transfer
 * has ended.
 */
static void
worker_task(void *wctx, void *arg)
{
	struct batch_runner *r = arg;
	struct fetch_multi *fm = wctx;
	struct batch_item *it;

	if (fm == NULL) {
		while ((it = claim(r)) != NULL)
			item_unrunnable(r, it);
		return;
	}
	for (;;) {
		while (fetch_multi_idle(fm) > 0 && (it = claim(r)) != NULL) {
			int rc;

			item_start(r, it);
			rc = fetch_multi_add(fm, it->url, r->o->dirfd, it->name,
					     &it->res, it);
			if (rc < 0)
				item_end(r, it, rc);
		}
		if (fetch_multi_busy(fm) == 0)
			break;
		fetch_multi_run(fm, -1, on_fetch_done, r);
	}
}

/* The processors this process may run on. */
static unsigned
online_cpus(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    (n = CPU_COUNT(&set)) > 0)
		return (unsigned)n;
	n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

int
batch_run(struct batch *b, const struct batch_run_opts *o)
{
	struct batch_runner r = {b, o, o->fetch, NULL, 0, 0, 0};
	struct fetcher *f = NULL;
	struct tpool *pool = NULL;
	struct batch_item *it;
	size_t pending = 0;
	int rc = 0;

	r.fetch.taken = batch_taken;
	r.fetch.taken_arg = b;
	if (o->jobs == 0) {
		if ((f = fetch_new(&r.fetch, NULL)) == NULL) {
			while ((it = claim(&r)) != NULL)
				item_unrunnable(&r, it);
			goto out;
		}
		while ((it = claim(&r)) != NULL) {
			item_start(&r, it);
			item_end(&r, it,
				 fetch_url(f, it->url, o->dirfd, it->name,
					   &it->res));
		}
		goto out;
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].state == BATCH_PENDING)
			pending++;
	if (pending == 0)
		goto out;
	/* No more at once than there are items; no more threads than
	 * processors, each driving its share of the transfers. */
	r.concurrency = pending < o->jobs ? (unsigned)pending : o->jobs;
	r.threads = o->threads > 0 ? o->threads : online_cpus();
	if (r.threads > r.concurrency)
		r.threads = r.concurrency;
	if (r.threads > TPOOL_MAX_THREADS)
		r.threads = TPOOL_MAX_THREADS;
	if ((r.share = fetch_share_new()) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	{
		struct tpool_opts conf = {
			.threads = r.threads,
			.queue = r.threads,
			.task = worker_task,
			.init = worker_init,
			.fini = worker_fini,
			.arg = &r,
		};

		if ((pool = tpool_new(&conf)) == NULL) {
			rc = -errno;
			goto out;
		}
	}
	/* One task a thread actually started: each runs until the items run
	 * out, so a thread refused by the system means fewer at once, not
	 * items left behind. */
	for (unsigned i = 0; i < tpool_threads(pool); i++)
		if ((rc = tpool_submit(pool, &r)) < 0)
			break;
	tpool_finish(pool);
out:
	tpool_free(pool);
	fetch_free(f);
	fetch_share_free(r.share);
	return rc;
}
