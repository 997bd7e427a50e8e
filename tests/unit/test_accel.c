/* SPDX-License-Identifier: ISC */
/* test_accel.c -- the accelerator's range planner: split, steal, retry,
 * state file round trip, and random plans that must cover every byte once. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "accel.h"
#include "accel_plan.h"
#include "watchdog.h"

/* The ranges, sorted by begin, tile [0, size) with no gap or overlap. */
static void
assert_partition(const struct accel_plan *p)
{
	int n = accel_plan_count(p);
	int64_t off = 0;
	int *used = calloc((size_t)n + 1, sizeof(*used));

	assert_non_null(used);
	for (int k = 0; k < n; k++) {
		int found = -1;

		for (int i = 0; i < n; i++)
			if (!used[i] && accel_plan_range(p, i)->begin == off &&
			    (accel_plan_range(p, i)->end > off ||
			     accel_plan_size(p) == 0))
				found = i;
		assert_true(found >= 0);
		used[found] = 1;
		assert_true(accel_plan_range(p, found)->cur >= off);
		assert_true(accel_plan_range(p, found)->cur <=
			    accel_plan_range(p, found)->end);
		off = accel_plan_range(p, found)->end;
	}
	assert_true(off == accel_plan_size(p));
	free(used);
}

static void
test_split(void **state)
{
	struct accel_plan *p;

	(void)state;
	p = accel_plan_new(1000, 4, 1);
	assert_non_null(p);
	assert_int_equal(accel_plan_count(p), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(accel_plan_range(p, i)->begin, i * 250);
		assert_int_equal(accel_plan_range(p, i)->end, (i + 1) * 250);
		assert_int_equal(accel_plan_range(p, i)->state, ACCEL_IDLE);
	}
	assert_partition(p);
	accel_plan_free(p);

	/* Uneven: sizes differ by at most one byte. */
	p = accel_plan_new(1001, 3, 1);
	for (int i = 0; i < 3; i++) {
		int64_t len = accel_plan_range(p, i)->end -
			      accel_plan_range(p, i)->begin;

		assert_true(len == 333 || len == 334);
	}
	assert_partition(p);
	accel_plan_free(p);

	/* Small file: no range shorter than min_piece. */
	p = accel_plan_new(300, 16, 100);
	assert_int_equal(accel_plan_count(p), 3);
	assert_partition(p);
	accel_plan_free(p);
	p = accel_plan_new(50, 16, 100);
	assert_int_equal(accel_plan_count(p), 1);
	accel_plan_free(p);

	/* Empty file: complete at once. */
	p = accel_plan_new(0, 8, 100);
	assert_non_null(p);
	assert_true(accel_plan_complete(p));
	assert_int_equal(accel_plan_take(p, 0, NULL), -ENOENT);
	accel_plan_free(p);

	assert_null(accel_plan_new(-1, 1, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(accel_plan_new(10, 0, 1));
	accel_plan_free(NULL);
}

static void
test_steal(void **state)
{
	struct accel_plan *p = accel_plan_new(4 << 20, 2, 4096);
	const struct accel_range *r;
	int a, b, c;

	(void)state;
	a = accel_plan_take(p, 0, NULL);
	b = accel_plan_take(p, 0, NULL);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);
	/* Range 0 finishes, range 1 is a quarter through. */
	assert_int_equal(accel_plan_advance(p, a, 2 << 20), 0);
	assert_int_equal(accel_plan_range(p, a)->state, ACCEL_DONE);
	assert_int_equal(accel_plan_advance(p, b, 512 << 10), 0);
	/* The free connection takes the back half of what range 1 wants. */
	c = accel_plan_take(p, 0, NULL);
	assert_int_equal(c, 2);
	r = accel_plan_range(p, c);
	assert_int_equal(r->state, ACCEL_ACTIVE);
	assert_int_equal(r->end, 4 << 20);
	assert_int_equal(r->begin, (2 << 20) + (512 << 10) + (768 << 10));
	assert_int_equal(r->begin % 4096, 0);
	assert_int_equal(accel_plan_range(p, b)->end, r->begin);
	assert_partition(p);
	/* The victim may not write past its new end. */
	assert_int_equal(accel_plan_advance(p, b, 1 << 20), -EINVAL);
	assert_int_equal(accel_plan_advance(p, b, 768 << 10), 0);
	assert_int_equal(accel_plan_range(p, b)->state, ACCEL_DONE);
	assert_false(accel_plan_complete(p));
	assert_int_equal(accel_plan_advance(p, c, 768 << 10), 0);
	assert_true(accel_plan_complete(p));
	assert_int_equal(accel_plan_done_bytes(p), 4 << 20);
	accel_plan_free(p);

	/* Too little left to split: nothing to take. */
	p = accel_plan_new(10000, 1, 4096);
	assert_int_equal(accel_plan_take(p, 0, NULL), 0);
	assert_int_equal(accel_plan_advance(p, 0, 2000), 0);
	assert_int_equal(accel_plan_take(p, 0, NULL), -ENOENT);
	accel_plan_free(p);
}

static void
test_retry_wait(void **state)
{
	struct accel_plan *p = accel_plan_new(1 << 20, 2, 4096);
	double until = 0;

	(void)state;
	assert_int_equal(accel_plan_take(p, 0, NULL), 0);
	assert_int_equal(accel_plan_take(p, 0, NULL), 1);
	assert_int_equal(accel_plan_advance(p, 1, 1000), 0);
	assert_int_equal(accel_plan_failed(p, 1, 0, 1), 1);
	assert_int_equal(accel_plan_failed(p, 1, 0, 1), 2);
	assert_int_equal(accel_plan_failed(p, 1, 0, 0), 2);
	/* A try that delivered bytes starts the count again. */
	assert_int_equal(accel_plan_failed(p, 1, 1, 1), 1);
	accel_plan_release(p, 1, 5.0);
	/* While range 1 waits out its backoff, nothing is split. */
	assert_int_equal(accel_plan_take(p, 1.0, &until), -EAGAIN);
	assert_true(until == 5.0);
	assert_int_equal(accel_plan_take(p, 5.0, &until), 1);
	assert_int_equal(accel_plan_range(p, 1)->cur,
			 accel_plan_range(p, 1)->begin + 1000);
	accel_plan_release_all(p);
	assert_int_equal(accel_plan_take_at(p, (1 << 19) + 1000), 1);
	assert_int_equal(accel_plan_take_at(p, 12345), -ENOENT);
	accel_plan_free(p);
}

static struct accel_meta
meta_of(int64_t size)
{
	struct accel_meta m;

	memset(&m, 0, sizeof(m));
	m.size = size;
	strcpy(m.url, "http://127.0.0.1:1/a%20b.iso");
	strcpy(m.etag, "\"5f3a-100000\"");
	strcpy(m.lastmod, "Wed, 25 Nov 2026 10:00:00 GMT");
	return m;
}

static void
test_state_round_trip(void **state)
{
	struct accel_plan *p = accel_plan_new(1 << 20, 4, 4096), *q;
	struct accel_meta m = meta_of(1 << 20), back;
	char dir[] = "/tmp/test_accel.XXXXXX", path[64], victim[64];
	struct stat st;
	FILE *f;
	int dfd;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(accel_plan_take(p, 0, NULL), i);
	accel_plan_advance(p, 0, 1 << 18); /* done */
	accel_plan_advance(p, 1, 1000);
	accel_plan_advance(p, 3, 4096);
	assert_int_equal(accel_plan_take(p, 0, NULL), 4); /* a steal */
	assert_int_equal(accel_plan_advance(p, 4, 7), 0);
	/* A validator far longer than a buffer of old: kept whole. */
	memset(m.etag, 'e', ACCEL_VALIDATOR_MAX);
	m.etag[0] = m.etag[ACCEL_VALIDATOR_MAX - 1] = '"';
	m.etag[ACCEL_VALIDATOR_MAX] = '\0';

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	/* A symlink planted at the temporary name is not written through. */
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	f = fopen(victim, "w");
	assert_non_null(f);
	fputs("precious\n", f);
	fclose(f);
	assert_int_equal(symlinkat("victim", dfd, "x.part.state.tmp"), 0);
	assert_int_equal(accel_plan_store(p, &m, dfd, "x.part.state"), 0);
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_size, 9);
	snprintf(path, sizeof(path), "%s/x.part.state", dir);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path, "r");
	assert_non_null(f);
	q = accel_plan_load(f, &back, 4096);
	fclose(f);
	assert_non_null(q);
	assert_int_equal(back.size, m.size);
	assert_string_equal(back.url, m.url);
	assert_string_equal(back.etag, m.etag);
	assert_string_equal(back.lastmod, m.lastmod);
	assert_int_equal(accel_plan_done_bytes(q), accel_plan_done_bytes(p));
	/* Every range comes back with its progress: wanted ones idle. */
	for (int i = 0; i < accel_plan_count(p); i++) {
		const struct accel_range *r = accel_plan_range(p, i);
		int found = 0;

		for (int j = 0; j < accel_plan_count(q); j++) {
			const struct accel_range *s = accel_plan_range(q, j);

			if (s->begin == r->begin && s->cur == r->cur &&
			    s->end == r->end &&
			    s->state ==
				    (r->cur < r->end ? ACCEL_IDLE : ACCEL_DONE))
				found = 1;
		}
		assert_true(found);
	}
	accel_plan_free(q);
	/* No temporary file is left behind. */
	snprintf(path, sizeof(path), "%s/x.part.state.tmp", dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/x.part.state", dir);
	unlink(path);
	unlink(victim);
	close(dfd);
	rmdir(dir);
	accel_plan_free(p);
}

