/* SPDX-License-Identifier: ISC */
/* fuzz_accel_reply.c -- the accelerator's reply header lines (status,
 * Content-Range, Content-Length, ETag, Last-Modified, Retry-After), fed
 * one line at a time as libcurl does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct accel *a;
	struct accel_conn *c;

	/*
	 * Only what every version of struct accel_conn has is touched here: it
	 * starts zeroed and belongs to a zeroed download, so the target
	 * keeps working as the fields the headers fill in change. Both on
	 * the heap, where reads and writes past them are caught.
	 */
	a = calloc(1, sizeof(*a));
	c = calloc(1, sizeof(*c));
	if (a == NULL || c == NULL)
		goto out;
	/* The validators' buffers, as the engine makes them. */
	c->etag = calloc(1, ACCEL_VALIDATOR_MAX + 1);
	c->lastmod = calloc(1, ACCEL_VALIDATOR_MAX + 1);
	if (c->etag == NULL || c->lastmod == NULL)
		goto out;
	c->a = a;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len =
			nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		/* A buffer of the line alone: reading past it is caught. */
		char *line = malloc(len);

		if (line == NULL)
			break;
		memcpy(line, p, len);
		/* Anything but len refuses the reply: libcurl would stop. */
		if (accel__on_header(line, 1, len, c) != len) {
			free(line);
			break;
		}
		free(line);
		p += len;
	}
out:
	if (c != NULL) {
		free(c->etag);
		free(c->lastmod);
	}
	free(c);
	free(a);
	return 0;
}
