/* SPDX-License-Identifier: ISC */
/* test_urllist.c -- aria2c-style lists: URLs, mirrors, options, and which
 * bad lines drop their entry. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "urllist.h"
#include "watchdog.h"

/* The bad lines seen, as "LINE:WHY\n". */
struct seen {
	char log[4096];
	int n;
};

static void
on_bad(unsigned long line, const char *why, void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->log);

	/* Every message is short and printable. */
	assert_true(strlen(why) < 160);
	for (const char *p = why; *p != '\0'; p++)
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
	snprintf(s->log + n, sizeof(s->log) - n, "%lu:%s\n", line, why);
	s->n++;
}

/* Reads len bytes of text into a new list; the return in *rc. */
static struct urllist *
read_mem(const char *text, size_t len, struct seen *s, long *rc)
{
	struct urllist *l = urllist_new();
	FILE *in = fmemopen((void *)text, len, "r");

	assert_non_null(l);
	assert_non_null(in);
	*rc = urllist_read(l, in, on_bad, s);
	fclose(in);
	return l;
}

static struct urllist *
read_text(const char *text, struct seen *s, long *rc)
{
	return read_mem(text, strlen(text), s, rc);
}

static void
test_good(void **state)
{
	static const unsigned char want[32] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
		0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
		0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
	struct seen s = {.log = ""};
	const struct urllist_entry *e;
	struct urllist *l;
	long rc;

	(void)state;
	l = read_text("\xef\xbb\xbf# a list\n"
		      "\n"
		      "http://h/a\t https://m1/a \tHTTP://m2/a\n"
		      "  out=a.bin\n"
		      "\t dir = x//y/./z/ \n"
		      "  # a comment among the options\n"
		      "\n"
		      "  checksum=sha-256=E3B0C44298FC1C149AFBF4C8996FB924"
		      "27AE41E4649B934CA495991B7852B855\n"
		      "  header=X-A: 1\n"
		      "  header=Cookie: k=v\n"
		      "  split=64\n"
		      "https://h/b\n"
		      "\tsplit=1\n"
		      "http://h/c",
		      &s, &rc);
	assert_string_equal(s.log, "");
	assert_int_equal(rc, 0);
	assert_int_equal(urllist_count(l), 3);
	e = urllist_entry(l, 0);
	assert_int_equal(e->line, 3);
	assert_int_equal(e->nurls, 3);
	assert_string_equal(e->urls[0], "http://h/a");
	assert_string_equal(e->urls[1], "https://m1/a");
	assert_string_equal(e->urls[2], "HTTP://m2/a");
	assert_string_equal(e->out, "a.bin");
	assert_string_equal(e->dir, "x/y/z");
	assert_true(e->has_sha256);
	assert_memory_equal(e->sha256, want, 32);
	assert_int_equal(e->nheaders, 2);
	assert_string_equal(e->headers[0], "X-A: 1");
	assert_string_equal(e->headers[1], "Cookie: k=v");
	assert_int_equal(e->split, 64);
	e = urllist_entry(l, 1);
	assert_int_equal(e->line, 12);
	assert_int_equal(e->nurls, 1);
	assert_string_equal(e->urls[0], "https://h/b");
	assert_null(e->out);
	assert_null(e->dir);
	assert_false(e->has_sha256);
	assert_int_equal(e->nheaders, 0);
	assert_int_equal(e->split, 1);
	e = urllist_entry(l, 2);
	assert_int_equal(e->line, 14);
	assert_string_equal(e->urls[0], "http://h/c");
	assert_int_equal(e->split, 0);
	urllist_free(l);
}

static void
test_crlf(void **state)
{
	struct seen s = {.log = ""};
	const struct urllist_entry *e;
	struct urllist *l;
	long rc;

	(void)state;
	l = read_text("# dos\r\n\r\nhttp://h/a\thttp://m/a\r\n  out=a\r\n"
		      "  dir=d\r\nhttp://h/b\r\n",
		      &s, &rc);
	assert_string_equal(s.log, "");
	assert_int_equal(rc, 0);
	assert_int_equal(urllist_count(l), 2);
	e = urllist_entry(l, 0);
	assert_int_equal(e->nurls, 2);
	assert_string_equal(e->urls[1], "http://m/a");
	assert_string_equal(e->out, "a");
	assert_string_equal(e->dir, "d");
	assert_string_equal(urllist_entry(l, 1)->urls[0], "http://h/b");
	urllist_free(l);
}

