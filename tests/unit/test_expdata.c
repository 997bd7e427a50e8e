/* SPDX-License-Identifier: ISC */
/* test_expdata.c -- data lines, reading files, box statistics, and the
 * rows of -n auto runs from --json events. */
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

/* Feeds the lines of text to j; the index of the first refused, or -1. */
static int
feed(struct expdata_json *j, const char *const *lines, size_t n,
     const char **why)
{
	for (size_t i = 0; i < n; i++)
		if (expdata_json_line(j, lines[i], strlen(lines[i]), why) < 0)
			return (int)i;
	return -1;
}

#define U "http://127.0.0.1:4/f"

static void
test_json_held(void **state)
{
	/* As the accelerator wrote it behind a shared link: sixteen at
	 * most, one held from 0.991 s to the end. */
	static const char *const shed[] = {
		"{\"event\":\"start\",\"url\":\"" U "\",\"name\":\"f\","
		"\"size\":2097152,\"connections\":1}",
		"{\"event\":\"connections\",\"name\":\"f\",\"connections\":8,"
		"\"reason\":\"start\",\"seconds\":0.002}",
		"{\"event\":\"connections\",\"name\":\"f\",\"connections\":16,"
		"\"reason\":\"growing\",\"seconds\":0.07}",
		"{\"event\":\"connections\",\"name\":\"f\",\"connections\":4,"
		"\"reason\":\"shedding\",\"seconds\":0.271}",
		"{\"event\":\"progress\",\"name\":\"f\",\"bytes\":1048576,"
		"\"size\":2097152,\"rate\":1048576.5,\"connections\":4}",
		"{\"event\":\"connections\",\"name\":\"f\",\"connections\":2,"
		"\"reason\":\"shedding\",\"seconds\":0.631}",
		"{\"event\":\"connections\",\"name\":\"f\",\"connections\":1,"
		"\"reason\":\"shedding\",\"seconds\":0.991}",
		"{\"event\":\"done\",\"url\":\"" U "\",\"name\":\"f\","
		"\"bytes\":2097152,\"resumed_from\":0,\"seconds\":2.151,"
		"\"connections\":16,\"not_modified\":false,\"sha256\":null}",
		"{\"event\":\"summary\",\"files\":1,\"done\":1,\"bytes\":"
		"2097152,"
		"\"seconds\":2.153,\"interrupted\":false}",
	};
	/* Two counts half a second each: the smaller. */
	static const char *const tie[] = {
		"{\"event\":\"connections\",\"connections\":4,\"seconds\":0}",
		"{\"event\":\"connections\",\"connections\":2,\"seconds\":0.5}",
		"{\"event\":\"done\",\"url\":\"" U "\",\"bytes\":10,"
		"\"seconds\":1,\"connections\":4}",
	};
	/* No connections event: the most at once; blanks between tokens
	 * are JSON too. */
	static const char *const none[] = {
		" { \"event\" : \"done\" , \"url\" : \"" U
		"\" , \"bytes\" : 0 ,"
		" \"seconds\" : 1.5e-1 , \"connections\" : 3 }\r",
	};
	/* A count that comes back adds up: 8 for 0.2 + 0.3 s, 16 for 0.4. */
	static const char *const back[] = {
		"{\"event\":\"connections\",\"connections\":8,\"seconds\":0}",
		"{\"event\":\"connections\",\"connections\":16,\"seconds\":0."
		"2}",
		"{\"event\":\"connections\",\"connections\":8,\"seconds\":0.6}",
		"{\"event\":\"done\",\"url\":\"" U "\",\"bytes\":1,"
		"\"seconds\":0.9,\"connections\":16}",
	};
	struct expdata_json j;
	struct expdata_row r;
	const char *why = NULL;

	(void)state;
	expdata_json_init(&j, U);
	assert_int_equal(feed(&j, shed, sizeof(shed) / sizeof(shed[0]), &why),
			 -1);
	assert_int_equal(expdata_json_row(&j, &r, &why), 0);
	assert_int_equal(r.threads, 1);
	assert_int_equal(r.bytes, 2097152);
	assert_float_equal(r.seconds, 2.151, 1e-9);
	assert_int_equal(j.most, 16);

	expdata_json_init(&j, U);
	assert_int_equal(feed(&j, tie, 3, &why), -1);
	assert_int_equal(expdata_json_row(&j, &r, &why), 0);
	assert_int_equal(r.threads, 2);

	expdata_json_init(&j, U);
	assert_int_equal(feed(&j, none, 1, &why), -1);
	assert_int_equal(expdata_json_row(&j, &r, &why), 0);
	assert_int_equal(r.threads, 3);
	assert_int_equal(r.bytes, 0);
	assert_float_equal(r.seconds, 0.15, 1e-9);

	expdata_json_init(&j, U);
	assert_int_equal(feed(&j, back, 4, &why), -1);
	assert_int_equal(expdata_json_row(&j, &r, &why), 0);
	assert_int_equal(r.threads, 8);

	/* Without a done event there is no row. */
	expdata_json_init(&j, U);
	assert_int_equal(feed(&j, shed, 7, &why), -1);
	why = NULL;
	assert_int_equal(expdata_json_row(&j, &r, &why), -EINVAL);
	assert_string_equal(why, "no done event");
}

