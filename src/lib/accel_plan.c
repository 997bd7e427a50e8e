/* SPDX-License-Identifier: ISC */
/* accel_plan.c -- the accelerator's ranges: split, steal, save and load. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel.h"

#define STATE_MAGIC "netthreads-accel-state 1"
/* Steal points are rounded to this, so writes stay page-aligned. */
#define ALIGN 4096

struct accel_plan {
	int64_t size;
	int64_t min_piece;
	int n, cap;
	struct accel_range *r;
};

static int
plan_push(struct accel_plan *p, int64_t begin, int64_t cur, int64_t end)
{
	if (p->n == p->cap) {
		int cap = p->cap ? p->cap * 2 : 16;
		struct accel_range *r = realloc(p->r, (size_t)cap * sizeof(*r));

		if (r == NULL)
			return -ENOMEM;
		p->r = r;
		p->cap = cap;
	}
	p->r[p->n] = (struct accel_range){
		.begin = begin, .cur = cur, .end = end,
		.state = cur == end ? ACCEL_DONE : ACCEL_IDLE,
	};
	return p->n++;
}

static struct accel_plan *
plan_empty(int64_t size, int64_t min_piece)
{
	struct accel_plan *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->size = size;
	p->min_piece = min_piece < 1 ? 1 : min_piece;
	return p;
}

struct accel_plan *
accel_plan_new(int64_t size, int n, int64_t min_piece)
{
	struct accel_plan *p;
	int64_t off = 0, piece;

	if (size < 0 || n < 1) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = plan_empty(size, min_piece)) == NULL)
		return NULL;
	/* Fewer, bigger ranges for a small file: a request costs a round
	 * trip, so tiny ranges cost more than they gain. */
	if (size / p->min_piece < n)
		n = (int)(size / p->min_piece > 0 ? size / p->min_piece : 1);
	for (int i = 0; i < n; i++) {
		/* Spread the remainder: ranges differ by at most one byte. */
		piece = (size - off) / (n - i);
		if (plan_push(p, off, off, off + piece) < 0) {
			accel_plan_free(p);
			errno = ENOMEM;
			return NULL;
		}
		off += piece;
	}
	return p;
}

void
accel_plan_free(struct accel_plan *p)
{
	if (p == NULL)
		return;
	free(p->r);
	free(p);
}

int64_t
accel_plan_size(const struct accel_plan *p)
{
	return p->size;
}

int
accel_plan_count(const struct accel_plan *p)
{
	return p->n;
}

const struct accel_range *
accel_plan_range(const struct accel_plan *p, int i)
{
	return i >= 0 && i < p->n ? &p->r[i] : NULL;
}

int64_t
accel_plan_done_bytes(const struct accel_plan *p)
{
	int64_t want = 0;

	for (int i = 0; i < p->n; i++)
		want += p->r[i].end - p->r[i].cur;
	return p->size - want;
}

int
accel_plan_complete(const struct accel_plan *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->r[i].state != ACCEL_DONE)
			return 0;
	return 1;
}

int
accel_plan_take(struct accel_plan *p, double now, double *wait_until)
{
	int idle = 0, best = -1;
	int64_t left, mid, best_left = 0;
	double soonest = 0;

	for (int i = 0; i < p->n; i++) {
		struct accel_range *r = &p->r[i];

		if (r->state != ACCEL_IDLE)
			continue;
		if (r->not_before <= now) {
			r->state = ACCEL_ACTIVE;
			return i;
		}
		if (!idle || r->not_before < soonest)
			soonest = r->not_before;
		idle = 1;
	}
	if (idle) {
		/* A range is waiting out a backoff; it gets the connection
		 * then, rather than splitting another range now. */
		if (wait_until != NULL)
			*wait_until = soonest;
		return -EAGAIN;
	}
	for (int i = 0; i < p->n; i++) {
		struct accel_range *r = &p->r[i];

		left = r->end - r->cur;
		if (r->state == ACCEL_ACTIVE && left > best_left) {
			best = i;
			best_left = left;
		}
	}
	if (best < 0 || best_left < 2 * p->min_piece)
		return -ENOENT;
	mid = p->r[best].cur + best_left / 2;
	mid -= mid % ALIGN;
	if (mid - p->r[best].cur < p->min_piece)
		mid = p->r[best].cur + best_left / 2;
	{
		int64_t end = p->r[best].end;
		int i = plan_push(p, mid, mid, end);

		if (i < 0)
			return i;
		/* p->r may have moved. */
		p->r[best].end = mid;
		p->r[i].state = ACCEL_ACTIVE;
		return i;
	}
}

int
accel_plan_take_at(struct accel_plan *p, int64_t off)
{
	for (int i = 0; i < p->n; i++) {
		struct accel_range *r = &p->r[i];

		if (r->state == ACCEL_IDLE && r->cur == off) {
			r->state = ACCEL_ACTIVE;
			return i;
		}
	}
	return -ENOENT;
}

int
accel_plan_advance(struct accel_plan *p, int i, int64_t n)
{
	struct accel_range *r = &p->r[i];

	if (n < 0 || r->cur + n > r->end)
		return -EINVAL;
	r->cur += n;
	if (r->cur == r->end)
		r->state = ACCEL_DONE;
	return 0;
}

void
accel_plan_release(struct accel_plan *p, int i, double not_before)
{
	struct accel_range *r = &p->r[i];

	if (r->state != ACCEL_ACTIVE)
		return;
	r->state = ACCEL_IDLE;
	r->not_before = not_before;
}

