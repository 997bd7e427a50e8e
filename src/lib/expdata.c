/* SPDX-License-Identifier: ISC */
/* expdata.c -- reading experiment data lines and summarising them. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expdata.h"

/* Reads a whole decimal integer field; 0 or -EINVAL. */
static int
field_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno != 0 || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int
expdata_parse_line(const char *line, struct expdata_row *r, const char **why)
{
	char buf[4096], *f[5], *save = NULL, *end;
	size_t len = strlen(line);
	long long v;
	int n = 0;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= sizeof(buf)) {
		*why = "line too long";
		return -EINVAL;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (char *p = strtok_r(buf, " \t", &save); p != NULL;
	     p = strtok_r(NULL, " \t", &save)) {
		if (n == 0 && p[0] == '#')
			return 0;
		if (n == 4) {
			n++;
			break;
		}
		f[n++] = p;
	}
	if (n == 0)
		return 0;
	if (n != 4) {
		*why = "expected 4 fields: URL THREADS BYTES SECONDS";
		return -EINVAL;
	}
	if (field_long(f[1], 1, 100000, &v) < 0) {
		*why = "THREADS is not a whole number from 1";
		return -EINVAL;
	}
	r->threads = (int)v;
	if (field_long(f[2], 0, (long long)1 << 52, &v) < 0) {
		*why = "BYTES is not a whole number";
		return -EINVAL;
	}
	r->bytes = v;
	if (!isdigit((unsigned char)f[3][0]) && f[3][0] != '.') {
		*why = "SECONDS is not a number";
		return -EINVAL;
	}
	errno = 0;
	r->seconds = strtod(f[3], &end);
	if (*end != '\0' || errno != 0 || !isfinite(r->seconds) ||
	    r->seconds < 0 || r->seconds > 1e7) {
		*why = "SECONDS is not a number";
		return -EINVAL;
	}
	return 1;
}

int
expdata_add(struct expdata *d, const struct expdata_row *r)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct expdata_row *rows =
			realloc(d->rows, cap * sizeof(*rows));

		if (rows == NULL)
			return -ENOMEM;
		d->rows = rows;
		d->cap = cap;
	}
	d->rows[d->n++] = *r;
	return 0;
}

long
expdata_read(const char *path, struct expdata *d, expdata_bad_cb *bad,
	     void *arg)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	long lineno = 0, added = 0;
	int rc = 0;

	if (f == NULL)
		return -errno;
	while (getline(&line, &cap, f) >= 0) {
		struct expdata_row r;
		const char *why = NULL;
		int k;

		lineno++;
		k = expdata_parse_line(line, &r, &why);
		if (k < 0) {
			if (bad != NULL)
				bad(lineno, why, arg);
			continue;
		}
		if (k == 0)
			continue;
		if ((rc = expdata_add(d, &r)) < 0)
			break;
		added++;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	free(line);
	fclose(f);
	return rc < 0 ? rc : added;
}

void
expdata_free(struct expdata *d)
{
	free(d->rows);
	d->rows = NULL;
	d->n = d->cap = 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of sorted v, interpolated between neighbours. */
static double
quantile(const double *v, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + (pos - (double)i) * (v[i + 1] - v[i]);
}

double
expdata_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return quantile(v, n, 0.5);
}

size_t
expdata_stats(const struct expdata *d, struct expdata_stat *out, size_t max)
{
	int *ts;
	double *v;
	long long *b;
	size_t nt = 0;

	if (d->n == 0)
		return 0;
	ts = malloc(d->n * sizeof(*ts));
	v = malloc(d->n * sizeof(*v));
	b = malloc(d->n * sizeof(*b));
	if (ts == NULL || v == NULL || b == NULL)
		goto out;
	for (size_t i = 0; i < d->n; i++)
		ts[i] = d->rows[i].threads;
	qsort(ts, d->n, sizeof(*ts), cmp_int);
	for (size_t i = 0; i < d->n; i++) {
		struct expdata_stat *s;
		size_t k = 0;
		double iqr;

		if (i > 0 && ts[i] == ts[i - 1])
			continue;
		if (nt++ >= max)
			continue;
		s = &out[nt - 1];
		for (size_t j = 0; j < d->n; j++) {
			if (d->rows[j].threads == ts[i]) {
				b[k] = d->rows[j].bytes;
				v[k++] = d->rows[j].seconds;
			}
		}
		qsort(v, k, sizeof(*v), cmp_double);
		qsort(b, k, sizeof(*b), cmp_ll);
		s->threads = ts[i];
		s->n = k;
		s->min = v[0];
		s->max = v[k - 1];
		s->q1 = quantile(v, k, 0.25);
		s->median = quantile(v, k, 0.5);
		s->q3 = quantile(v, k, 0.75);
		s->bytes = b[k / 2];
		iqr = s->q3 - s->q1;
		s->lo = s->max;
		s->hi = s->min;
		for (size_t j = 0; j < k; j++) {
			if (v[j] >= s->q1 - 1.5 * iqr && v[j] < s->lo)
				s->lo = v[j];
			if (v[j] <= s->q3 + 1.5 * iqr && v[j] > s->hi)
				s->hi = v[j];
		}
	}
out:
	free(ts);
	free(v);
	free(b);
	return nt;
}

char *
expdata_size_str(long long bytes, char *buf, size_t len)
{
	static const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld B", bytes);
	else if (v == floor(v))
		snprintf(buf, len, "%.0f %s", v, unit[u]);
	else
		snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}