static void
test_json_strings(void **state)
{
	/* The URL as jsonout escapes it, and as other writers may. */
	static const char url[] = "http://h/a\"b\\c/\xc3\xa9\xf0\x9f\x98\x80";
	static const char *const same[] = {
		"\"http://h/a\\\"b\\\\c/\xc3\xa9\xf0\x9f\x98\x80\"",
		"\"http:\\/\\/h\\/a\\u0022b\\u005cc/\\u00e9\\ud83d\\ude00\"",
	};
	static const char *const other[] = {
		"\"http://h/a\\\"b\\\\c/\xc3\xa9\"",
		"\"http://h/a\\\"b\\\\c/\xc3\xa9\xf0\x9f\x98\x80x\"",
		"\"\"",
	};
	struct expdata_json j;
	struct expdata_row r;
	const char *why;
	char line[512];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		snprintf(line, sizeof(line),
			 "{\"event\":\"done\",\"url\":%s,\"bytes\":1,"
			 "\"seconds\":1,\"connections\":1}",
			 same[i]);
		expdata_json_init(&j, url);
		why = NULL;
		assert_int_equal(
			expdata_json_line(&j, line, strlen(line), &why), 0);
		assert_int_equal(expdata_json_row(&j, &r, &why), 0);
	}
	for (size_t i = 0; i < 3; i++) {
		snprintf(line, sizeof(line),
			 "{\"event\":\"done\",\"url\":%s,\"bytes\":1,"
			 "\"seconds\":1,\"connections\":1}",
			 other[i]);
		expdata_json_init(&j, url);
		why = NULL;
		assert_int_equal(
			expdata_json_line(&j, line, strlen(line), &why),
			-EINVAL);
		assert_string_equal(why, "done: another URL");
	}
}

