/* SPDX-License-Identifier: ISC */
/* test_reqopts.c -- request options: value checks, the header list, and
 * the command-line parser every downloader shares. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli.h"
#include "reqopts.h"
#include "watchdog.h"

static void
test_headers(void **state)
{
	struct reqopts ro = {0};
	struct curl_slist *l = NULL;

	(void)state;
	assert_int_equal(reqopts_add_header(&ro, "X-Token: t1"), 0);
	assert_int_equal(reqopts_add_header(&ro, "Accept:"), 0);
	assert_int_equal(reqopts_add_header(&ro, "X-Empty;"), -EINVAL);
	assert_int_equal(reqopts_add_header(&ro, "no colon"), -EINVAL);
	assert_int_equal(reqopts_add_header(&ro, ": v"), -EINVAL);
	assert_int_equal(reqopts_add_header(&ro, "Bad Name: v"), -EINVAL);
	assert_int_equal(reqopts_add_header(&ro, "X: a\r\nY: b"), -EINVAL);
	assert_int_equal(reqopts_add_header(&ro, "X: a\nY: b"), -EINVAL);
	assert_int_equal(ro.nheaders, 2);
	for (int i = 2; i < REQOPTS_MAX_HEADERS; i++)
		assert_int_equal(reqopts_add_header(&ro, "X-N: n"), 0);
	assert_int_equal(reqopts_add_header(&ro, "X-N: n"), -E2BIG);

	/* The engine's own headers first, then the user's. */
	l = curl_slist_append(NULL, "Accept-Encoding: identity");
	assert_int_equal(reqopts_headers(&ro, &l), 0);
	assert_string_equal(l->data, "Accept-Encoding: identity");
	assert_string_equal(l->next->data, "X-Token: t1");
	assert_string_equal(l->next->next->data, "Accept:");
	curl_slist_free_all(l);
	l = NULL;
	assert_int_equal(reqopts_headers(NULL, &l), 0);
	assert_null(l);
}

static void
test_values(void **state)
{
	struct reqopts ro = {0};

	(void)state;
	assert_int_equal(reqopts_set_cookie(&ro, "a=b; c=d"), 0);
	assert_string_equal(ro.cookie, "a=b; c=d");
	assert_null(ro.cookie_file);
	assert_int_equal(reqopts_set_cookie(&ro, "cookies.txt"), 0);
	assert_string_equal(ro.cookie_file, "cookies.txt");
	assert_int_equal(reqopts_set_cookie(&ro, ""), -EINVAL);
	assert_int_equal(reqopts_set_cookie(&ro, "a=b\r\nX: y"), -EINVAL);

	assert_int_equal(reqopts_check_proxy("http://127.0.0.1:3128"), 0);
	assert_int_equal(reqopts_check_proxy("https://p.example:443"), 0);
	assert_int_equal(reqopts_check_proxy("socks5h://127.0.0.1:1080"), 0);
	assert_int_equal(reqopts_check_proxy("SOCKS5://u:p@h:1"), 0);
	assert_int_equal(reqopts_check_proxy("ftp://h"), -EINVAL);
	assert_int_equal(reqopts_check_proxy("http://"), -EINVAL);
	assert_int_equal(reqopts_check_proxy("127.0.0.1:3128"), -EINVAL);
	assert_int_equal(reqopts_check_value("Mozilla/5.0"), 0);
	assert_int_equal(reqopts_check_value("x\ny"), -EINVAL);
}

static void
test_apply(void **state)
{
	struct reqopts ro = {0};
	CURL *c;

	(void)state;
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
	assert_non_null(c = curl_easy_init());
	assert_int_equal(reqopts_apply(NULL, c), 0);
	assert_int_equal(reqopts_apply(&ro, c), 0);
	ro.user_agent = "ua";
	ro.referer = "http://r/";
	ro.user = "alice";
	ro.password = "secret";
	ro.netrc_file = "/nonexistent";
	ro.insecure = 1;
	ro.cacert = "/nonexistent.pem";
	ro.cert = "c.pem";
	ro.key = "k.pem";
	ro.proxy = "socks5h://127.0.0.1:1";
	ro.noproxy = "localhost";
	ro.ipv = 4;
	ro.cookie = "a=b";
	assert_int_equal(reqopts_apply(&ro, c), 0);
	curl_easy_cleanup(c);
	curl_global_cleanup();
}

/* The shared parser: each option lands in its field; -u's password is
 * copied out of the argument and wiped from it. */
static void
test_cli(void **state)
{
	struct reqopts ro = {0};
	char user[] = "alice:s3cret", hdr[] = "X-A: 1", px[] = "http://h:1";
	char ca[] = "ca.pem", noproxy[] = "";

	(void)state;
	assert_int_equal(cli_reqopt(&ro, 'H', hdr), 1);
	assert_int_equal(cli_reqopt(&ro, 'u', user), 1);
	assert_string_equal(ro.user, "alice");
	assert_string_equal(ro.password, "s3cret");
	assert_null(memmem(user, sizeof(user), "s3cret", 6));
	assert_int_equal(cli_reqopt(&ro, 'x', px), 1);
	assert_int_equal(cli_reqopt(&ro, CLI_REQ_CACERT, ca), 1);
	assert_int_equal(cli_reqopt(&ro, CLI_REQ_NOPROXY, noproxy), 1);
	assert_int_equal(cli_reqopt(&ro, 'k', NULL), 1);
	assert_int_equal(cli_reqopt(&ro, '6', NULL), 1);
	assert_int_equal(cli_reqopt(&ro, CLI_REQ_NETRC, NULL), 1);
	assert_int_equal(cli_reqopt(&ro, 'n', NULL), 0);
	assert_int_equal(ro.nheaders, 1);
	assert_string_equal(ro.proxy, "http://h:1");
	assert_string_equal(ro.cacert, "ca.pem");
	assert_string_equal(ro.noproxy, "");
	assert_int_equal(ro.insecure, 1);
	assert_int_equal(ro.ipv, 6);
	assert_int_equal(ro.netrc, 1);
	cli_reqopts_finish(&ro); /* has a password: asks nothing */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_apply),
		cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
