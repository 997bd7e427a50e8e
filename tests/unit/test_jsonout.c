/* SPDX-License-Identifier: ISC */
/* test_jsonout.c -- JSON event lines byte for byte: types, escapes, bad
 * UTF-8, write errors, and whole lines from two threads. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "jsonout.h"
#include "watchdog.h"

/* A writer into memory; out() closes it and hands the text over. */
struct mem {
	FILE *f;
	char *text;
	size_t len;
	struct jsonout *j;
};

static void
mem_open(struct mem *m)
{
	m->text = NULL;
	m->f = open_memstream(&m->text, &m->len);
	assert_non_null(m->f);
	m->j = jsonout_new(m->f);
	assert_non_null(m->j);
}

/* Closes m and checks what it holds; frees it. */
static void
mem_check(struct mem *m, const char *want)
{
	jsonout_free(m->j);
	assert_int_equal(fclose(m->f), 0);
	assert_string_equal(m->text, want);
	free(m->text);
}

static void
test_types(void **state)
{
	unsigned char sha[32];
	struct mem m;

	(void)state;
	for (int i = 0; i < 32; i++)
		sha[i] = (unsigned char)(i * 8 + 1);
	mem_open(&m);
	assert_int_equal(jsonout_event(m.j, "done", "s:url", "http://h/a",
				       "s:name", "a.bin", "I:bytes",
				       1234567890123LL, "f:seconds", 1.25,
				       "i:connections", -4, "b:ok", 7, "b:kept",
				       0, "h:sha256", sha, NULL),
			 0);
	assert_int_equal(jsonout_event(m.j, "summary", NULL), 0);
	assert_int_equal(jsonout_event(m.j, "skipped", "s:name", NULL,
				       "h:sha256", NULL, "I:bytes",
				       (long long)INT64_MIN, NULL),
			 0);
	mem_check(&m, "{\"event\":\"done\",\"url\":\"http://h/a\",\"name\":"
		      "\"a.bin\",\"bytes\":1234567890123,\"seconds\":1.25,"
		      "\"connections\":-4,\"ok\":true,\"kept\":false,"
		      "\"sha256\":\"0109111921293139414951596169717981"
		      "899199a1a9b1b9c1c9d1d9e1e9f1f9\"}\n"
		      "{\"event\":\"summary\"}\n"
		      "{\"event\":\"skipped\",\"name\":null,\"sha256\":null,"
		      "\"bytes\":-9223372036854775808}\n");
}

static void
test_doubles(void **state)
{
	struct mem m;

	(void)state;
	mem_open(&m);
	assert_int_equal(jsonout_event(m.j, "d", "f:a", 0.0, "f:b", 2.0, "f:c",
				       1234.5678, "f:d", -0.0001, "f:e", 0.1,
				       "f:f", -3.5, "f:g", 1e20, NULL),
			 0);
	assert_int_equal(jsonout_event(m.j, "d", "f:nan", (double)NAN, "f:inf",
				       (double)INFINITY, "f:ninf",
				       -(double)INFINITY, NULL),
			 0);
	mem_check(&m, "{\"event\":\"d\",\"a\":0,\"b\":2,\"c\":1234.568,"
		      "\"d\":0,\"e\":0.1,\"f\":-3.5,"
		      "\"g\":100000000000000000000}\n"
		      "{\"event\":\"d\",\"nan\":null,\"inf\":null,"
		      "\"ninf\":null}\n");
}

static void
test_escapes(void **state)
{
	struct mem m;

	(void)state;
	mem_open(&m);
	assert_int_equal(jsonout_event(m.j, "e\"v", "s:q\\k",
				       "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f e",
				       NULL),
			 0);
	mem_check(&m, "{\"event\":\"e\\\"v\",\"q\\\\k\":\"a\\\"b\\\\c/d"
		      "\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f e\"}\n");
}

static void
test_utf8(void **state)
{
	struct mem m;

	(void)state;
	mem_open(&m);
	/* Kept: 2, 3 and 4 byte characters, the last code point, C1. */
	assert_int_equal(jsonout_event(m.j, "u", "s:ok",
				       "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
				       "\xf4\x8f\xbf\xbf\xc2\x85",
				       NULL),
			 0);
	/* Each byte of a bad sequence becomes U+FFFD: a stray continuation,
	 * 0xff, overlong forms, a surrogate, past U+10FFFF, cut short. */
	assert_int_equal(jsonout_event(m.j, "u", "s:bad",
				       "\x80|\xff|\xc0\xaf|\xe0\x80\x80|"
				       "\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82",
				       NULL),
			 0);
	mem_check(&m, "{\"event\":\"u\",\"ok\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f"
		      "\x98\x80\xf4\x8f\xbf\xbf\xc2\x85\"}\n"
		      "{\"event\":\"u\",\"bad\":\"\xef\xbf\xbd|\xef\xbf\xbd|"
		      "\xef\xbf\xbd\xef\xbf\xbd|"
		      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|"
		      "\xef\xbf\xbd\xef\xbf\xbd\"}\n");
}