static void
test_json_bad(void **state)
{
	/* Each line after a good connections event, and why it is
	 * refused. */
	static const struct {
		const char *line, *why;
	} bad[] = {
		{"", "not a JSON object"},
		{U " 16 2097152 2.151", "not a JSON object"},
		{"[]", "not a JSON object"},
		{"{\"event\":\"done\",\"url\":\"" U "\",\"bytes\":1",
		 "no ',' or '}' after a member"},
		{"{\"event\":\"start\"} x", "text after the object"},
		{"{\"event\":\"start\"}{}", "text after the object"},
		{"{\"event\":\"start\",}", "a member's name is not a string"},
		{"{event:\"start\"}", "a member's name is not a string"},
		{"{\"event\" \"start\"}", "no ':' after a member's name"},
		{"{\"event\":}", "a value that is not JSON"},
		{"{\"event\":\"start\",\"a\":True}",
		 "a value that is not JSON"},
		{"{\"event\":\"start\",\"a\":{\"b\":1}}",
		 "a nested object or array"},
		{"{\"event\":\"start\",\"a\":[1]}", "a nested object or array"},
		{"{\"event\":\"start", "a string is not closed"},
		{"{\"event\":\"st\tart\"}", "a control character in a string"},
		{"{\"event\":\"st\\xart\"}", "a bad escape in a string"},
		{"{\"event\":\"st\\u00gart\"}", "a bad \\u escape in a string"},
		{"{\"event\":\"st\\ud800art\"}",
		 "a lone surrogate in a string"},
		{"{\"event\":\"st\\udc00art\"}",
		 "a lone surrogate in a string"},
		{"{\"event\":\"st\\u0000art\"}", "a NUL escaped in a string"},
		{"{\"event\":\"start\",\"a\":01}",
		 "no ',' or '}' after a member"},
		{"{\"event\":\"start\",\"a\":1.}", "a malformed number"},
		{"{\"event\":\"start\",\"a\":.5}", "a value that is not JSON"},
		{"{\"event\":\"start\",\"a\":-}", "a malformed number"},
		{"{\"event\":\"start\",\"a\":1e}", "a malformed number"},
		{"{\"event\":\"start\",\"a\":+1}", "a value that is not JSON"},
		{"{\"name\":\"f\"}", "no \"event\" member"},
		{"{\"event\":1}", "\"event\" is not a string"},
		{"{\"event\":\"start\",\"event\":\"done\"}",
		 "\"event\" given twice"},
		{"{\"event\":\"finished\"}", "an unknown event"},
		{"{\"event\":\"connectionsconnections\"}", "an unknown event"},
		{"{\"event\":\"failed\",\"url\":\"" U "\"}", "a failed event"},
		{"{\"event\":\"connections\",\"connections\":0,\"seconds\":1}",
		 "connections: \"connections\" is not a count of 1-64"},
		{"{\"event\":\"connections\",\"connections\":65,\"seconds\":1}",
		 "connections: \"connections\" is not a count of 1-64"},
		{"{\"event\":\"connections\",\"connections\":2.5,\"seconds\":"
		 "1}",
		 "connections: \"connections\" is not a count of 1-64"},
		{"{\"event\":\"connections\",\"connections\":\"2\","
		 "\"seconds\":1}",
		 "connections: \"connections\" is not a count of 1-64"},
		{"{\"event\":\"connections\",\"connections\":2}",
		 "connections: \"seconds\" is not a time"},
		{"{\"event\":\"connections\",\"connections\":2,\"seconds\":-1}",
		 "connections: \"seconds\" is not a time"},
		{"{\"event\":\"connections\",\"connections\":2,"
		 "\"seconds\":null}",
		 "connections: \"seconds\" is not a time"},
		{"{\"event\":\"connections\",\"connections\":2,\"seconds\":1,"
		 "\"connections\":3}",
		 "connections: a member given twice"},
		{"{\"event\":\"connections\",\"connections\":2,"
		 "\"seconds\":0.4}",
		 "connections: earlier than the event before"},
		{"{\"event\":\"done\",\"url\":\"http://127.0.0.1:4/g\","
		 "\"bytes\":1,\"seconds\":1,\"connections\":1}",
		 "done: another URL"},
		{"{\"event\":\"done\",\"url\":null,"
		 "\"bytes\":1,\"seconds\":1,\"connections\":1}",
		 "done: \"url\" is not a string"},
		{"{\"event\":\"done\",\"url\":\"" U "\","
		 "\"bytes\":-1,\"seconds\":1,\"connections\":1}",
		 "done: \"bytes\" is not a whole number"},
		{"{\"event\":\"done\",\"url\":\"" U "\","
		 "\"bytes\":4503599627370497,\"seconds\":1,\"connections\":1}",
		 "done: \"bytes\" is not a whole number"},
		{"{\"event\":\"done\",\"url\":\"" U "\","
		 "\"bytes\":1,\"seconds\":1e8,\"connections\":1}",
		 "done: \"seconds\" is not a time"},
		{"{\"event\":\"done\",\"url\":\"" U "\","
		 "\"bytes\":1,\"seconds\":1,\"connections\":0}",
		 "done: \"connections\" is not a count of 1-64"},
		{"{\"event\":\"done\",\"url\":\"" U "\","
		 "\"bytes\":1,\"seconds\":1,\"connections\":1,\"bytes\":2}",
		 "done: a member given twice"},
		{"{\"event\":\"done\",\"url\":\"" U "\","
		 "\"bytes\":1,\"seconds\":0.4,\"connections\":1}",
		 "done: earlier than a connections event"},
	};
	static const char first[] =
		"{\"event\":\"connections\",\"connections\":8,\"seconds\":0.5}";
	static const char done[] = "{\"event\":\"done\",\"url\":\"" U
				   "\",\"bytes\":1,\"seconds\":1,"
				   "\"connections\":8}";
	static const char nul[] = "{\"event\":\"start\"}\0";
	struct expdata_json j;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expdata_json_init(&j, U);
		assert_int_equal(
			expdata_json_line(&j, first, strlen(first), &why), 0);
		why = NULL;
		assert_int_equal(expdata_json_line(&j, bad[i].line,
						   strlen(bad[i].line), &why),
				 -EINVAL);
		assert_string_equal(why, bad[i].why);
	}
	expdata_json_init(&j, U);
	assert_int_equal(expdata_json_line(&j, nul, sizeof(nul) - 1, &why),
			 -EINVAL);
	assert_string_equal(why, "a NUL byte");
	/* Once done, no second done and no more changes of count. */
	assert_int_equal(expdata_json_line(&j, done, strlen(done), &why), 0);
	assert_int_equal(expdata_json_line(&j, done, strlen(done), &why),
			 -EINVAL);
	assert_string_equal(why, "a second done event");
	assert_int_equal(expdata_json_line(&j, first, strlen(first), &why),
			 -EINVAL);
	assert_string_equal(why, "a connections event after done");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_line),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_median_and_sizes),
		cmocka_unit_test(test_json_held),
		cmocka_unit_test(test_json_strings),
		cmocka_unit_test(test_json_bad),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
