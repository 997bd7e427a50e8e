/* batch.c -- reads URL lists, reserves unique names, runs the downloads. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "tpool.h"
#include "urlname.h"

struct batch {
	struct batch_item *items;
	size_t n, cap;
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
batch_read(struct batch *b, FILE *in, batch_bad_fn bad, void *arg)
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
				bad(arg, lineno, s);
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

/* Names given so far, with for each the next suffix worth trying, so
 * that thousands of URLs sharing one name stay linear. */
struct nameset {
	struct slot {
		const char *name;
		unsigned long next;
	} *slots;
	size_t mask;
};

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct slot *
lookup(struct nameset *ns, const char *name)
{
	size_t i = (size_t)hash(name) & ns->mask;

	while (ns->slots[i].name != NULL && strcmp(ns->slots[i].name, name) != 0)
		i = (i + 1) & ns->mask;
	return &ns->slots[i];
}

int
batch_reserve(struct batch *b)
{
	struct nameset ns;
	size_t size = 16;
	int rc = 0;

	while (size < 2 * b->n + 16)
		size *= 2;
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
		/* Taken: the first free NAME.K, K counting on from last time. */
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
	/* The names are owned by the items; the set only borrowed them. */
	free(ns.slots);
	return rc;
}

struct run {
	struct batch *b;
	const struct batch_run_opts *o;
	struct fetch_share *share;
};

static int
stopping(const struct batch_run_opts *o)
{
	return o->fetch.cancel != NULL && atomic_load(o->fetch.cancel) != 0;
}

static void
run_one(struct run *r, struct fetcher *f, struct batch_item *it)
{
	int rc;

	if (stopping(r->o))
		return;		/* stays pending */
	if (r->o->on_start != NULL)
		r->o->on_start(r->o->arg, it);
	if (f == NULL) {
		memset(&it->res, 0, sizeof(it->res));
		snprintf(it->res.error, sizeof(it->res.error),
			 "no curl handle: %s", strerror(ENOMEM));
		rc = -ENOMEM;
	} else {
		rc = fetch_url(f, it->url, r->o->dirfd, it->name, &it->res);
	}
	it->state = rc == 0 ? BATCH_SAVED :
		    rc == -ECANCELED ? BATCH_INTERRUPTED : BATCH_FAILED;
	if (r->o->on_done != NULL)
		r->o->on_done(r->o->arg, it);
}

static void *
worker_init(void *arg, unsigned index)
{
	struct run *r = arg;

	(void)index;
	return fetch_new(&r->o->fetch, r->share);
}

static void
worker_fini(void *arg, void *wctx)
{
	(void)arg;
	fetch_free(wctx);
}

struct task {
	struct run *run;
	struct batch_item *it;
};

static void
worker_task(void *item, void *wctx)
{
	struct task *t = item;

	run_one(t->run, wctx, t->it);
}

int
batch_run(struct batch *b, const struct batch_run_opts *o)
{
	struct run r = {b, o, NULL};
	struct fetcher *f = NULL;
	struct task *tasks = NULL;
	struct tpool *pool = NULL;
	int rc = 0;

	if (o->jobs == 0) {
		if ((f = fetch_new(&o->fetch, NULL)) == NULL) {
			rc = -errno;
			goto out;
		}
		for (size_t i = 0; i < b->n && !stopping(o); i++)
			if (b->items[i].state == BATCH_PENDING)
				run_one(&r, f, &b->items[i]);
		goto out;
	}
	if ((r.share = fetch_share_new()) == NULL ||
	    (tasks = calloc(b->n ? b->n : 1, sizeof(*tasks))) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	{
		struct tpool_conf conf = {
			.threads = o->jobs,
			/* Enough queued that no worker waits on the feeder,
			 * little enough that memory stays flat. */
			.queue = 2 * (size_t)o->jobs,
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
	for (size_t i = 0; i < b->n && !stopping(o); i++) {
		if (b->items[i].state != BATCH_PENDING)
			continue;
		tasks[i].run = &r;
		tasks[i].it = &b->items[i];
		if ((rc = tpool_submit(pool, &tasks[i])) < 0)
			break;
	}
	tpool_finish(pool);
out:
	tpool_free(pool);
	free(tasks);
	fetch_free(f);
	fetch_share_free(r.share);
	return rc;
}

char *
batch_printable(const char *s, char *out, size_t size)
{
	size_t i = 0, len = strlen(s);

	for (; s[i] != '\0' && i < size - 1; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
	if (len > size - 1)
		memcpy(out + size - 4, "...", 4);
	return out;
}
