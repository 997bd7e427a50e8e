/* SPDX-License-Identifier: ISC */
/* fuzz_urlname.c -- URL to file name: checks every promise urlname.h makes
 * about the name, not only that nothing crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "urlname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url, *name;
	size_t len;

	if ((url = malloc(size + 1)) == NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	if ((name = urlname_from_url(url)) == NULL)
		abort(); /* only ENOMEM may fail, and inputs are small */
	len = strlen(name);
	if (len == 0 || len > URLNAME_MAX)
		abort();
	if (name[0] == '.')
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			abort();
	}
	free(name);
	(void)urlname_is_http(url);
	free(url);
	return 0;
}