static struct accel_plan *
load_text(const char *text)
{
	struct accel_meta m;
	struct accel_plan *p;
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(f);
	int e;

	p = accel_plan_load(f, &m, 4096);
	e = errno;
	fclose(f);
	errno = e;
	return p;
}

/* text with the SHA-256 line a whole state file ends with; static. */
static const char *
sealed(const char *text)
{
	static char out[4096];
	unsigned char md[32];
	unsigned int mdlen = 0;
	size_t n = strlen(text);

	assert_true(n + 80 < sizeof(out));
	assert_int_equal(EVP_Digest(text, n, md, &mdlen, EVP_sha256(), NULL),
			 1);
	memcpy(out, text, n);
	memcpy(out + n, "sha256 ", 7);
	for (int i = 0; i < 32; i++)
		snprintf(out + n + 7 + 2 * i, 3, "%02x", md[i]);
	strcpy(out + n + 7 + 64, "\n");
	return out;
}

#define HEAD "netthreads-accel-state 2\nsize 100\nurl u\netag \nlastmod \n"

static void
test_state_refused(void **state)
{
	/* Each is refused even with a correct sum. */
	static const char *const bad[] = {
		"",
		"garbage\n",
		"netthreads-accel-state 1\nsize 100\nurl u\netag \nlastmod \n"
		"range 0 0 100\n",			  /* old */
		HEAD "range 0 0 50\nrange 40 40 100\n",	  /* overlap */
		HEAD "range 0 0 150\n",			  /* past size */
		HEAD "range 0 60 50\nrange 50 50 100\n",  /* cur > end */
		HEAD "range 0 0 50 9\nrange 50 50 100\n", /* junk */
		HEAD "range 0 0 50\nrange 60 60 100\n",	  /* a gap */
		HEAD "range 10 10 100\n",		  /* no start */
		HEAD "range 0 0 90\n",			  /* no end */
		HEAD,					  /* none */
		HEAD "range 0 0 0\nrange 0 0 100\n",	  /* empty */
		HEAD "range 50 50 100\nrange 0 0 50\n",	  /* order */
		HEAD "range 0 0 100\nend\n",
		"netthreads-accel-state 2\nsize -5\nurl u\netag \nlastmod \n",
		"netthreads-accel-state 2\nsize 100\nurl u\nlastmod \n"
		"range 0 0 100\n",
	};
	struct accel_plan *p;
	char edited[4096];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = load_text(sealed(bad[i]));
		if (p != NULL)
			fail_msg("state %zu accepted", i);
		assert_int_equal(errno, EINVAL);
	}
	/* Whole, and then cut or edited. */
	p = load_text(sealed(HEAD "range 0 10 50\nrange 50 60 60\n"
				  "range 60 70 100\n"));
	assert_non_null(p);
	assert_int_equal(accel_plan_done_bytes(p), 10 + 10 + 10);
	accel_plan_free(p);
	strcpy(edited, sealed(HEAD "range 0 10 100\n"));
	assert_null(load_text(HEAD "range 0 10 100\n")); /* no sum */
	edited[strlen(edited) - 10] ^= 1;		 /* bad sum */
	assert_null(load_text(edited));
	strcpy(edited, sealed(HEAD "range 0 10 100\n"));
	*strstr(edited, "0 10 100") = '5'; /* edited */
	assert_null(load_text(edited));
	strcpy(edited, sealed(HEAD "range 0 10 100\n"));
	edited[strlen(edited) - 20] = '\0'; /* cut */
	assert_null(load_text(edited));
	p = load_text(sealed("netthreads-accel-state 2\nsize 0\nurl u\netag "
			     "\nlastmod \n"));
	assert_non_null(p);
	assert_true(accel_plan_complete(p));
	accel_plan_free(p);
	/* A header value with a newline could forge lines: refused. */
	{
		struct accel_meta m = meta_of(100);
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		p = accel_plan_new(100, 1, 1);
		strcpy(m.etag, "\"x\"\nrange 0 0 1");
		assert_int_equal(accel_plan_save(p, &m, f), -EINVAL);
		fclose(f);
		free(buf);
		accel_plan_free(p);
	}
}

