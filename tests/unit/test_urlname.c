/* SPDX-License-Identifier: ISC */
/* test_urlname.c -- URL to safe file name, including hostile URLs. */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_names),
		cmocka_unit_test(test_hostile_names),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_is_http),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
