/* SPDX-License-Identifier: ISC */
/* fuzz_expdata.c -- experiment data lines ("URL THREADS BYTES SECONDS"),
 * then the box statistics plot draws from them. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct expdata d = {0};
	struct expdata_stat st[8];
	char *text, *line, *next, buf[32];
	size_t nt;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; line != NULL; line = next) {
		struct expdata_row r;
		const char *why = NULL;
		int k;

		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		k = expdata_parse_line(line, &r, &why);
		if (k < 0 && why == NULL)
			abort();
		if (k != 1)
			continue;
		/* The ranges expdata.h promises. */
		if (r.threads < 1 || r.bytes < 0 || !isfinite(r.seconds) ||
		    r.seconds < 0)
			abort();
		if (expdata_add(&d, &r) < 0)
			break;
	}
	nt = expdata_stats(&d, st, sizeof(st) / sizeof(st[0]));
	for (size_t i = 0; i < nt && i < sizeof(st) / sizeof(st[0]); i++) {
		if (st[i].n == 0 || st[i].min > st[i].median ||
		    st[i].median > st[i].max || st[i].lo > st[i].hi)
			abort();
		expdata_size_str(st[i].bytes, buf, sizeof(buf));
	}
	expdata_free(&d);
	free(text);
	return 0;
}
