/* SPDX-License-Identifier: ISC */
/* fuzz_urllist.c -- aria2c-style download lists, and what their entries
 * may hold. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urllist.h"
#include "urlname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_bad(unsigned long line, const char *why, void *arg)
{
	unsigned long *nbad = arg;

	(*nbad)++;
	if (line == 0 || strlen(why) > 160)
		abort();
	for (const char *p = why; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Whether the folder d stays inside the one it is made in. */
static int
dir_ok(const char *d)
{
	size_t n;

	if (d[0] == '\0' || d[0] == '/' || has_control(d))
		return 0;
	for (; *d != '\0'; d += n + (d[n] == '/')) {
		n = strcspn(d, "/");
		if (n == 0 || d[0] == '.' || n > URLLIST_NAME_MAX)
			return 0;
	}
	return d[-1] != '/';
}

static void
check(const struct urllist_entry *e, unsigned long prev)
{
	if (e->nurls < 1 || e->line <= prev)
		abort();
	for (int i = 0; i < e->nurls; i++)
		if (!urlname_is_http(e->urls[i]) ||
		    strlen(e->urls[i]) > URLLIST_URL_MAX)
			abort();
	if (e->out != NULL &&
	    (e->out[0] == '\0' || e->out[0] == '.' ||
	     strchr(e->out, '/') != NULL || has_control(e->out) ||
	     strlen(e->out) > URLLIST_NAME_MAX))
		abort();
	if (e->dir != NULL && !dir_ok(e->dir))
		abort();
	for (int i = 0; i < e->nheaders; i++)
		if (strchr(e->headers[i], ':') == NULL ||
		    has_control(e->headers[i]))
			abort();
	if (e->split < 0 || e->split > URLLIST_SPLIT_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct urllist *l = NULL;
	unsigned long nbad = 0, prev = 0;
	FILE *in;
	long rc;

	if (size == 0 || (in = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	if ((l = urllist_new()) == NULL)
		goto out;
	if ((rc = urllist_read(l, in, on_bad, &nbad)) < 0)
		goto out;
	if ((unsigned long)rc != nbad)
		abort();
	for (size_t i = 0; i < urllist_count(l); i++) {
		check(urllist_entry(l, i), prev);
		prev = urllist_entry(l, i)->line;
	}
out:
	urllist_free(l);
	fclose(in);
	return 0;
}
