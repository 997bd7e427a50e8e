/* SPDX-License-Identifier: ISC */
/* batch.c -- reads download lists, reserves unique names, runs the
 * downloads through accel under one budget. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "fsutil.h"
#include "mtime.h"
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
	struct batch_nameset ns; /* the paths batch_reserve() gave, borrowed
				  * from the items; read only while the
				  * batch runs */
};

struct batch *
batch_new(void)
{
	return calloc(1, sizeof(struct batch));
}

static void
free_strings(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
item_free(struct batch_item *it)
{
	free_strings(it->urls, it->nurls);
	free_strings(it->headers, it->nheaders);
	free(it->out);
	free(it->dir);
	free(it->name);
	free(it->path);
	free(it->res.errurl);
}

void
batch_free(struct batch *b)
{
	if (b == NULL)
		return;
	for (size_t i = 0; i < b->n; i++)
		item_free(&b->items[i]);
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

/* A new zeroed item at the end, or NULL without memory. */
static struct batch_item *
new_item(struct batch *b, unsigned long line)
{
	struct batch_item *it;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct batch_item *items;

		if ((items = realloc(b->items, cap * sizeof(*items))) == NULL)
			return NULL;
		b->items = items;
		b->cap = cap;
	}
	it = &b->items[b->n];
	memset(it, 0, offsetof(struct batch_item, res));
	accel_result_init(&it->res);
	it->why[0] = '\0';
	it->line = line;
	it->state = BATCH_PENDING;
	it->size = -1;
	return it;
}

/* A copy of n strings, or NULL without memory (n 0: an empty array). */
static char **
copy_strings(char *const *v, int n)
{
	char **c = calloc((size_t)n + 1, sizeof(*c));

	for (int i = 0; c != NULL && i < n; i++)
		if ((c[i] = strdup(v[i])) == NULL) {
			free_strings(c, i);
			return NULL;
		}
	return c;
}

int
batch_add(struct batch *b, const char *url, unsigned long line)
{
	struct urllist_entry e = {
		.urls = (char **)&url, .nurls = 1, .line = line};

	return batch_add_entry(b, &e);
}

/* Gives it the file e describes, e's strings and all (it owns them). */
static void
item_take(struct batch_item *it, const struct urllist_entry *e)
{
	it->urls = e->urls;
	it->nurls = e->nurls;
	it->url = it->urls[0];
	it->headers = e->headers;
	it->nheaders = e->nheaders;
	it->out = e->out;
	it->dir = e->dir;
	it->has_sha256 = e->has_sha256;
	memcpy(it->sha256, e->sha256, sizeof(it->sha256));
	it->split = e->split;
}

int
batch_add_entry(struct batch *b, const struct urllist_entry *e)
{
	struct urllist_entry c = *e;
	struct batch_item *it;

	c.urls = copy_strings(e->urls, e->nurls);
	c.headers = copy_strings(e->headers, e->nheaders);
	c.out = e->out != NULL ? strdup(e->out) : NULL;
	c.dir = e->dir != NULL ? strdup(e->dir) : NULL;
	if (c.urls == NULL || c.headers == NULL ||
	    (e->out != NULL && c.out == NULL) ||
	    (e->dir != NULL && c.dir == NULL) ||
	    (it = new_item(b, e->line)) == NULL) {
		if (c.urls != NULL)
			free_strings(c.urls, c.nurls);
		if (c.headers != NULL)
			free_strings(c.headers, c.nheaders);
		free(c.out);
		free(c.dir);
		return -ENOMEM;
	}
	b->n++;
	item_take(it, &c);
	return 0;
}

long
batch_read(struct batch *b, FILE *in, batch_bad_cb *bad, void *arg)
{
	struct urllist *l = urllist_new();
	long nbad;

	if (l == NULL)
		return -ENOMEM;
	nbad = urllist_read(l, in, bad, arg);
	/* The items take the entries' strings rather than copies of them. */
	for (size_t i = 0; nbad >= 0 && i < urllist_count(l); i++) {
		struct batch_item *it = new_item(b, urllist_entry(l, i)->line);
		struct urllist_entry e;

		if (it == NULL) {
			nbad = -ENOMEM;
			break;
		}
		b->n++;
		urllist_take(l, i, &e);
		item_take(it, &e);
	}
	urllist_free(l);
	return nbad;
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

/* The path an item asks for: "dir/name" or "name"; NULL without memory. */
static char *
wanted_path(const struct batch_item *it)
{
	char *name, *path;

	name = it->out != NULL ? strdup(it->out) : urlname_from_url(it->url);
	if (name == NULL || it->dir == NULL)
		return name;
	if (asprintf(&path, "%s/%s", it->dir, name) < 0)
		path = NULL;
	free(name);
	return path;
}

/* Gives it the path p (taken over) and the name in it. */
static void
give_path(struct batch_item *it, char *p)
{
	const char *slash = strrchr(p, '/');

	it->path = p;
	it->name = strdup(slash != NULL ? slash + 1 : p);
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
	for (size_t i = 0; i < b->n && rc == 0; i++) {
		struct batch_item *it = &b->items[i];
		struct slot *base, *sl;
		char *path;

		free(it->name);
		free(it->path);
		it->name = it->path = NULL;
		if ((path = wanted_path(it)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		base = lookup(&ns, path);
		if (base->name == NULL) {
			base->name = path;
			base->next = 1;
			give_path(it, path);
			rc = it->name == NULL ? -ENOMEM : 0;
			continue;
		}
		/* Taken: the first free PATH.K, K counting on from last
		 * time. */
		for (;;) {
			char *cand;

			if (asprintf(&cand, "%s.%lu", path, base->next++) < 0) {
				rc = -ENOMEM;
				break;
			}
			sl = lookup(&ns, cand);
			if (sl->name == NULL) {
				sl->name = cand;
				sl->next = 1;
				give_path(it, cand);
				rc = it->name == NULL ? -ENOMEM : 0;
				break;
			}
			free(cand);
		}
		free(path);
	}
	/* The paths are owned by the items; the set borrows them, and is
	 * kept for taken(). */
	if (rc < 0)
		free(ns.slots);
	else
		b->ns = ns;
	return rc;
}

/* What accel's callbacks get, and what a running item's download points
 * to until it ends: one per item. */
struct batch_job {
	struct batch_runner *r;
	struct batch_item *it;
	struct reqopts *req; /* the run's request options and the item's
			      * headers; NULL: the run's serve */
	int subfd;	     /* its dir= folder, open; -1: none */
	char path[];	     /* the download's path, "dir/name" */
};

struct batch_runner {
	struct batch *b;
	const struct batch_run_opts *o;
	struct budget *budget;
	unsigned per_worker; /* files one worker runs at once */
	atomic_size_t next;  /* the next item a worker claims */
	/* Without -c: the NAME.part.state files in the run's folder when it
	 * started, when one pass over it could tell (states_listed). */
	char **states;
	size_t nstates;
	int states_listed;
};

static int
stopping(const struct batch_run_opts *o)
{
	return o->stop != NULL &&
	       __atomic_load_n(o->stop, __ATOMIC_RELAXED) != 0;
}

/* The next pending item, or NULL when none is left (or the run is
 * stopping). An atomic increment: no lock, no queue to feed. */
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
	if (it->state == BATCH_PENDING)
		it->state = rc == 0	 ? BATCH_SAVED :
			    rc == -EINTR ? BATCH_INTERRUPTED :
					   BATCH_FAILED;
	if (r->o->on_done != NULL)
		r->o->on_done(it, r->o->arg);
}

static void
on_progress(const struct accel_stats *st, void *arg)
{
	struct batch_job *j = arg;

	j->it->size = st->total;
	j->it->done = st->done;
	j->it->conns = st->conns;
	j->it->elapsed = st->elapsed;
	j->it->target = st->target;
	j->it->target_why = st->why;
	if (j->r->o->on_progress != NULL)
		j->r->o->on_progress(j->it, j->r->o->arg);
}

/* accel_taken_cb: whether name, in the item's folder, is another item's
 * reserved path. */
static int
taken(const char *name, void *arg)
{
	struct batch_job *j = arg;
	struct batch *b = j->r->b;
	char path[PATH_MAX];

	if (b->ns.slots == NULL)
		return 0;
	if (j->it->dir != NULL)
		snprintf(path, sizeof(path), "%s/%s", j->it->dir, name);
	else
		snprintf(path, sizeof(path), "%s", name);
	return lookup(&b->ns, path)->name != NULL;
}

static void
on_warn(const char *msg, void *arg)
{
	struct batch_job *j = arg;

	if (j->r->o->warn != NULL)
		j->r->o->warn(msg, j->r->o->arg);
}

/*
 * Makes the item's subfolder inside the run's folder, one component at a
 * time, never through a symbolic link. Returns it open (the download then
 * works in it, so no link put in its path later is followed either), or
 * -errno with the reason in it->res.
 */
static int
make_subdir(const struct batch_runner *r, struct batch_item *it)
{
	char *d = strdup(it->dir), *part, *save = NULL;
	int fd = dup(r->o->dirfd), rc = 0;

	if (d == NULL || fd < 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (part = strtok_r(d, "/", &save); part != NULL;
	     part = strtok_r(NULL, "/", &save)) {
		int next;

		if (mkdirat(fd, part, 0777) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		next = openat(fd, part,
			      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			rc = errno == ELOOP || errno == ENOTDIR ? -ELOOP :
								  -errno;
			break;
		}
		close(fd);
		fd = next;
	}
out:
	if (rc < 0)
		snprintf(it->res.errmsg, sizeof(it->res.errmsg), "dir=%s: %s",
			 it->dir,
			 rc == -ELOOP ? "a symbolic link or not a folder; "
					"not followed" :
					strerror(-rc));
	if (rc < 0 && fd >= 0)
		close(fd);
	free(d);
	return rc < 0 ? rc : fd;
}

/* Whether the item should not run: already there (-c, --no-clobber), or a
 * partial download of an earlier run that only -c may touch. */
static int
skip_or_refuse(const struct batch_runner *r, struct batch_item *it)
{
	char part[PATH_MAX];
	struct stat st;
	int has_part = 0, listed;

	/* The names are made only when asked about: a list of small files
	 * pays for every step here. */
	if (r->o->resume) {
		snprintf(part, sizeof(part), "%s.part", it->path);
		has_part = fstatat(r->o->dirfd, part, &st,
				   AT_SYMLINK_NOFOLLOW) == 0;
	}
	/* -c: a file there without a NAME.part beside it is complete. */
	if ((r->o->no_clobber || (r->o->resume && !has_part)) &&
	    fstatat(r->o->dirfd, it->path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		it->state = BATCH_SKIPPED;
		snprintf(it->why, sizeof(it->why), "%s",
			 r->o->no_clobber ? "already there (--no-clobber)" :
					    "already complete");
		return 1;
	}
	if (r->o->resume || !r->o->keep_parts)
		return 0;
	/* The listing answers for a name in the folder itself (an empty
	 * one without the name made), a lookup for one in a subfolder. */
	listed = r->states_listed && strchr(it->path, '/') == NULL;
	if (listed && r->nstates == 0)
		return 0;
	snprintf(part, sizeof(part), "%s.part.state", it->path);
	if (listed ?
		    fsutil_names_has(r->states, r->nstates, part) :
		    fstatat(r->o->dirfd, part, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		it->state = BATCH_FAILED;
		it->res.kept = 1;
		snprintf(it->res.errmsg, sizeof(it->res.errmsg),
			 "an earlier download's .part is there; resume it "
			 "with -c");
		return 1;
	}
	return 0;
}

/* The request options of the run with the item's own headers after, in
 * *req, allocated; an item without headers of its own uses the run's
 * (*req NULL), not a copy of their kilobyte. Returns 0, -ENOMEM, or
 * -E2BIG for too many headers. */
static int
item_req(const struct batch_runner *r, const struct batch_item *it,
	 struct reqopts **req)
{
	struct reqopts *q;

	*req = NULL;
	if (it->nheaders == 0)
		return 0;
	if ((q = malloc(sizeof(*q))) == NULL)
		return -ENOMEM;
	if (r->o->req != NULL)
		*q = *r->o->req;
	else
		memset(q, 0, sizeof(*q));
	for (int i = 0; i < it->nheaders; i++) {
		if (q->nheaders == REQOPTS_MAX_HEADERS) {
			free(q);
			return -E2BIG;
		}
		q->headers[q->nheaders++] = it->headers[i];
	}
	*req = q;
	return 0;
}

/* Downloads one item to its end, in the calling thread. */
/* accel_done_cb: the item's download ended. */
static void
job_done(int rc, struct accel_result *res, void *arg)
{
	struct batch_job *j = arg;
	struct batch_runner *r = j->r;
	struct batch_item *it = j->it;

	(void)res;
	if (j->subfd >= 0)
		close(j->subfd);
	free(j->req);
	free(j);
	item_end(r, it, rc);
}

/*
 * Takes the item's first connection: to the first of its hosts that has
 * one free. Returns K + 1 for urls[K], or 0 when all its hosts are full
 * (a file started then would only wait, holding its place). Taking it
 * here, not in the download, keeps two workers from both starting a
 * file for the last free connection.
 */
static int
take_first(struct batch_runner *r, const struct batch_item *it)
{
	char host[BUDGET_HOST_MAX];

	for (int i = 0; i < it->nurls; i++)
		if (budget_host(it->urls[i], host, sizeof(host)) == 0 &&
		    budget_take(r->budget, host) == 0)
			return i + 1;
	return 0;
}

/* Gives back what take_first() took, for an item that never started. */
static void
put_first(struct batch_runner *r, const struct batch_item *it, int first)
{
	char host[BUDGET_HOST_MAX];

	if (first > 0 &&
	    budget_host(it->urls[first - 1], host, sizeof(host)) == 0)
		budget_put(r->budget, host);
}

/* Begins the item's download on the session, or ends the item at once
 * (skipped, refused, or unable to begin). */
static void
start_item(struct batch_runner *r, struct batch_item *it,
	   struct accel_session *session, int first)
{
	const struct batch_run_opts *o = r->o;
	size_t dlen = strlen(o->dir), nlen = strlen(it->path);
	struct batch_job *j;
	struct accel_opts ao;
	int rc;

	accel_result_clear(&it->res);
	if (o->on_start != NULL)
		o->on_start(it, o->arg);
	if (skip_or_refuse(r, it)) {
		put_first(r, it, first);
		item_end(r, it, 0);
		return;
	}
	/* The job, with its path after it, lives while the file
	 * downloads: freed memory of ended ones serves, where an array of
	 * one a file took new pages. */
	if ((j = malloc(sizeof(*j) + dlen + nlen + 2)) == NULL ||
	    (rc = item_req(r, it, &j->req)) < 0) {
		rc = j == NULL ? -ENOMEM : rc;
		free(j);
		put_first(r, it, first);
		if (rc == -E2BIG)
			snprintf(it->res.errmsg, sizeof(it->res.errmsg),
				 "more than %d headers", REQOPTS_MAX_HEADERS);
		else
			snprintf(it->res.errmsg, sizeof(it->res.errmsg), "%s",
				 strerror(-rc));
		item_end(r, it, rc);
		return;
	}
	j->r = r;
	j->it = it;
	j->subfd = -1;
	memcpy(j->path, o->dir, dlen);
	j->path[dlen] = '/';
	memcpy(j->path + dlen + 1, it->path, nlen + 1);
	if (it->dir != NULL && (rc = j->subfd = make_subdir(r, it)) < 0) {
		free(j->req);
		free(j);
		put_first(r, it, first);
		item_end(r, it, rc);
		return;
	}
	memset(&ao, 0, sizeof(ao));
	ao.req = j->req != NULL ? j->req : o->req;
	ao.urls = (const char *const *)it->urls;
	ao.nurls = it->nurls;
	ao.path = j->path;
	ao.folder_fd = j->subfd >= 0 ? j->subfd : o->dirfd;
	/* keep_parts looked: no state of an earlier run was there. */
	ao.no_old_state = o->keep_parts && !o->resume;
	ao.disposition = o->disposition && it->out == NULL;
	ao.taken = taken;
	ao.taken_arg = j;
	ao.conns = it->split > 0 ? it->split : o->split;
	ao.max_conns = o->max_conns;
	ao.resume = o->resume;
	ao.timestamping = o->timestamping;
	ao.timeout = o->timeout;
	ao.retries = o->retries;
	ao.backoff = o->backoff;
	ao.min_speed = o->min_speed;
	ao.sha256 = it->has_sha256 ? it->sha256 : NULL;
	ao.stop = o->stop;
	ao.budget = r->budget;
	ao.first_slot = first;
	ao.session = session;
	ao.progress = on_progress;
	ao.warn = on_warn;
	ao.arg = j;
	if ((rc = accel_start(session, &ao, &it->res, job_done, j)) < 0)
		job_done(rc, &it->res, j);
}

/* Each worker drives its downloads over one session, which keeps their
 * connections from one file to the next (NULL: no memory for it). */
static void *
worker_init(unsigned index, void *arg)
{
	(void)index;
	(void)arg;
	return accel_session_new();
}

static void
worker_fini(void *wctx, void *arg)
{
	(void)arg;
	accel_session_free(wctx);
}

/* An item that cannot run at all (no session). */
static void
item_unrunnable(struct batch_runner *r, struct batch_item *it)
{
	if (r->o->on_start != NULL)
		r->o->on_start(it, r->o->arg);
	accel_result_clear(&it->res);
	snprintf(it->res.errmsg, sizeof(it->res.errmsg), "%s",
		 strerror(ENOMEM));
	item_end(r, it, -ENOMEM);
}

/* Waits up to timeout seconds for room to start a file: for held, a
 * connection to one of its hosts, not only one in all (with a host at
 * its cap, the run's total alone said yes at once, and a worker with no
 * file running spun on it). */
static void
wait_room(struct batch_runner *r, const struct batch_item *held, double timeout)
{
	char(*keys)[BUDGET_HOST_MAX] = NULL;
	const char **hosts = NULL;
	int n = 0;

	if (held != NULL && held->nurls > 0 &&
	    (keys = calloc((size_t)held->nurls, sizeof(*keys))) != NULL &&
	    (hosts = calloc((size_t)held->nurls, sizeof(*hosts))) != NULL)
		for (int i = 0; i < held->nurls; i++)
			if (budget_host(held->urls[i], keys[n],
					sizeof(keys[n])) == 0) {
				hosts[n] = keys[n];
				n++;
			}
	/* No host to wait for (none valid, or no memory): any room. */
	budget_wait_room(r->budget, hosts, n, timeout);
	free(hosts);
	free(keys);
}

/*
 * A worker: starts the next item whenever it runs fewer than its share
 * and a connection is free that no running file wants, and moves its
 * downloads on, all on the calling thread, until the items run out and
 * its last download ends.
 */
static void
worker_task(void *wctx, void *arg)
{
	struct batch_runner *r = arg;
	struct accel_session *s = wctx;
	struct batch_item *it, *held = NULL; /* claimed, its hosts full */
	int more = 1, first;

	if (s == NULL) {
		while ((it = claim(r)) != NULL)
			item_unrunnable(r, it);
		return;
	}
	for (;;) {
		while (more && accel_session_busy(s) < (int)r->per_worker) {
			if (held == NULL &&
			    budget_wait_room(r->budget, NULL, 0, 0) &&
			    (held = claim(r)) == NULL)
				more = 0;
			if (held == NULL || (first = take_first(r, held)) == 0)
				break;
			start_item(r, held, s, first);
			held = NULL;
		}
		if (accel_session_busy(s) > 0)
			accel_session_run(s, 0.1);
		else if ((!more && held == NULL) || stopping(r->o))
			break;
		else
			wait_room(r, held, 0.1);
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
	struct batch_runner r = {.b = b, .o = o};
	struct budget_opts bo = {.total = (int)o->jobs,
				 .per_host = o->max_per_host,
				 .max_speed = o->max_speed};
	struct tpool *pool = NULL;
	unsigned threads;
	size_t pending = 0;
	int rc = 0;

	for (size_t i = 0; i < b->n; i++)
		if (b->items[i].state == BATCH_PENDING)
			pending++;
	if (pending == 0)
		return 0;
	if ((r.budget = budget_new(&bo)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* An earlier run's states, found in one pass over the folder rather
	 * than a lookup a file; a folder far larger than the list is asked
	 * name by name. One that comes later is caught as its NAME.part is
	 * opened (accel's no_old_state). */
	if (o->keep_parts && !o->resume)
		r.states_listed =
			fsutil_list_suffix(o->dirfd, ".part.state",
					   16 * b->n + 4096, &r.states,
					   &r.nstates) == 0;
	if (o->jobs == 0) {
		/* One file after another, on the calling thread. */
		struct accel_session *s = worker_init(0, &r);

		r.per_worker = 1;
		worker_task(s, &r);
		worker_fini(s, &r);
		goto out;
	}
	/* No more threads than processors (or than asked), each driving
	 * its share of the files at once. */
	threads = o->threads > 0 ? o->threads : online_cpus();
	if (threads > o->jobs)
		threads = o->jobs;
	if (threads > pending)
		threads = (unsigned)pending;
	if (threads > TPOOL_MAX_THREADS)
		threads = TPOOL_MAX_THREADS;
	r.per_worker = (o->jobs + threads - 1) / threads;
	{
		struct tpool_opts conf = {
			.threads = threads,
			.queue = threads,
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
	budget_free(r.budget);
	fsutil_names_free(r.states, r.nstates);
	return rc;
}
