/* SPDX-License-Identifier: ISC */
/* test_urlname.c -- URL to safe file name, including hostile URLs. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "urlname.h"
#include "watchdog.h"

static void
expect_name(const char *url, const char *want)
{
	char *got = urlname_from_url(url);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_plain_names(void **state)
{
	(void)state;
	expect_name("http://h/a/b/file.iso", "file.iso");
	expect_name("https://h:8080/x.tar.gz?token=1#frag", "x.tar.gz");
	expect_name("http://h/dir/", "index.html");
	expect_name("http://h", "index.html");
	expect_name("http://h?x=/y", "index.html");
	expect_name("http://h/my%20file.txt", "my file.txt");
	expect_name("http://h/caf%C3%A9", "caf\xc3\xa9");
	expect_name("http://h/100%", "100%");
	expect_name("http://h/a%zzb", "a%zzb");
}

static void
test_hostile_names(void **state)
{
	(void)state;
	expect_name("http://h/%2e%2e%2f", "_");
	expect_name("http://h/%2e%2e%2fetc%2fpasswd", "_etc_passwd");
	expect_name("http://h/..", "index.html");
	expect_name("http://h/.", "index.html");
	expect_name("http://h/...", "index.html");
	expect_name("http://h/.hidden", "hidden");
	expect_name("http://h/a%2fb", "a_b");
	expect_name("http://h/a%5cb", "a_b");
	expect_name("http://h/a%00b", "a_b");
	expect_name("http://h/a%0d%0ab%1b[31m", "a__b_[31m");
	expect_name("http://h/x%7f", "x_");
}

static void
test_long_names(void **state)
{
	char url[2000], *got;

	(void)state;
	strcpy(url, "http://h/");
	memset(url + 9, 'a', 1000);
	url[1009] = '\0';
	got = urlname_from_url(url);
	assert_non_null(got);
	assert_int_equal(strlen(got), URLNAME_MAX);
	free(got);

	/* Two-byte characters: the cut never splits one. */
	strcpy(url, "http://h/");
	for (int i = 0; i < 300; i++)
		strcat(url, "%C3%A9");
	got = urlname_from_url(url);
	assert_non_null(got);
	assert_true(strlen(got) <= URLNAME_MAX);
	assert_int_equal(strlen(got) % 2, 0);
	assert_true(((unsigned char)got[strlen(got) - 2]) == 0xc3);
	free(got);
}

static void
test_is_http(void **state)
{
	(void)state;
	assert_true(urlname_is_http("http://example/x"));
	assert_true(urlname_is_http("HTTPS://h:1/"));
	assert_true(urlname_is_http("http://user@h/"));
	assert_false(urlname_is_http("ftp://h/x"));
	assert_false(urlname_is_http("http://"));
	assert_false(urlname_is_http("http:///path"));
	assert_false(urlname_is_http("http://:80/"));
	assert_false(urlname_is_http("http://h/a b"));
	assert_false(urlname_is_http("not a url"));
	assert_false(urlname_is_http(""));
	assert_false(urlname_is_http("http://h/\x01"));
}

/* The name a Content-Disposition value gives, NULL for none. */
static void
expect_cd(const char *value, const char *want)
{
	char *got = urlname_from_disposition(value);

	if (want == NULL) {
		assert_null(got);
		assert_int_equal(errno, ENOENT);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
test_disposition(void **state)
{
	(void)state;
	expect_cd("attachment; filename=report.pdf", "report.pdf");
	expect_cd("attachment; filename=\"my report.pdf\"", "my report.pdf");
	expect_cd("attachment;filename=\"a\\\"b\"", "a\"b");
	expect_cd("ATTACHMENT ; FILENAME = x.txt ; size=3", "x.txt");
	expect_cd("inline; filename=\"plain.txt\"; "
		  "filename*=UTF-8''caf%C3%A9%20menu.txt",
		  "caf\xc3\xa9 menu.txt");
	/* filename* wins wherever it stands. */
	expect_cd("attachment; filename*=utf-8'en'new.txt; filename=old.txt",
		  "new.txt");
	expect_cd("attachment; filename*=ISO-8859-1''%E9t%E9",
		  "\xc3\xa9t\xc3\xa9");
	/* A bad filename* leaves filename standing. */
	expect_cd("attachment; filename*=UTF-8''bad%zz; filename=ok", "ok");
	expect_cd("attachment; filename*=KOI8-R''x; filename=ok", "ok");
	expect_cd("attachment; filename*=nocharset; filename=ok", "ok");
	expect_cd("attachment", NULL);
	expect_cd("", NULL);
	expect_cd("attachment; name=x", NULL);
	expect_cd("attachment; filename=", NULL);
	expect_cd("attachment; filename=\"\"", NULL);
	expect_cd("attachment; filename", NULL);
}

static void
test_disposition_hostile(void **state)
{
	char *big, *got;

	(void)state;
	expect_cd("attachment; filename=\"../../x\"", "x");
	expect_cd("attachment; filename=\"..\\\\..\\\\x\"", "x");
	expect_cd("attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd",
		  "passwd");
	expect_cd("attachment; filename=.hidden", "hidden");
	expect_cd("attachment; filename=\"a/b\"", "b");
	expect_cd("attachment; filename=\"dir/\"", NULL);
	expect_cd("attachment; filename=\"..\"", NULL);
	expect_cd("attachment; filename=\"...\"", NULL);
	expect_cd("attachment; filename=\"a\tb\x01"
		  "c\x7f\"",
		  "a_b_c_");
	expect_cd("attachment; filename*=UTF-8''a%0D%0Ab%00c", "a__b_c");
	expect_cd("attachment; filename=\"unterminated", NULL);
	expect_cd("attachment; filename=ok; filename*=\"UTF-8''x", "ok");
	expect_cd("attachment; filename=\"x\\", NULL);

	/* Huge: cut to URLNAME_MAX on a character boundary. */
	big = malloc(100000);
	assert_non_null(big);
	strcpy(big, "attachment; filename*=UTF-8''");
	for (size_t i = 0, n = strlen(big); i < 9000; i++, n += 6)
		memcpy(big + n, "%C3%A9", 7);
	got = urlname_from_disposition(big);
	assert_non_null(got);
	assert_true(strlen(got) <= URLNAME_MAX);
	assert_int_equal(strlen(got) % 2, 0);
	free(got);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_is_http),
		cmocka_unit_test(test_disposition),
		cmocka_unit_test(test_disposition_hostile),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