/* Simulates connections taking, advancing, failing and stealing at
 * random, and counts how often each byte is written: exactly once. */
static void
test_random_plans(void **state)
{
	unsigned int seed = 12345;
	int stolen = 0, waited = 0;

	(void)state;
	for (int round = 0; round < 300; round++) {
		int64_t size = rand_r(&seed) % 200000;
		int n = 1 + rand_r(&seed) % 16, conns = 1 + rand_r(&seed) % 16;
		int64_t piece = 1 + rand_r(&seed) % 5000;
		struct accel_plan *p = accel_plan_new(size, n, piece);
		unsigned char *hits = calloc((size_t)size + 1, 1);
		int *slot = malloc((size_t)conns * sizeof(*slot));
		double now = 0;

		assert_non_null(p);
		assert_non_null(hits);
		for (int i = 0; i < conns; i++)
			slot[i] = -1;
		for (int step = 0; step < 200000 && !accel_plan_complete(p);
		     step++) {
			int k = rand_r(&seed) % conns, r;
			const struct accel_range *rr;
			int64_t len;

			now += 0.01;
			if (slot[k] < 0) {
				r = accel_plan_take(p, now, NULL);
				if (r >= 0)
					slot[k] = r;
				if (r >= n)
					stolen++;
				if (r == -EAGAIN)
					waited++;
				continue;
			}
			rr = accel_plan_range(p, slot[k]);
			if (rr->state == ACCEL_DONE) {
				slot[k] = -1;
				continue;
			}
			if (rand_r(&seed) % 20 == 0) {
				/* A failed try: back to the queue. */
				accel_plan_release(p, slot[k],
						   now + (rand_r(&seed) % 3) *
								   0.01);
				slot[k] = -1;
				continue;
			}
			len = 1 + rand_r(&seed) % 3000;
			if (len > rr->end - rr->cur)
				len = rr->end - rr->cur;
			for (int64_t b = rr->cur; b < rr->cur + len; b++)
				hits[b]++;
			assert_int_equal(accel_plan_advance(p, slot[k], len),
					 0);
			if (step % 97 == 0)
				assert_partition(p);
		}
		assert_true(accel_plan_complete(p));
		assert_partition(p);
		assert_int_equal(accel_plan_done_bytes(p), size);
		for (int64_t b = 0; b < size; b++)
			if (hits[b] != 1)
				fail_msg("round %d: byte %lld written %d times",
					 round, (long long)b, hits[b]);
		free(slot);
		free(hits);
		accel_plan_free(p);
	}
	/* The rounds did exercise steals and backoff waits. */
	assert_true(stolen > 100);
	assert_true(waited > 100);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_split, watchdog_setup),
		cmocka_unit_test_setup(test_steal, watchdog_setup),
		cmocka_unit_test_setup(test_retry_wait, watchdog_setup),
		cmocka_unit_test_setup(test_state_round_trip, watchdog_setup),
		cmocka_unit_test_setup(test_state_refused, watchdog_setup),
		cmocka_unit_test_setup(test_random_plans, watchdog_setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
