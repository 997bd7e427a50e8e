/* SPDX-License-Identifier: ISC */
/* test_httpdate.c -- HTTP dates: the fast form agrees with libcurl's
 * parser on every input, dates or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "httpdate.h"
#include "watchdog.h"

static void
expect_same(const char *s)
{
	time_t want = curl_getdate(s, NULL);
	time_t got = httpdate_parse(s);

	if (got != want)
		fail_msg("\"%s\": %lld, libcurl says %lld", s, (long long)got,
			 (long long)want);
}

/* Every form of every second a step apart over 1970-9999, leap days and
 * the ends of months and years included. */
static void
test_fixdates(void **state)
{
	char buf[64];
	struct tm tm;
	uint64_t x = 88172645463325252ULL;

	(void)state;
	for (long long t = 0; t < 253402300800LL; t += 86400 * 7 + 3607) {
		time_t tt = (time_t)t;

		gmtime_r(&tt, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(httpdate_parse(buf), t);
		expect_same(buf);
	}
	for (int i = 0; i < 20000; i++) {
		time_t tt;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		tt = (time_t)(x % 253402300800ULL);
		gmtime_r(&tt, &tm);
		strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		assert_int_equal(httpdate_parse(buf), tt);
	}
	expect_same("Thu, 01 Jan 1970 00:00:00 GMT");
	expect_same("Tue, 29 Feb 2000 23:59:59 GMT");
	expect_same("Fri, 31 Dec 9999 23:59:59 GMT");
	expect_same("Sun, 06 Nov 1994 08:49:37 GMT");
}

/* What the fast form leaves to libcurl: the other forms, dates out of
 * range, near misses and garbage. */
static void
test_others(void **state)
{
	static const char *const in[] = {
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
		"sun, 06 nov 1994 08:49:37 gmt",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37 +0200",
		"Sun, 6 Nov 1994 08:49:37 GMT",
		" Sun, 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 GMT ",
		"Xyz, 06 Nov 1994 08:49:37 GMT",
		"Mon, 06 Nov 1994 08:49:37 GMT",
		"Sun, 31 Feb 2001 08:49:37 GMT",
		"Sun, 29 Feb 1900 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT",
		"Sun, 06 Nov 1994 23:60:00 GMT",
		"Sun, 06 Nov 1994 23:59:60 GMT",
		"Sun, 06 Nov 1969 08:49:37 GMT",
		"Sun, 06 Nov 0000 08:49:37 GMT",
		"Sun, 06 Nox 1994 08:49:37 GMT",
		"Sun, 0a Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 19x4 08:49:37 GMT",
		"Sun; 06 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08-49-37 GMT",
		"",
		"120",
		"GMT",
		"Sun, 06 Nov 1994",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		expect_same(in[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixdates),
		cmocka_unit_test(test_others),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
