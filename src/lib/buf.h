/* SPDX-License-Identifier: ISC */
/* buf.h -- growable byte buffer with a consumed prefix (a FIFO of bytes). */
#ifndef NT_BUF_H
#define NT_BUF_H

#include <stddef.h>

/*
 * A small value type, caller-allocated (often inside another struct).
 * Bytes live in data[off, off + len). Zero-initialised (BUF_INIT or
 * buf_init) it holds nothing and owns no memory, so an idle client costs
 * no heap at all.
 */
struct buf {
	char *data;
	size_t off; /* bytes already consumed at the front */
	size_t len; /* bytes pending after off */
	size_t cap; /* bytes allocated */
};

#define BUF_INIT                                                               \
	{                                                                      \
		NULL, 0, 0, 0                                                  \
	}

void buf_init(struct buf *b);

/* Releases the memory; the buffer is empty and usable again. */
void buf_release(struct buf *b);

/*
 * Makes room for n more bytes after the pending ones, moving them to the
 * front or growing the allocation. Returns 0 or -ENOMEM (buffer unchanged).
 */
int buf_reserve(struct buf *b, size_t n);

/* Appends n bytes. Returns 0 or -ENOMEM (nothing appended). */
int buf_append(struct buf *b, const void *p, size_t n);

/* Drops n bytes (at most len) from the front. */
void buf_consume(struct buf *b, size_t n);

/* The pending bytes and their count. */
static inline char *
buf_data(const struct buf *b)
{
	return b->data + b->off;
}

static inline size_t
buf_len(const struct buf *b)
{
	return b->len;
}

/* Where up to buf_room() new bytes may be written, then buf_commit(). */
static inline char *
buf_tail(const struct buf *b)
{
	return b->data + b->off + b->len;
}

static inline size_t
buf_room(const struct buf *b)
{
	return b->cap - b->off - b->len;
}

/* Marks n bytes written at buf_tail() as pending (n <= buf_room()). */
void buf_commit(struct buf *b, size_t n);

#endif