/* A bad URL line drops its entry and, unreported, its option lines,
 * which never land on the entry before it. */
static void
test_bad_url_lines(void **state)
{
	struct seen s = {.log = ""};
	const struct urllist_entry *e;
	struct urllist *l;
	long rc;

	(void)state;
	l = read_text("http://h/a\n"
		      "  out=a\n"
		      "ftp://h/b\n"
		      "  out=b\n"
		      "  bogus\n"
		      "http://h/c\t\thttp://m/c\n"
		      "  out=c\n"
		      "http://h/d\tfile:///etc/passwd\n"
		      "  dir=d\n"
		      "http://\n"
		      "https://h/e\t\n"
		      "  out=e\n",
		      &s, &rc);
	assert_string_equal(s.log, "3:ftp://h/b: not an http or https URL\n"
				   "6:http://h/c: empty URL field\n"
				   "8:file:///etc/passwd: not an http or https "
				   "URL\n"
				   "10:http://: not an http or https URL\n");
	assert_int_equal(rc, 4);
	assert_int_equal(urllist_count(l), 2);
	e = urllist_entry(l, 0);
	assert_string_equal(e->urls[0], "http://h/a");
	assert_string_equal(e->out, "a");
	assert_null(e->dir);
	/* A trailing TAB is a blank around the line, not an empty field. */
	e = urllist_entry(l, 1);
	assert_int_equal(e->nurls, 1);
	assert_string_equal(e->urls[0], "https://h/e");
	assert_string_equal(e->out, "e");
	assert_int_equal(e->line, 11);
	urllist_free(l);
}

static void
test_long_url(void **state)
{
	size_t n = 8192, len = 2 * n + 64;
	struct seen s = {.log = ""};
	struct urllist *l;
	char *text = malloc(len);
	long rc;

	(void)state;
	assert_non_null(text);
	/* One URL of exactly 8192 bytes, one of 8193. */
	memcpy(text, "http://h/", 9);
	memset(text + 9, 'a', n - 9);
	memcpy(text + n, "\nhttp://h/", 10);
	memset(text + n + 10, 'b', n - 8);
	strcpy(text + 2 * n + 2, "\n  out=b\n");
	l = read_text(text, &s, &rc);
	assert_int_equal(rc, 1);
	assert_non_null(strstr(s.log, "2:http://h/bbb"));
	assert_non_null(strstr(s.log, ": URL longer than 8192 bytes\n"));
	assert_int_equal(urllist_count(l), 1);
	assert_int_equal(strlen(urllist_entry(l, 0)->urls[0]), 8192);
	assert_null(urllist_entry(l, 0)->out);
	urllist_free(l);
	free(text);
}

static void
test_nul(void **state)
{
	static const char text[] = "http://h/a\n"
				   "http://h/b\0x\n"
				   "  out=b\n"
				   "http://h/c\n"
				   "  out=c\0\n"
				   "  split=2\n"
				   "# a comment\0 is skipped\n"
				   "http://h/d\n";
	struct seen s = {.log = ""};
	struct urllist *l;
	long rc;

	(void)state;
	l = read_mem(text, sizeof(text) - 1, &s, &rc);
	assert_string_equal(
		s.log, "2:http://h/b: NUL byte in the line; entry dropped\n"
		       "5:out=c: NUL byte in the line; entry dropped\n");
	assert_int_equal(rc, 2);
	assert_int_equal(urllist_count(l), 2);
	assert_string_equal(urllist_entry(l, 0)->urls[0], "http://h/a");
	assert_null(urllist_entry(l, 0)->out);
	assert_string_equal(urllist_entry(l, 1)->urls[0], "http://h/d");
	assert_int_equal(urllist_entry(l, 1)->split, 0);
	urllist_free(l);
}

/* Lines reported whose entry stands. */
static void
test_reported_only(void **state)
{
	struct seen s = {.log = ""};
	const struct urllist_entry *e;
	struct urllist *l;
	long rc;

	(void)state;
	l = read_text("  out=early\n"
		      "http://h/a\n"
		      "  noequals\n"
		      "  max-tries=5\n"
		      "  Out=A\n"
		      "  out=a\n",
		      &s, &rc);
	assert_string_equal(s.log,
			    "1:out=early: option line before any URL line\n"
			    "3:noequals: not an option (name=value)\n"
			    "4:max-tries=5: unknown option\n"
			    "5:Out=A: unknown option\n");
	assert_int_equal(rc, 4);
	assert_int_equal(urllist_count(l), 1);
	e = urllist_entry(l, 0);
	assert_string_equal(e->out, "a");
	urllist_free(l);
}

