/* SPDX-License-Identifier: ISC */
/* fuzz_expdata_json.c -- an -n auto run's --json events, line by line,
 * then the row experiments records from them. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expdata.h"

#define URL "http://127.0.0.1:8/f"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	struct expdata_json j;
	struct expdata_row r, back;
	const char *why;
	char line[128];

	expdata_json_init(&j, URL);
	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		why = NULL;
		if (expdata_json_line(&j, p, (size_t)(nl - p), &why) < 0) {
			if (why == NULL)
				abort();
			return 0;
		}
	}
	why = NULL;
	if (expdata_json_row(&j, &r, &why) < 0) {
		if (why == NULL)
			abort();
		return 0;
	}
	/* The ranges expdata.h promises, and a line plot reads back. */
	if (r.threads < 1 || r.threads > EXPDATA_JSON_MAX_CONNS ||
	    r.bytes < 0 || !isfinite(r.seconds) || r.seconds < 0)
		abort();
	snprintf(line, sizeof(line), "%s %d %lld %.3f", URL, r.threads, r.bytes,
		 r.seconds);
	if (expdata_parse_line(line, &back, &why) != 1 ||
	    back.threads != r.threads || back.bytes != r.bytes)
		abort();
	return 0;
}
