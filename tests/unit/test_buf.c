/* SPDX-License-Identifier: ISC */
/* test_buf.c -- the growable byte buffer: FIFO order across growth. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "watchdog.h"

static void
test_buf_empty(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_append(&b, "x", 0), 0);
	assert_null(b.data); /* an empty append allocates nothing */
	buf_consume(&b, 10);
	assert_int_equal(buf_len(&b), 0);
	buf_release(&b);
	buf_release(&b);
}

static void
test_buf_fifo(void **state)
{
	struct buf b;
	char expect[100000], got[100000];
	size_t in = 0, out = 0;

	(void)state;
	buf_init(&b);
	for (size_t i = 0; i < sizeof(expect); i++)
		expect[i] = (char)(i * 31 + i / 7);
	/* Uneven appends and consumes exercise both sliding and growing. */
	while (out < sizeof(expect)) {
		size_t n = (in * 7 + 13) % 3001 + 1;
		if (in + n > sizeof(expect))
			n = sizeof(expect) - in;
		assert_int_equal(buf_append(&b, expect + in, n), 0);
		in += n;
		size_t m = (out * 5 + 7) % 2500 + 1;
		if (m > buf_len(&b))
			m = buf_len(&b);
		if (in == sizeof(expect))
			m = buf_len(&b);
		memcpy(got + out, buf_data(&b), m);
		buf_consume(&b, m);
		out += m;
		assert_int_equal(buf_len(&b), in - out);
	}
	assert_memory_equal(got, expect, sizeof(expect));
	buf_release(&b);
	assert_null(b.data);
}

static void
test_buf_tail_commit(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_int_equal(buf_reserve(&b, 10), 0);
	assert_true(buf_room(&b) >= 10);
	memcpy(buf_tail(&b), "hello", 5);
	buf_commit(&b, 5);
	assert_int_equal(buf_len(&b), 5);
	assert_memory_equal(buf_data(&b), "hello", 5);
	buf_consume(&b, 2);
	assert_memory_equal(buf_data(&b), "llo", 3);
	/* Room made by sliding down, not by growing. */
	size_t cap = b.cap;
	assert_int_equal(buf_reserve(&b, cap - 3), 0);
	assert_int_equal(b.cap, cap);
	assert_memory_equal(buf_data(&b), "llo", 3);
	assert_int_equal(buf_reserve(&b, (size_t)-1), -ENOMEM);
	assert_memory_equal(buf_data(&b), "llo", 3);
	buf_consume(&b, 3);
	assert_int_equal(b.off, 0); /* empty starts over at the front */
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_empty),
		cmocka_unit_test(test_buf_fifo),
		cmocka_unit_test(test_buf_tail_commit),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
