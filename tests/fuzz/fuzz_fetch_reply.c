/* SPDX-License-Identifier: ISC */
/* fuzz_fetch_reply.c -- the batch tools' reply header lines: status line,
 * reason phrase and Retry-After, fed one line at a time as libcurl does. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "display.h"
#include "fetch_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	double retry_after = -1;
	char reason[96] = "", again[96];

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len =
			nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		/* A buffer of the line alone: reading past it is caught. */
		char *line = malloc(len);

		if (line == NULL)
			return 0;
		memcpy(line, p, len);
		fetch__parse_header(line, len, &retry_after, reason,
				    sizeof(reason));
		free(line);
		p += len;
		/* Messages print the reason: nothing in it a terminal acts
		 * on, so showing it again changes nothing. */
		if (strlen(reason) >= sizeof(reason))
			abort();
		for (const char *r = reason; *r != '\0'; r++)
			if ((unsigned char)*r < 0x20 || *r == 0x7f)
				abort();
		display_text(reason, again, sizeof(again));
		if (strcmp(reason, again) != 0)
			abort();
		if (isnan(retry_after) ||
		    (retry_after < 0 && retry_after != -1))
			abort();
	}
	return 0;
}
