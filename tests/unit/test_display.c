/* SPDX-License-Identifier: ISC */
/* test_display.c -- what reaches a terminal: no escapes, no credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "display.h"
#include "urlname.h"
#include "watchdog.h"

static void
expect_text(const char *in, size_t size, const char *want)
{
	char out[256];

	assert_true(size <= sizeof(out));
	assert_string_equal(display_text(in, out, size), want);
	assert_true(strlen(out) < size);
}

static void
test_controls(void **state)
{
	(void)state;
	expect_text("Not Found", 64, "Not Found");
	expect_text("", 64, "");
	/* A title set and a screen cleared by a reason phrase. */
	expect_text("\x1b]0;title\x07\x1b[2J", 64, "?]0;title??[2J");
	expect_text("a\r\nb\tc\x7f", 64, "a??b?c?");
	expect_text("a\x1b[31m\n", 16, "a?[31m?");
	/* C1 controls as UTF-8 (U+009B is CSI) and as raw bytes. */
	expect_text("x\xc2\x9b"
		    "2Jy",
		    64, "x??2Jy");
	expect_text("x\x9b"
		    "2J",
		    64, "x?2J");
	/* Well-formed UTF-8 stays. */
	expect_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 64,
		    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* Overlong, surrogate, beyond U+10FFFF, cut sequences. */
	expect_text("\xc0\xaf", 64, "??");
	expect_text("\xe0\x80\xaf", 64, "???");
	expect_text("\xed\xa0\x80", 64, "???");
	expect_text("\xf4\x90\x80\x80", 64, "????");
	expect_text("\xe2\x82", 64, "??");
	expect_text("\xff\xfe", 64, "??");
}

static void
test_cut(void **state)
{
	(void)state;
	expect_text("0123456789", 11, "0123456789");
	expect_text("0123456789a", 11, "0123456...");
	expect_text("abcd", 4, "...");
	expect_text("0123456789abcdefghij", 16, "0123456789ab...");
	/* Never inside a character. */
	expect_text("ab\xc3\xa9\xc3\xa9\xc3\xa9", 8, "ab\xc3\xa9...");
	expect_text("abc\xc3\xa9\xc3\xa9\xc3\xa9", 8, "abc...");
}

static void
test_urls(void **state)
{
	char out[128];
	char *s;
	size_t off, len;

	(void)state;
	assert_string_equal(display_url("http://h/x", out, sizeof(out)),
			    "http://h/x");
	assert_string_equal(
		display_url("http://u:pw@h:80/x?a=b@c", out, sizeof(out)),
		"http://u@h:80/x?a=b@c");
	assert_string_equal(display_url("https://tok@h/x", out, sizeof(out)),
			    "https://tok@h/x");
	assert_string_equal(display_url("http://u:@h/x", out, sizeof(out)),
			    "http://u@h/x");
	assert_string_equal(display_url("http://:pw@h/x", out, sizeof(out)),
			    "http://h/x");
	/* The last '@' of the authority ends the credentials, the first ':'
	 * the user name. */
	assert_string_equal(display_url("http://a@b:p@w@h/x", out, sizeof(out)),
			    "http://a@b@h/x");
	assert_string_equal(
		display_url("http://u:pw@h/\x1b[2J", out, sizeof(out)),
		"http://u@h/?[2J");
	assert_string_equal(
		display_url("http://u:secret@h/abcdefghijkl", out, 16),
		"http://u@h/a...");
	assert_null(strstr(
		display_url("http://u:secret@h/abcdefghijkl", out, sizeof(out)),
		"secret"));
	assert_int_equal(urlname_userinfo("http://h/a@b", &off, &len), 0);
	assert_int_equal(urlname_userinfo("http://h?a@b", &off, &len), 0);
	assert_int_equal(urlname_userinfo("mailto:a@b", &off, &len), 0);
	assert_int_equal(urlname_userinfo("http://u:p@h", &off, &len), 1);
	assert_int_equal(off, 7);
	assert_int_equal(len, 4);
	s = urlname_strip_userinfo("https://u:p@h:8443/f?x@y");
	assert_non_null(s);
	assert_string_equal(s, "https://h:8443/f?x@y");
	free(s);
	s = urlname_strip_userinfo("http://h/f");
	assert_non_null(s);
	assert_string_equal(s, "http://h/f");
	free(s);
	/* Into a buffer: cut to fit, never a byte of the password. */
	assert_int_equal(
		urlname_strip_userinfo_to("http://u:p@h/f", out, sizeof(out)),
		10);
	assert_string_equal(out, "http://h/f");
	assert_int_equal(urlname_strip_userinfo_to("http://u:p@h/f", out, 9),
			 10);
	assert_string_equal(out, "http://h");
	assert_int_equal(urlname_strip_userinfo_to("http://u:p@h/f", out, 5),
			 10);
	assert_string_equal(out, "http");
	assert_int_equal(urlname_strip_userinfo_to("http://u:p@h/f", out, 1),
			 10);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_urls),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
