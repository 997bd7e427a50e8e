/* SPDX-License-Identifier: ISC */
/* fuzz_disposition.c -- Content-Disposition to file name: the name obeys
 * every rule urlname.h states, or there is none. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urlname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value, *name;
	size_t len;

	if ((value = malloc(size + 1)) == NULL)
		return 0;
	memcpy(value, data, size);
	value[size] = '\0';
	if ((name = urlname_from_disposition(value)) == NULL) {
		if (errno != ENOENT)
			abort(); /* only "no name" may fail: inputs are small */
		free(value);
		return 0;
	}
	len = strlen(name);
	if (len == 0 || len > URLNAME_MAX || name[0] == '.')
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			abort();
	}
	free(name);
	free(value);
	return 0;
}
