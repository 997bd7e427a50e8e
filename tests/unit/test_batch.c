/* SPDX-License-Identifier: ISC */
/* test_batch.c -- lists read with line numbers, name reservation in input
 * order (out=, dir=), and runs that start nothing. */
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

#include "batch.h"
#include "watchdog.h"

struct bad {
	unsigned long lines[8];
	char text[8][64];
	int n;
};

static void
record_bad(unsigned long line, const char *text, void *arg)
{
	struct bad *b = arg;

	if (b->n < 8) {
		b->lines[b->n] = line;
		snprintf(b->text[b->n], sizeof(b->text[0]), "%s", text);
	}
	b->n++;
}

static void
test_read(void **state)
{
	static const char text[] =
		"\xef\xbb\xbf# comment after a byte order mark\n"
		"\n"
		"  http://h/a  \r\n"
		"ftp://h/b\n"
		"\t\n"
		"https://h/c?x=1\n"
		"#http://h/skipped\n"
		"not a url\n"
		"http://h/d"; /* no final newline */
	struct batch *b = batch_new();
	struct bad bad = {0};
	FILE *in = fmemopen((void *)text, sizeof(text) - 1, "r");

	(void)state;
	assert_non_null(b);
	assert_non_null(in);
	assert_int_equal(batch_read(b, in, record_bad, &bad), 2);
	fclose(in);
	assert_int_equal(bad.n, 2);
	assert_int_equal(bad.lines[0], 4);
	assert_non_null(strstr(bad.text[0], "ftp://h/b"));
	assert_int_equal(bad.lines[1], 8);
	assert_non_null(strstr(bad.text[1], "not a url"));
	assert_int_equal(batch_count(b), 3);
	assert_string_equal(batch_item(b, 0)->url, "http://h/a");
	assert_int_equal(batch_item(b, 0)->line, 3);
	assert_string_equal(batch_item(b, 1)->url, "https://h/c?x=1");
	assert_int_equal(batch_item(b, 1)->line, 6);
	assert_string_equal(batch_item(b, 2)->url, "http://h/d");
	assert_int_equal(batch_item(b, 2)->line, 9);
	assert_int_equal(batch_item(b, 2)->state, BATCH_PENDING);
	batch_free(b);
	batch_free(NULL);
}

static void
test_reserve_in_input_order(void **state)
{
	const char *urls[] = {
		"http://h/1/x", "http://h/2/x",	  "http://h/3/x.1",
		"http://h/4/x", "http://h/",	  "http://h/..",
		"http://h/5/X", "http://h/6/x#f",
	};
	const char *want[] = {
		"x",	      "x.1",	      "x.1.1", "x.2",
		"index.html", "index.html.1", "X",     "x.3",
	};
	struct batch *b = batch_new();

	(void)state;
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		assert_int_equal(batch_add(b, urls[i], i + 1), 0);
	assert_int_equal(batch_reserve(b), 0);
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		assert_string_equal(batch_item(b, i)->name, want[i]);
	/* Reserving again gives the same names. */
	assert_int_equal(batch_reserve(b), 0);
	assert_string_equal(batch_item(b, 3)->name, "x.2");
	batch_free(b);
}

/* out= and dir= make the path; alike paths are numbered, not alike
 * names in different folders. */
static void
test_reserve_out_and_dir(void **state)
{
	static const char text[] = "http://h/a/x\n"
				   "  out=y\n"
				   "http://h/b/x\n"
				   "  dir=d/e\n"
				   "http://h/c/x\tftp://m/x\n"
				   "http://h/d/z\thttp://m/z\n"
				   "  dir=d/e\n"
				   "  out=x\n"
				   "http://h/e/y\n";
	struct batch *b = batch_new();
	FILE *in = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct bad bad = {0};

	(void)state;
	assert_non_null(in);
	assert_int_equal(batch_read(b, in, record_bad, &bad), 1);
	fclose(in);
	assert_int_equal(batch_count(b), 4);
	assert_int_equal(batch_reserve(b), 0);
	assert_string_equal(batch_item(b, 0)->path, "y");
	assert_string_equal(batch_item(b, 1)->path, "d/e/x");
	assert_string_equal(batch_item(b, 1)->name, "x");
	assert_string_equal(batch_item(b, 2)->path, "d/e/x.1");
	assert_string_equal(batch_item(b, 2)->name, "x.1");
	assert_int_equal(batch_item(b, 2)->nurls, 2);
	assert_string_equal(batch_item(b, 2)->urls[1], "http://m/z");
	assert_string_equal(batch_item(b, 3)->path, "y.1");
	batch_free(b);
}

static void
test_reserve_many_alike(void **state)
{
	struct batch *b = batch_new();
	char want[32];

	(void)state;
	for (int i = 0; i < 20000; i++)
		assert_int_equal(
			batch_add(b, "http://h/same", (unsigned long)i), 0);
	assert_int_equal(batch_reserve(b), 0);
	assert_string_equal(batch_item(b, 0)->name, "same");
	for (int i = 1; i < 20000; i++) {
		snprintf(want, sizeof(want), "same.%d", i);
		assert_string_equal(batch_item(b, (size_t)i)->name, want);
	}
	batch_free(b);
}

static void
test_run_empty_and_cancelled(void **state)
{
	struct batch *b = batch_new();
	struct batch_run_opts o;
	volatile sig_atomic_t cancel = 1;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.dirfd = -1;
	assert_int_equal(batch_run(b, &o), 0);
	o.jobs = 4;
	assert_int_equal(batch_run(b, &o), 0);
	/* Cancelled before the start: nothing starts, all stay pending. */
	assert_int_equal(batch_add(b, "http://127.0.0.1:1/a", 1), 0);
	assert_int_equal(batch_add(b, "http://127.0.0.1:1/b", 2), 0);
	assert_int_equal(batch_reserve(b), 0);
	o.stop = &cancel;
	assert_int_equal(batch_run(b, &o), 0);
	o.jobs = 0;
	assert_int_equal(batch_run(b, &o), 0);
	assert_int_equal(batch_item(b, 0)->state, BATCH_PENDING);
	assert_int_equal(batch_item(b, 1)->state, BATCH_PENDING);
	batch_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_reserve_in_input_order),
		cmocka_unit_test(test_reserve_out_and_dir),
		cmocka_unit_test(test_reserve_many_alike),
		cmocka_unit_test(test_run_empty_and_cancelled),
	};
	int rc;

	accel_global_init();
	rc = cmocka_run_group_tests(tests, watchdog_setup, NULL);
	accel_global_cleanup();
	return rc;
}
