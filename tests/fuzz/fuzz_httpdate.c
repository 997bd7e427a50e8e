/* SPDX-License-Identifier: ISC */
/* fuzz_httpdate.c -- HTTP dates: httpdate_parse() gives what libcurl's
 * parser gives for every input, which is what httpdate.h promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "httpdate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size > 256 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (httpdate_parse(s) != curl_getdate(s, NULL))
		abort();
	free(s);
	return 0;
}
