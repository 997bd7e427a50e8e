/* SPDX-License-Identifier: ISC */
/* test_expdata.c -- data lines, reading files, box statistics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "expdata.h"
#include "watchdog.h"

static void
test_parse_line(void **state)
{
	struct expdata_row r;
	const char *why = NULL;

	(void)state;
	assert_int_equal(
		expdata_parse_line("http://h/f 3 1048576 0.512\n", &r, &why),
		1);
	assert_int_equal(r.threads, 3);
	assert_int_equal(r.bytes, 1048576);
	assert_float_equal(r.seconds, 0.512, 1e-9);
	assert_int_equal(expdata_parse_line("u\t10\t0\t.5", &r, &why), 1);
	assert_float_equal(r.seconds, 0.5, 1e-9);
	assert_int_equal(expdata_parse_line("", &r, &why), 0);
	assert_int_equal(expdata_parse_line("   \n", &r, &why), 0);
	assert_int_equal(expdata_parse_line("# comment 1 2 3", &r, &why), 0);
	assert_int_equal(expdata_parse_line("  # indented comment", &r, &why),
			 0);

	static const char *bad[] = {
		"u 1 2",      "u 1 2 3 4",	 "u 0 10 1.0",	"u -1 10 1.0",
		"u x 10 1.0", "u 1.5 10 1.0",	 "u 1 -10 1.0", "u 1 1e3 1.0",
		"u 1 10 -1",  "u 1 10 abc",	 "u 1 10 1.0s", "u 1 10 nan",
		"u 1 10 inf", "u 100001 10 1.0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(expdata_parse_line(bad[i], &r, &why), -EINVAL);
		assert_non_null(why);
	}
}

static int nbad;
static long badline[8];

static void
on_bad(long lineno, const char *why, void *arg)
{
	(void)arg;
	(void)why;
	if (nbad < 8)
		badline[nbad] = lineno;
	nbad++;
}

static void
test_read_file(void **state)
{
	char path[] = "/tmp/nt-expdata.XXXXXX";
	struct expdata d = {0};
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# header\nu 1 100 1.0\nbroken\nu 2 100 0.5\n\nu 2 100 x\n"
	      "u 2 100 0.6",
	      f); /* no newline at the end */
	fclose(f);
	nbad = 0;
	assert_int_equal(expdata_read(path, &d, on_bad, NULL), 3);
	assert_int_equal(d.n, 3);
	assert_int_equal(nbad, 2);
	assert_int_equal(badline[0], 3);
	assert_int_equal(badline[1], 6);
	assert_float_equal(d.rows[2].seconds, 0.6, 1e-9);
	/* A second file appends. */
	assert_int_equal(expdata_read(path, &d, NULL, NULL), 3);
	assert_int_equal(d.n, 6);
	expdata_free(&d);
	assert_int_equal(d.n, 0);
	unlink(path);
	assert_int_equal(expdata_read(path, &d, NULL, NULL), -ENOENT);
	expdata_free(&d);
}

static void
test_stats(void **state)
{
	struct expdata d = {0};
	struct expdata_stat st[4];
	/* Thread 2: 1..9 and an outlier 100; thread 1: a single run. */
	double v2[] = {5, 1, 9, 2, 8, 3, 7, 4, 6, 100};

	(void)state;
	for (size_t i = 0; i < 10; i++) {
		struct expdata_row r = {
			.threads = 2, .bytes = 10, .seconds = v2[i]};
		assert_int_equal(expdata_add(&d, &r), 0);
	}
	struct expdata_row one = {.threads = 1, .bytes = 10, .seconds = 4.0};
	assert_int_equal(expdata_add(&d, &one), 0);
	assert_int_equal(expdata_stats(&d, st, 4), 2);
	assert_int_equal(st[0].threads, 1);
	assert_int_equal(st[0].n, 1);
	assert_float_equal(st[0].median, 4.0, 1e-9);
	assert_float_equal(st[0].lo, 4.0, 1e-9);
	assert_float_equal(st[0].hi, 4.0, 1e-9);
	assert_int_equal(st[1].threads, 2);
	assert_int_equal(st[1].n, 10);
	assert_float_equal(st[1].min, 1, 1e-9);
	assert_float_equal(st[1].max, 100, 1e-9);
	assert_float_equal(st[1].median, 5.5, 1e-9);
	assert_float_equal(st[1].q1, 3.25, 1e-9);
	assert_float_equal(st[1].q3, 7.75, 1e-9);
	/* 100 is beyond q3 + 1.5 IQR = 14.5: the whisker stops at 9. */
	assert_float_equal(st[1].hi, 9, 1e-9);
	assert_float_equal(st[1].lo, 1, 1e-9);
	assert_int_equal(st[1].bytes, 10);
	/* Room for one: the count is still 2. */
	assert_int_equal(expdata_stats(&d, st, 1), 2);
	expdata_free(&d);
	assert_int_equal(expdata_stats(&d, st, 4), 0);
}

static void
test_median_and_sizes(void **state)
{
	double v[] = {3, 1, 2, 10};
	char buf[32];

	(void)state;
	assert_float_equal(expdata_median(v, 4), 2.5, 1e-9);
	assert_float_equal(expdata_median(v, 3), 2, 1e-9);
	assert_float_equal(expdata_median(v, 0), 0, 1e-9);
	assert_string_equal(expdata_size_str(12, buf, sizeof(buf)), "12 B");
	assert_string_equal(expdata_size_str(1024, buf, sizeof(buf)), "1 KiB");
	assert_string_equal(expdata_size_str(300000, buf, sizeof(buf)),
			    "293.0 KiB");
	assert_string_equal(expdata_size_str(100 << 20, buf, sizeof(buf)),
			    "100 MiB");
	assert_string_equal(expdata_size_str(1536LL << 20, buf, sizeof(buf)),
			    "1.5 GiB");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_median_and_sizes),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
