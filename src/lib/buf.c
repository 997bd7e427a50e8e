/* SPDX-License-Identifier: ISC */
/* buf.c -- growable byte buffer: amortised O(1) append and consume. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_MIN 256

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (n > (size_t)-1 / 2 - b->len)
		return -ENOMEM;
	if (b->cap - b->off - b->len >= n)
		return 0;
	want = b->len + n;
	/* Sliding the pending bytes down is cheaper than growing when the
	 * consumed prefix alone would make room. */
	if (want <= b->cap && b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	cap = b->cap ? b->cap : BUF_MIN;
	while (cap < want)
		cap *= 2;
	if (b->off > 0 && b->len > 0)
		memmove(b->data, b->data + b->off, b->len);
	b->off = 0;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	if ((rc = buf_reserve(b, n)) < 0)
		return rc;
	memcpy(buf_tail(b), p, n);
	b->len += n;
	return 0;
}

void
buf_commit(struct buf *b, size_t n)
{
	if (n > buf_room(b))
		n = buf_room(b);
	b->len += n;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		/* Empty: start over at the front so the room is contiguous. */
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}
