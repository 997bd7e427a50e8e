/* SPDX-License-Identifier: ISC */
/* fuzz_accel_state.c -- the accelerator's state files: loaded, worked on
 * through the plan API, saved and loaded again with the same bytes
 * wanted. Only the public API is used, so the format can change. A state
 * file ends in a SHA-256 of its text, which no mutation keeps right: each
 * input is loaded as it is (the seal refused), then with its last line
 * replaced by a correct seal, so that the parser behind it is reached. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "accel_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough that loaded ranges of a few KiB are still split. */
#define PIECE 4096
#define STEPS 256

struct span {
	int64_t begin, end;
};

static int
cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/*
 * The wanted bytes of p as sorted, merged spans in *out (caller frees).
 * Aborts when ranges overlap or leave [0, size). Returns the count, or -1
 * when out of memory.
 */
static int
wanted(const struct accel_plan *p, struct span **out)
{
	int n = accel_plan_count(p), k = 0, m = 0;
	int64_t size = accel_plan_size(p);
	struct span *s = malloc(((size_t)n + 1) * sizeof(*s));

	if (s == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		const struct accel_range *r = accel_plan_range(p, i);

		if (r == NULL || r->begin < 0 || r->begin > r->cur ||
		    r->cur > r->end || r->end > size)
			abort();
		if ((r->cur == r->end) != (r->state == ACCEL_DONE))
			abort();
		if (r->begin < r->end)
			s[k++] = (struct span){r->begin, r->end};
	}
	/* Ranges cover disjoint bytes. */
	qsort(s, (size_t)k, sizeof(*s), cmp_span);
	for (int i = 1; i < k; i++)
		if (s[i].begin < s[i - 1].end)
			abort();
	k = 0;
	for (int i = 0; i < n; i++) {
		const struct accel_range *r = accel_plan_range(p, i);

		if (r->cur < r->end)
			s[k++] = (struct span){r->cur, r->end};
	}
	qsort(s, (size_t)k, sizeof(*s), cmp_span);
	for (int i = 0; i < k; i++) {
		if (m > 0 && s[m - 1].end == s[i].begin)
			s[m - 1].end = s[i].end;
		else
			s[m++] = s[i];
	}
	*out = s;
	return m;
}

static int64_t
wanted_bytes(const struct accel_plan *p)
{
	return accel_plan_size(p) - accel_plan_done_bytes(p);
}

/* Connections taking, advancing and giving back ranges, as the engine's
 * would; aborts when the plan's books stop balancing. */
static void
work(struct accel_plan *p)
{
	int64_t want = wanted_bytes(p);
	double wait;

	for (int step = 0; step < STEPS; step++) {
		const struct accel_range *r;
		int64_t left, adv;
		int i = accel_plan_take(p, 0, &wait);

		if (i == -ENOENT || i == -ENOMEM)
			break;
		/* Nothing was released with a later time. */
		if (i < 0 || (r = accel_plan_range(p, i)) == NULL ||
		    r->state != ACCEL_ACTIVE)
			abort();
		left = r->end - r->cur;
		if (accel_plan_advance(p, i, left + 1) != -EINVAL)
			abort();
		adv = step % 3 == 0 ? left : left / 3;
		if (accel_plan_advance(p, i, adv) != 0)
			abort();
		want -= adv;
		if (wanted_bytes(p) != want)
			abort();
		accel_plan_failed(p, i, adv > 0, 1);
		if (step % 2 == 1)
			accel_plan_release(p, i, 0);
	}
	accel_plan_release_all(p);
	if (wanted_bytes(p) != want)
		abort();
}

static void one(const uint8_t *data, size_t size);

/* data with a correct "sha256 HEX" line in place of its last line when
 * that is one, else after it; caller frees. NULL when out of memory. */
static char *
sealed(const uint8_t *data, size_t size, size_t *len)
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	size_t n = size;
	char *out;

	if (n > 0 && data[n - 1] == '\n') {
		size_t k = n - 1;

		while (k > 0 && data[k - 1] != '\n')
			k--;
		if (n - k > 7 && memcmp(data + k, "sha256 ", 7) == 0)
			n = k;
	}
	if ((out = malloc(n + 8 + 64 + 1)) == NULL ||
	    EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) != 1) {
		free(out);
		return NULL;
	}
	memcpy(out, data, n);
	memcpy(out + n, "sha256 ", 7);
	for (int i = 0; i < 32; i++)
		snprintf(out + n + 7 + 2 * i, 3, "%02x", md[i]);
	out[n + 7 + 64] = '\n';
	*len = n + 7 + 64 + 1;
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len;
	char *s;

	one(data, size);
	if ((s = sealed(data, size, &len)) != NULL)
		one((const uint8_t *)s, len);
	free(s);
	return 0;
}

static void
one(const uint8_t *data, size_t size)
{
	struct accel_plan *p = NULL, *q = NULL;
	struct accel_meta *m = NULL, *m2 = NULL;
	struct span *a = NULL, *b = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int na, nb;

	if (size == 0 || (f = fmemopen((void *)data, size, "r")) == NULL)
		return;
	m = calloc(1, sizeof(*m));
	m2 = calloc(1, sizeof(*m2));
	if (m == NULL || m2 == NULL)
		goto out;
	p = accel_plan_load(f, m, PIECE);
	fclose(f);
	f = NULL;
	if (p == NULL)
		goto out;
	if ((na = wanted(p, &a)) < 0)
		goto out;
	free(a);
	a = NULL;
	work(p);

	/* What is saved is what is loaded back. */
	if ((f = open_memstream(&text, &len)) == NULL)
		goto out;
	if (accel_plan_save(p, m, f) < 0)
		goto out; /* a value it will not write, such as a control
			   * character the loader let through */
	fclose(f);
	f = NULL;
	if ((f = fmemopen(text, len, "r")) == NULL)
		goto out;
	if ((q = accel_plan_load(f, m2, PIECE)) == NULL)
		abort();
	if (accel_plan_size(q) != accel_plan_size(p) ||
	    wanted_bytes(q) != wanted_bytes(p))
		abort();
	if ((na = wanted(p, &a)) < 0 || (nb = wanted(q, &b)) < 0)
		goto out;
	if (na != nb || memcmp(a, b, (size_t)na * sizeof(*a)) != 0)
		abort();
out:
	if (f != NULL)
		fclose(f);
	free(text);
	free(a);
	free(b);
	accel_plan_free(q);
	accel_plan_free(p);
	free(m2);
	free(m);
}