/* A key without a known type letter writes nothing. */
static void
test_bad_keys(void **state)
{
	struct mem m;

	(void)state;
	mem_open(&m);
	assert_int_equal(jsonout_event(m.j, "x", "s:a", "1", "q:b", 2, NULL),
			 -EINVAL);
	assert_int_equal(jsonout_event(m.j, "x", "name", "v", NULL), -EINVAL);
	assert_int_equal(jsonout_event(m.j, "x", "", NULL), -EINVAL);
	assert_int_equal(jsonout_event(m.j, NULL, NULL), -EINVAL);
	assert_int_equal(jsonout_event(m.j, "x", "s:", "", NULL), 0);
	mem_check(&m, "{\"event\":\"x\",\"\":\"\"}\n");
	jsonout_free(NULL);
}

static void
test_write_error(void **state)
{
	struct jsonout *j;
	FILE *f;

	(void)state;
	if ((f = fopen("/dev/full", "w")) == NULL)
		skip();
	assert_non_null(j = jsonout_new(f));
	assert_int_equal(jsonout_event(j, "x", "i:n", 1, NULL), -EIO);
	jsonout_free(j);
	fclose(f);
	/* A stream opened for reading refuses the write itself. */
	assert_non_null(f = fopen("/dev/null", "r"));
	assert_non_null(j = jsonout_new(f));
	assert_int_equal(jsonout_event(j, "x", "i:n", 1, NULL), -EIO);
	jsonout_free(j);
	fclose(f);
}

#define NLINES 1000
#define PAD    6000 /* more than a stdio buffer, so halves would show */

struct writer {
	struct jsonout *j;
	int id;
	const char *pad;
	int failed; /* events that did not return 0 */
};

static void *
writer_run(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < NLINES; i++)
		if (jsonout_event(w->j, "tick", "i:thread", w->id, "i:n", i,
				  "s:pad", w->pad, NULL) != 0)
			w->failed++;
	return NULL;
}

/* Checks one line; counts it for its thread, in order. */
static void
check_line(const char *line, const char *pad, int next[2])
{
	char want[PAD + 100];
	int id, n;

	assert_int_equal(sscanf(line,
				"{\"event\":\"tick\",\"thread\":%d,"
				"\"n\":%d,",
				&id, &n),
			 2);
	assert_true(id == 0 || id == 1);
	assert_int_equal(n, next[id]);
	snprintf(want, sizeof(want),
		 "{\"event\":\"tick\",\"thread\":%d,\"n\":%d,\"pad\":\"%s\"}\n",
		 id, n, pad);
	assert_string_equal(line, want);
	next[id]++;
}

static void
test_threads(void **state)
{
	struct writer w[2];
	pthread_t t[2];
	char *pad = malloc(PAD + 1), *line = NULL;
	size_t size = 0;
	int next[2] = {0, 0};
	FILE *f = tmpfile();
	struct jsonout *j;

	(void)state;
	assert_non_null(pad);
	assert_non_null(f);
	memset(pad, 'p', PAD);
	pad[PAD] = '\0';
	assert_non_null(j = jsonout_new(f));
	for (int i = 0; i < 2; i++) {
		w[i] = (struct writer){.j = j, .id = i, .pad = pad};
		assert_int_equal(pthread_create(&t[i], NULL, writer_run, &w[i]),
				 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].failed, 0);
	}
	jsonout_free(j);
	rewind(f);
	for (int i = 0; i < 2 * NLINES; i++) {
		assert_true(getline(&line, &size, f) > 0);
		check_line(line, pad, next);
	}
	assert_int_equal(getline(&line, &size, f), -1);
	assert_int_equal(next[0], NLINES);
	assert_int_equal(next[1], NLINES);
	free(line);
	free(pad);
	fclose(f);
}

/* Where python3 is installed, its json module reads every line too. */
static void
test_python_reads_it(void **state)
{
	char path[] = "/tmp/test_jsonout.XXXXXX", cmd[512];
	struct jsonout *j;
	FILE *f;
	int fd;

	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	assert_true((fd = mkstemp(path)) >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	assert_non_null(j = jsonout_new(f));
	for (int c = 1; c < 256; c++) {
		char s[4] = {(char)c, 'x', (char)(255 - c), '\0'};

		assert_int_equal(jsonout_event(j, "byte", "s:s", s, "i:c", c,
					       "f:r", c / 7.0, NULL),
				 0);
	}
	jsonout_free(j);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import json,sys\n"
		 "n = 0\n"
		 "for l in open(sys.argv[1], encoding=\"utf-8\"):\n"
		 "    assert json.loads(l)[\"event\"] == \"byte\"; n += 1\n"
		 "sys.exit(n != 255)' %s",
		 path);
	assert_int_equal(system(cmd), 0);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_doubles),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_python_reads_it),
	};

	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
