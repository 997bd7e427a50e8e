/* SPDX-License-Identifier: ISC */
/* test_conf.c -- the defaults file's lines into options, and bad lines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "watchdog.h"

/* The options seen, as "line:name=value;" or "line:name;". */
struct seen {
	char buf[1024];
	int stop_at; /* line whose option the callback refuses, 0: none */
};

static int
on_option(unsigned long line, const char *name, char *value, const char **why,
	  void *arg)
{
	struct seen *s = arg;
	size_t n = strlen(s->buf);

	if ((int)line == s->stop_at) {
		*why = "refused";
		return -ERANGE;
	}
	snprintf(s->buf + n, sizeof(s->buf) - n, "%lu:%s%s%s;", line, name,
		 value != NULL ? "=" : "", value != NULL ? value : "");
	return 0;
}

/* Parses a copy of text; the return, with *s filled. */
static int
parse(const char *text, struct seen *s, unsigned long *line, const char **why)
{
	size_t len = strlen(text);
	char *t = malloc(len + 1);
	int rc;

	assert_non_null(t);
	memcpy(t, text, len + 1);
	rc = conf_parse(t, len, on_option, s, line, why);
	free(t);
	return rc;
}

static void
test_good(void **state)
{
	struct seen s = {.buf = ""};
	unsigned long line;
	const char *why;

	(void)state;
	assert_int_equal(parse("\xef\xbb\xbf# comment\n"
			       "\n"
			       "  connections = 4  \n"
			       "quiet\r\n"
			       "\t# indented comment\n"
			       "header = X-A: b=c\n"
			       "user-agent = \"  spaced  \"\n"
			       "referer=\n"
			       "cookie = a=\"b\"\n"
			       "last = no newline",
			       &s, &line, &why),
			 0);
	assert_string_equal(s.buf, "3:connections=4;4:quiet;6:header=X-A: b=c;"
				   "7:user-agent=  spaced  ;8:referer=;"
				   "9:cookie=a=\"b\";10:last=no newline;");
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse("", &s, &line, &why), 0);
	assert_string_equal(s.buf, "");
}

/* The line a bad text is refused at, and why. */
static void
expect_bad(const char *text, unsigned long want_line)
{
	struct seen s = {.buf = ""};
	unsigned long line;
	const char *why = NULL;

	assert_int_equal(parse(text, &s, &line, &why), -EINVAL);
	assert_int_equal(line, want_line);
	assert_non_null(why);
}

static void
test_bad(void **state)
{
	(void)state;
	expect_bad("= 4\n", 1);
	expect_bad("quiet\n--quiet\n", 2);
	expect_bad("Quiet\n", 1);
	expect_bad("two words = x\n", 1);
	expect_bad("-q\n", 1);
	expect_bad("a\nb\nuser-agent = \"open\n", 3);
	expect_bad("user-agent = \"\n", 1);
	expect_bad("x\xff = 1\n", 1);
	expect_bad("a-very-long-name-a-very-long-name-a-very-long-name-a-very-"
		   "long-name\n",
		   1);
}

static void
test_nul_and_refusal(void **state)
{
	struct seen s = {.buf = "", .stop_at = 2};
	char text[] = "quiet\nretries = 2\n";
	char nul[] = "quiet\nre\0tries\n";
	unsigned long line;
	const char *why;

	(void)state;
	assert_int_equal(
		conf_parse(text, strlen(text), on_option, &s, &line, &why),
		-ERANGE);
	assert_int_equal(line, 2);
	assert_string_equal(why, "refused");
	memset(&s, 0, sizeof(s));
	assert_int_equal(
		conf_parse(nul, sizeof(nul) - 1, on_option, &s, &line, &why),
		-EINVAL);
	assert_int_equal(line, 2);
	assert_string_equal(s.buf, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_nul_and_refusal),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
