/* SPDX-License-Identifier: ISC */
/* test_cli.c -- command-line value parsing. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "watchdog.h"

static void
test_parse_long(void **state)
{
	long long v = -1;

	(void)state;
	assert_int_equal(cli_parse_long("10", 1, 100, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(cli_parse_long("0", 1, 100, &v), -ERANGE);
	assert_int_equal(cli_parse_long("101", 1, 100, &v), -ERANGE);
	assert_int_equal(cli_parse_long("-5", 1, 100, &v), -ERANGE);
	assert_int_equal(cli_parse_long("99999999999999999999", 1, 100, &v),
			 -ERANGE);
	assert_int_equal(cli_parse_long("", 1, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long("abc", 1, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long("12x", 1, 100, &v), -EINVAL);
	assert_int_equal(cli_parse_long("1.5", 1, 100, &v), -EINVAL);
	assert_int_equal(v, 10); /* untouched by the failures */
}

static void
test_parse_size(void **state)
{
	long long v = 0;

	(void)state;
	assert_int_equal(cli_parse_size("512", 0, 1LL << 40, &v), 0);
	assert_int_equal(v, 512);
	assert_int_equal(cli_parse_size("64k", 0, 1LL << 40, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(cli_parse_size("2M", 0, 1LL << 40, &v), 0);
	assert_int_equal(v, 2 * 1048576);
	assert_int_equal(cli_parse_size("1.5M", 0, 1LL << 40, &v), 0);
	assert_int_equal(v, 1572864);
	assert_int_equal(cli_parse_size("2MiB/s", 0, 1LL << 40, &v), 0);
	assert_int_equal(v, 2 * 1048576);
	assert_int_equal(cli_parse_size("1G", 0, 1024, &v), -ERANGE);
	assert_int_equal(cli_parse_size("2X", 0, 1LL << 40, &v), -EINVAL);
	assert_int_equal(cli_parse_size("-1", 0, 1LL << 40, &v), -EINVAL);
}

static void
test_parse_seconds(void **state)
{
	double v = 0;

	(void)state;
	assert_int_equal(cli_parse_seconds("10", 3600, &v), 0);
	assert_true(v == 10.0);
	assert_int_equal(cli_parse_seconds("0.25", 3600, &v), 0);
	assert_true(v == 0.25);
	assert_int_equal(cli_parse_seconds("nan", 3600, &v), -EINVAL);
	assert_int_equal(cli_parse_seconds("5000", 3600, &v), -ERANGE);
	assert_int_equal(cli_parse_seconds("1s", 3600, &v), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_long),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_seconds),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