/* The option line opt makes its entry dropped, saying why at line. */
static void
expect_dropped_at(const char *opt, unsigned long line, const char *why)
{
	struct seen s = {.log = ""};
	char text[1024], want[512];
	struct urllist *l;
	long rc, nl = 0;

	snprintf(text, sizeof(text), "http://h/a\n  %s\nhttp://h/b\n", opt);
	snprintf(want, sizeof(want), "%lu:%s\n", line, why);
	l = read_text(text, &s, &rc);
	if (strcmp(s.log, want) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", opt, s.log, want);
	for (const char *p = want; *p != '\0'; p++)
		nl += *p == '\n';
	assert_int_equal(rc, nl);
	assert_int_equal(urllist_count(l), 1);
	assert_string_equal(urllist_entry(l, 0)->urls[0], "http://h/b");
	urllist_free(l);
}

static void
expect_dropped(const char *opt, const char *why)
{
	expect_dropped_at(opt, 2, why);
}

static void
test_bad_out(void **state)
{
	char opt[300];

	(void)state;
	expect_dropped("out=", "out=: empty file name");
	expect_dropped("out=.", "out=.: a file name may not start with '.'");
	expect_dropped("out=..", "out=..: a file name may not start with '.'");
	expect_dropped("out=.bashrc",
		       "out=.bashrc: a file name may not start with '.'");
	expect_dropped("out=a/b", "out=a/b: a file name may not contain '/'");
	expect_dropped("out=../x", "out=../x: a file name may not contain '/'");
	expect_dropped("out=/etc/x",
		       "out=/etc/x: a file name may not contain '/'");
	expect_dropped("out=a\x1b[2Jb",
		       "out=a?[2Jb: control character in a file name");
	expect_dropped("out=a\x7f", "out=a?: control character in a file name");
	memcpy(opt, "out=", 4);
	memset(opt + 4, 'n', 256);
	opt[260] = '\0';
	expect_dropped(
		opt,
		"out=nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
		"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...: file name longer "
		"than 255 bytes");
}

static void
test_bad_dir(void **state)
{
	(void)state;
	expect_dropped("dir=", "dir=: empty folder");
	expect_dropped("dir=/etc", "dir=/etc: the folder must be relative");
	expect_dropped("dir=a/../../b",
		       "dir=a/../../b: a folder may not contain '..'");
	expect_dropped("dir=..", "dir=..: a folder may not contain '..'");
	expect_dropped("dir=a/..", "dir=a/..: a folder may not contain '..'");
	expect_dropped("dir=a/.ssh",
		       "dir=a/.ssh: a folder name may not start with '.'");
	expect_dropped("dir=a\tb", "dir=a?b: control character in a folder");
}

static void
test_bad_checksum(void **state)
{
	(void)state;
	expect_dropped("checksum=md5=d41d8cd98f00b204e9800998ecf8427e",
		       "checksum=md5=d41d8cd98f00b204e9800998ecf8427e: "
		       "unsupported checksum algorithm");
	expect_dropped(
		"checksum=sha-1=da39a3ee5e6b4b0d3255bfef95601890afd"
		"80709",
		"checksum=sha-1=da39a3ee5e6b4b0d3255bfef95601890afd80709:"
		" unsupported checksum algorithm");
	expect_dropped("checksum=abc", "checksum=abc: a checksum is "
				       "sha-256=HEX");
	expect_dropped("checksum=sha-256=zzb0c44298fc1c149afbf4c8996fb92427ae"
		       "41e4649b934ca495991b7852b855",
		       "checksum=sha-256=zzb0c44298fc1c149afbf4c8996fb92427ae"
		       "41e4649b934ca495991b7852b855: a sha-256 digest is 64 "
		       "hex digits");
	expect_dropped("checksum=sha-256=e3b0",
		       "checksum=sha-256=e3b0: a sha-256 digest is 64 hex "
		       "digits");
	expect_dropped("checksum=sha-256=", "checksum=sha-256=: a sha-256 "
					    "digest is 64 hex digits");
}

static void
test_bad_header_split(void **state)
{
	(void)state;
	expect_dropped("header=NoColon",
		       "header=NoColon: a header is 'Name: value', the name "
		       "an HTTP token");
	expect_dropped("header=Bad Name: v",
		       "header=Bad Name: v: a header is 'Name: value', the "
		       "name an HTTP token");
	expect_dropped("header=: v", "header=: v: empty header name");
	expect_dropped("header=X-A: a\rb",
		       "header=X-A: a?b: control character in a header");
	expect_dropped("split=0", "split=0: split is a number from 1 to 64");
	expect_dropped("split=65", "split=65: split is a number from 1 to 64");
	expect_dropped("split=x", "split=x: split is a number from 1 to 64");
	expect_dropped("split=", "split=: split is a number from 1 to 64");
	expect_dropped("split=-1", "split=-1: split is a number from 1 to 64");
	expect_dropped("split=4x", "split=4x: split is a number from 1 to 64");
}

/* The same option twice drops the entry; header may repeat. */
static void
test_twice(void **state)
{
	(void)state;
	expect_dropped_at("out=a\n  out=a", 3,
			  "out=a: option given twice; entry dropped");
	expect_dropped_at("dir=.\n  dir=b", 3,
			  "dir=b: option given twice; entry dropped");
	expect_dropped_at("split=2\n  split=2", 3,
			  "split=2: option given twice; entry dropped");
	expect_dropped("out=\n  out=b",
		       "out=: empty file name\n3:out=b: option given twice; "
		       "entry dropped");
}

static void
test_dir(void **state)
{
	static const char *const cases[][2] = {
		{"a//b/./c/", "a/b/c"},
		{".", NULL},
		{"./", NULL},
		{"./a", "a"},
		{"a.b/c..d", "a.b/c..d"},
	};
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen s = {.log = ""};
		struct urllist *l;
		long rc;

		snprintf(text, sizeof(text), "http://h/a\n dir=%s\n",
			 cases[i][0]);
		l = read_text(text, &s, &rc);
		assert_int_equal(rc, 0);
		assert_int_equal(urllist_count(l), 1);
		if (cases[i][1] == NULL)
			assert_null(urllist_entry(l, 0)->dir);
		else
			assert_string_equal(urllist_entry(l, 0)->dir,
					    cases[i][1]);
		urllist_free(l);
	}
}