int
accel_plan_failed(struct accel_plan *p, int i, int delivered, int charge)
{
	struct accel_range *r = &p->r[i];

	if (delivered)
		r->fails = 0;
	if (charge)
		r->fails++;
	return r->fails;
}

void
accel_plan_release_all(struct accel_plan *p)
{
	for (int i = 0; i < p->n; i++)
		accel_plan_release(p, i, 0);
}

/* Header values are single-line text; refuse what could break the file. */
static int
clean_value(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
accel_plan_save(const struct accel_plan *p, const struct accel_meta *m,
		FILE *f)
{
	if (!clean_value(m->url) || !clean_value(m->etag) ||
	    !clean_value(m->lastmod))
		return -EINVAL;
	fprintf(f, "%s\nsize %" PRId64 "\nurl %s\netag %s\nlastmod %s\n",
		STATE_MAGIC, p->size, m->url, m->etag, m->lastmod);
	for (int i = 0; i < p->n; i++)
		if (p->r[i].cur < p->r[i].end)
			fprintf(f, "range %" PRId64 " %" PRId64 " %" PRId64 "\n",
				p->r[i].begin, p->r[i].cur, p->r[i].end);
	/* The last line tells a whole file from a cut one. */
	fprintf(f, "end\n");
	if (fflush(f) != 0 || ferror(f))
		return -(errno ? errno : EIO);
	return 0;
}

/* Reads one line into buf without its newline; 0 at EOF or overlong. */
static int
get_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, f) == NULL)
		return 0;
	n = strlen(buf);
	if (n == 0 || buf[n - 1] != '\n')
		return 0;
	buf[n - 1] = '\0';
	return 1;
}

/* "KEY value" into out (which has room for len bytes). */
static int
get_field(FILE *f, const char *key, char *out, size_t len)
{
	char line[4096];
	size_t k = strlen(key);

	if (!get_line(f, line, sizeof(line)) || strncmp(line, key, k) != 0 ||
	    line[k] != ' ' || strlen(line + k + 1) >= len)
		return 0;
	strcpy(out, line + k + 1);
	return 1;
}

static int
cmp_begin(const void *a, const void *b)
{
	const struct accel_range *x = a, *y = b;

	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

struct accel_plan *
accel_plan_load(FILE *f, struct accel_meta *m, int64_t min_piece)
{
	struct accel_plan *p = NULL;
	struct accel_range *sorted = NULL;
	char line[4096], sz[32];
	int64_t b, c, e;
	char *end;
	int ended = 0;

	memset(m, 0, sizeof(*m));
	if (!get_line(f, line, sizeof(line)) || strcmp(line, STATE_MAGIC) != 0)
		goto bad;
	if (!get_field(f, "size", sz, sizeof(sz)))
		goto bad;
	errno = 0;
	m->size = strtoll(sz, &end, 10);
	if (errno || *end || end == sz || m->size < 0)
		goto bad;
	if (!get_field(f, "url", m->url, sizeof(m->url)) ||
	    !get_field(f, "etag", m->etag, sizeof(m->etag)) ||
	    !get_field(f, "lastmod", m->lastmod, sizeof(m->lastmod)))
		goto bad;
	if ((p = plan_empty(m->size, min_piece)) == NULL)
		return NULL;
	while (get_line(f, line, sizeof(line))) {
		char extra;

		if (strcmp(line, "end") == 0) {
			ended = 1;
			break;
		}
		if (sscanf(line, "range %" SCNd64 " %" SCNd64 " %" SCNd64 "%c",
			   &b, &c, &e, &extra) != 3)
			goto bad;
		if (b < 0 || b > c || c >= e || e > m->size)
			goto bad;
		if (plan_push(p, b, c, e) < 0)
			goto nomem;
	}
	if (!ended || get_line(f, line, sizeof(line)))
		goto bad;
	/* Ranges must not overlap: otherwise bytes would be counted twice. */
	if (p->n > 0) {
		if ((sorted = malloc((size_t)p->n * sizeof(*sorted))) == NULL)
			goto nomem;
		memcpy(sorted, p->r, (size_t)p->n * sizeof(*sorted));
		qsort(sorted, (size_t)p->n, sizeof(*sorted), cmp_begin);
		for (int i = 1; i < p->n; i++)
			if (sorted[i].begin < sorted[i - 1].end)
				goto bad;
		free(sorted);
	}
	return p;
bad:
	free(sorted);
	accel_plan_free(p);
	errno = EINVAL;
	return NULL;
nomem:
	free(sorted);
	accel_plan_free(p);
	errno = ENOMEM;
	return NULL;
}

int
accel_plan_store(const struct accel_plan *p, const struct accel_meta *m,
		 const char *path)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd = -1, rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if ((f = fdopen(fd, "w")) == NULL) {
		rc = -errno;
		close(fd);
		goto out;
	}
	if ((rc = accel_plan_save(p, m, f)) < 0)
		goto out;
	/* The new state reaches the disk before it replaces the old one, so a
	 * crash leaves one whole state file or the other. */
	if (fsync(fileno(f)) < 0) {
		rc = -errno;
		goto out;
	}
	rc = fclose(f);
	f = NULL;
	if (rc != 0) {
		rc = -errno;
		goto out;
	}
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (f != NULL)
		fclose(f);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
