/* SPDX-License-Identifier: ISC */
/* accel_plan.c -- the accelerator's ranges: split, steal, save and load. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "accel_plan.h"

#define STATE_MAGIC "netthreads-accel-state 2"
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
		.begin = begin,
		.cur = cur,
		.end = end,
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

/* The state file's text ends with "sha256 HEX\n" over all before it. */
#define SUM_LINE (sizeof("sha256 \n") - 1 + 64)
/* A state file longer than this is not one this program wrote: even a
 * plan split into a range per 64 KiB of a 1 TiB file stays below it. */
#define STATE_MAX (64 << 20)

static int
sha256_hex(const char *text, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -EIO;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int
cmp_begin(const void *a, const void *b)
{
	const struct accel_range *x = a, *y = b;

	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

int
accel_plan_save(const struct accel_plan *p, const struct accel_meta *m, FILE *f)
{
	struct accel_range *sorted = NULL;
	char *text = NULL, hex[65];
	size_t len = 0;
	FILE *t = NULL;
	int rc = -EINVAL;

	if (!clean_value(m->url) || !clean_value(m->etag) ||
	    !clean_value(m->lastmod))
		return -EINVAL;
	rc = -ENOMEM;
	if ((t = open_memstream(&text, &len)) == NULL ||
	    (p->n > 0 &&
	     (sorted = malloc((size_t)p->n * sizeof(*sorted))) == NULL))
		goto out;
	/* An empty file has no range, and qsort() no NULL. */
	if (p->n > 0) {
		memcpy(sorted, p->r, (size_t)p->n * sizeof(*sorted));
		qsort(sorted, (size_t)p->n, sizeof(*sorted), cmp_begin);
	}
	fprintf(t, "%s\nsize %" PRId64 "\nurl %s\netag %s\nlastmod %s\n",
		STATE_MAGIC, p->size, m->url, m->etag, m->lastmod);
	/* Every range, done ones too: together they must tile the file,
	 * which is what lets a load tell a whole plan from a doctored one. */
	for (int i = 0; i < p->n; i++)
		fprintf(t, "range %" PRId64 " %" PRId64 " %" PRId64 "\n",
			sorted[i].begin, sorted[i].cur, sorted[i].end);
	if (fclose(t) != 0) {
		t = NULL;
		goto out;
	}
	t = NULL;
	if ((rc = sha256_hex(text, len, hex)) < 0)
		goto out;
	rc = 0;
	if (fwrite(text, 1, len, f) != len ||
	    fprintf(f, "sha256 %s\n", hex) < 0 || fflush(f) != 0 || ferror(f))
		rc = -(errno ? errno : EIO);
out:
	if (t != NULL)
		fclose(t);
	free(text);
	free(sorted);
	return rc;
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
get_field(FILE *f, const char *key, char *line, size_t linelen, char *out,
	  size_t len)
{
	size_t k = strlen(key);

	if (!get_line(f, line, linelen) || strncmp(line, key, k) != 0 ||
	    line[k] != ' ' || strlen(line + k + 1) >= len)
		return 0;
	strcpy(out, line + k + 1);
	return 1;
}

/* The whole of f, when it ends in a sum line that matches the text before
 * it. Returns that text's length (the sum line cut off), or -errno. */
static long
read_sealed(FILE *f, char **text)
{
	size_t cap = 0, len = 0, n;
	char *buf = NULL, hex[65];

	*text = NULL;
	do {
		if (len == cap) {
			char *b;

			if (cap >= STATE_MAX) {
				free(buf);
				return -EINVAL;
			}
			cap = cap ? cap * 2 : 16384;
			if ((b = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f) || len < SUM_LINE ||
	    memcmp(buf + len - SUM_LINE, "sha256 ", 7) != 0 ||
	    buf[len - 1] != '\n' || sha256_hex(buf, len - SUM_LINE, hex) < 0 ||
	    memcmp(buf + len - SUM_LINE + 7, hex, 64) != 0) {
		free(buf);
		return -EINVAL;
	}
	len -= SUM_LINE;
	buf[len] = '\0';
	*text = buf;
	return (long)len;
}

struct accel_plan *
accel_plan_load(FILE *f, struct accel_meta *m, int64_t min_piece)
{
	enum { LINE = ACCEL_VALIDATOR_MAX + 64 };
	struct accel_plan *p = NULL;
	char *line = NULL, *text = NULL, sz[32];
	FILE *t = NULL;
	int64_t b, c, e, next = 0;
	long len;
	char *end;
	int err = EINVAL;

	memset(m, 0, sizeof(*m));
	if ((len = read_sealed(f, &text)) < 0) {
		err = (int)-len;
		goto fail;
	}
	if ((line = malloc(LINE)) == NULL ||
	    (len > 0 && (t = fmemopen(text, (size_t)len, "r")) == NULL)) {
		err = ENOMEM;
		goto fail;
	}
	if (t == NULL || !get_line(t, line, LINE) ||
	    strcmp(line, STATE_MAGIC) != 0)
		goto fail;
	if (!get_field(t, "size", line, LINE, sz, sizeof(sz)))
		goto fail;
	errno = 0;
	m->size = strtoll(sz, &end, 10);
	if (errno || *end || end == sz || m->size < 0)
		goto fail;
	if (!get_field(t, "url", line, LINE, m->url, sizeof(m->url)) ||
	    !get_field(t, "etag", line, LINE, m->etag, sizeof(m->etag)) ||
	    !get_field(t, "lastmod", line, LINE, m->lastmod,
		       sizeof(m->lastmod)))
		goto fail;
	if ((p = plan_empty(m->size, min_piece)) == NULL) {
		err = ENOMEM;
		goto fail;
	}
	/* Ranges in order, each starting where the last ended, the last
	 * ending at the size: no byte missed, none counted twice. */
	while (get_line(t, line, LINE)) {
		char extra;

		if (sscanf(line, "range %" SCNd64 " %" SCNd64 " %" SCNd64 "%c",
			   &b, &c, &e, &extra) != 3 ||
		    b != next || c < b || c > e || e <= b || e > m->size)
			goto fail;
		if (plan_push(p, b, c, e) < 0) {
			err = ENOMEM;
			goto fail;
		}
		next = e;
	}
	if (!feof(t) || next != m->size)
		goto fail;
	fclose(t);
	free(line);
	free(text);
	return p;
fail:
	if (t != NULL)
		fclose(t);
	free(line);
	free(text);
	accel_plan_free(p);
	errno = err;
	return NULL;
}

int
accel_plan_store(const struct accel_plan *p, const struct accel_meta *m,
		 int dirfd, const char *name)
{
	char tmp[4096];
	FILE *f = NULL;
	int fd = -1, rc;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* Created anew, so that nothing planted at the name (a symlink to
	 * another of the user's files) is written through; a leftover of a
	 * crash is removed first. The text names the URL: mode 0600. */
	if ((fd = openat(dirfd, tmp, flags, 0600)) < 0 && errno == EEXIST &&
	    unlinkat(dirfd, tmp, 0) == 0)
		fd = openat(dirfd, tmp, flags, 0600);
	if (fd < 0)
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
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
out:
	if (f != NULL)
		fclose(f);
	if (rc < 0)
		unlinkat(dirfd, tmp, 0);
	return rc;
}