/* A long line is read whole; its message shows only its start. */
static void
test_long_lines(void **state)
{
	size_t n = 100000;
	struct seen s = {.log = ""};
	struct urllist *l;
	char *text = malloc(n + 64);
	long rc;

	(void)state;
	assert_non_null(text);
	strcpy(text, "http://h/a\n  header=X-Long: ");
	memset(text + strlen(text), 'v', n);
	strcpy(text + 28 + n, "\n  \x01"
			      "bad\n");
	l = read_text(text, &s, &rc);
	assert_int_equal(rc, 1);
	assert_string_equal(s.log, "3:?bad: not an option (name=value)\n");
	assert_int_equal(urllist_count(l), 1);
	assert_int_equal(strlen(urllist_entry(l, 0)->headers[0]), n + 8);
	urllist_free(l);
	free(text);
}

static void
test_empty_and_free(void **state)
{
	struct seen s = {.log = ""};
	struct urllist *l;
	long rc;

	(void)state;
	urllist_free(NULL);
	l = read_text("", &s, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(urllist_count(l), 0);
	urllist_free(l);
	l = read_text("\n  \n# only comments\n\t# and blanks\n", &s, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(urllist_count(l), 0);
	urllist_free(l);
}

/* Without a callback the bad lines are still counted. */
static void
test_no_callback(void **state)
{
	static const char text[] = "ftp://x\n  out=a\nhttp://h/a\n  x=1\n";
	struct urllist *l = urllist_new();
	FILE *in = fmemopen((void *)text, sizeof(text) - 1, "r");

	(void)state;
	assert_non_null(l);
	assert_non_null(in);
	assert_int_equal(urllist_read(l, in, NULL, NULL), 2);
	fclose(in);
	assert_int_equal(urllist_count(l), 1);
	urllist_free(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_bad_url_lines),
		cmocka_unit_test(test_long_url),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_reported_only),
		cmocka_unit_test(test_bad_out),
		cmocka_unit_test(test_bad_dir),
		cmocka_unit_test(test_bad_checksum),
		cmocka_unit_test(test_bad_header_split),
		cmocka_unit_test(test_twice),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_empty_and_free),
		cmocka_unit_test(test_no_callback),
	};

	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
