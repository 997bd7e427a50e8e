/* SPDX-License-Identifier: ISC */
/* test_progress.c -- the progress bar's text and its redraw throttle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "progress.h"
#include "watchdog.h"

static void
test_format(void **state)
{
	char buf[160];

	(void)state;
	progress_format(buf, sizeof(buf), 50 << 20, 100 << 20, 10 << 20, 8);
	assert_string_equal(buf, " 50% [##########..........] 50.0 MiB / "
				 "100.0 MiB  10.0 MiB/s  ETA 0:00:05  8 conns");
	progress_format(buf, sizeof(buf), 0, 1000, -1, 1);
	assert_string_equal(buf, "  0% [....................] 0 B / 1000 B  "
				 "--  ETA --:--:--  1 conn");
	progress_format(buf, sizeof(buf), 3 << 20, -1, 1 << 20, 1);
	assert_string_equal(buf, "     [....................] 3.0 MiB / ?  "
				 "1.0 MiB/s  1 conn");
	progress_format(buf, sizeof(buf), 0, 0, -1, 0);
	assert_non_null(strstr(buf, "100%"));
	/* A short buffer is cut, never overrun. */
	progress_format(buf, 10, 50 << 20, 100 << 20, 10 << 20, 8);
	assert_int_equal(strlen(buf), 9);
}

static void
test_draws(void **state)
{
	struct progress *p;
	char out[4096];
	int fds[2];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	p = progress_new(fds[1]);
	assert_non_null(p);
	progress_update(p, 0, 1000, 1, 0.0);
	progress_update(p, 100, 1000, 1, 0.05); /* too soon: not drawn */
	progress_update(p, 500, 1000, 2, 0.5);
	progress_update(p, 1000, 1000, 2, 0.55); /* the end: drawn */
	progress_end(p);
	progress_free(p);
	progress_free(NULL);
	close(fds[1]);
	n = read(fds[0], out, sizeof(out) - 1);
	close(fds[0]);
	assert_true(n > 0);
	out[n] = '\0';
	assert_null(strstr(out, " 10%"));
	assert_non_null(strstr(out, "\r 50%"));
	assert_non_null(strstr(out, "\r100%"));
	assert_int_equal(out[n - 1], '\n');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_draws),
	};

	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
