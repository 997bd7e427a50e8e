/* SPDX-License-Identifier: ISC */
/* fuzz_batch_list.c -- download lists as download and threaded-download
 * read them, then the paths reserved for them. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "display.h"
#include "urlname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_bad(unsigned long line, const char *text, void *arg)
{
	/* Sizes at the edges of what display_text() accepts. */
	static const size_t sizes[] = {4, 5, 16, 200};
	unsigned long *nbad = arg;

	(*nbad)++;
	if (line == 0)
		abort();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char out[200], again[200];

		display_text(text, out, sizes[i]);
		if (strlen(out) >= sizes[i])
			abort();
		for (const char *p = out; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		/* What is shown is shown as it is: nothing left to filter. */
		display_text(out, again, sizeof(again));
		if (strcmp(out, again) != 0)
			abort();
	}
}

/* A relative path of plain components: none empty, none starting with a
 * dot (so no "." or ".."). */
static int
inside(const char *path)
{
	const char *p = path;

	if (path == NULL || *path == '\0')
		return 0;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || *p == '.')
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch *b = NULL;
	unsigned long nbad = 0;
	char **names = NULL;
	FILE *in;
	long rc;
	size_t n;

	if (size == 0 || (in = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	if ((b = batch_new()) == NULL)
		goto out;
	rc = batch_read(b, in, on_bad, &nbad);
	if (rc < 0)
		goto out;
	if ((unsigned long)rc != nbad)
		abort();
	if (batch_reserve(b) < 0)
		goto out;
	n = batch_count(b);
	if (n > 0 && (names = malloc(n * sizeof(*names))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct batch_item *it = batch_item(b, i);

		/* Only URLs are kept, and each gets a path of its own that
		 * stays inside the folder: a name without '/', in a dir= of
		 * plain components. Names may repeat in different folders. */
		if (!urlname_is_http(it->url) || it->name == NULL ||
		    it->name[0] == '\0' || it->name[0] == '.' ||
		    strchr(it->name, '/') != NULL || !inside(it->path))
			abort();
		names[i] = it->path;
	}
	if (n > 1) {
		qsort(names, n, sizeof(*names), cmp_str);
		for (size_t i = 1; i < n; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				abort();
	}
out:
	free(names);
	batch_free(b);
	fclose(in);
	return 0;
}
