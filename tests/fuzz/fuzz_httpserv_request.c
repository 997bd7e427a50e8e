/* SPDX-License-Identifier: ISC */
/* fuzz_httpserv_request.c -- the test server's request heads, fault specs,
 * paths and Range values, as httpserv__serve() meets them. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpserv_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_range(const char *v)
{
	/* Sizes at the edges: empty, one byte, a page, the largest. */
	static const long long sizes[] = {0, 1, 4096, LLONG_MAX};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		long long first = -7, last = -7;
		int rc = httpserv__parse_range(v, sizes[i], &first, &last);

		/* A range served must lie inside the file. */
		if (rc == HTTPSERV_RANGE_OK &&
		    (first < 0 || first > last || last >= sizes[i]))
			abort();
		if (rc != HTTPSERV_RANGE_OK && rc != HTTPSERV_RANGE_NONE &&
		    rc != HTTPSERV_RANGE_UNSAT)
			abort();
	}
}

static int
has_dotdot(const char *p)
{
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

static void
check_target(const char *target)
{
	const char *p = target, *spec = NULL, *end;
	size_t speclen = 0, plen;
	char path[4096];
	struct httpserv_fault f;

	if (*p != '/')
		return;
	plen = strcspn(p, "?#");
	if (strncmp(p, "/fault/", 7) == 0 && plen >= 7) {
		spec = p + 7;
		if ((end = memchr(spec, '/', plen - 7)) == NULL)
			return;
		speclen = (size_t)(end - spec);
		if (httpserv__fault_parse(spec, speclen, &f) < 0)
			return;
		plen -= (size_t)(end - p);
		p = end;
		if (f.redirect > 0) {
			char loc[1100];

			httpserv__redirect_location(spec, speclen,
						    f.redirect - 1, p, loc,
						    sizeof(loc));
			if (strlen(loc) >= sizeof(loc))
				abort();
		}
	}
	if (httpserv__path_decode(p + 1, plen - 1, path, sizeof(path) - 16) < 0)
		return;
	if (strlen(path) >= sizeof(path) - 16)
		abort();
	/* What is served must stay below the root: a ".." segment anywhere
	 * is refused. */
	if (!httpserv__path_escapes(path) && has_dotdot(path))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpserv_req r;
	char *head;

	/* The server reads at most REQ_MAX bytes of head, NUL-terminated. */
	if (size > REQ_MAX)
		size = REQ_MAX;
	if ((head = malloc(size + 1)) == NULL)
		return 0;
	memcpy(head, data, size);
	head[size] = '\0';
	if (httpserv__parse_head(head, &r) == 0) {
		if (r.minor != 0 && r.minor != 1)
			abort();
		(void)httpserv__has_token(r.connection, "close");
		(void)httpserv__has_token(r.connection, "keep-alive");
		check_target(r.target);
		if (r.range != NULL)
			check_range(r.range);
	}
	free(head);
	return 0;
}
