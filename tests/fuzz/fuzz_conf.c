/* SPDX-License-Identifier: ISC */
/* fuzz_conf.c -- defaults files: every option handed over has a name of
 * the allowed characters and a value without a line break, and a refusal
 * names a line of the text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_conf {
	unsigned long lines; /* lines in the text */
	unsigned long last;  /* line of the last option */
};

static int
on_option(unsigned long line, const char *name, char *value, const char **why,
	  void *arg)
{
	struct fuzz_conf *x = arg;
	size_t n = strlen(name);

	(void)why;
	if (n == 0 || n > CONF_NAME_MAX || name[0] == '-' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
		abort();
	if (value != NULL && strpbrk(value, "\n") != NULL)
		abort();
	if (line <= x->last || line > x->lines)
		abort();
	x->last = line;
	/* A program may change a value in place (a wiped password). */
	if (value != NULL && value[0] != '\0')
		value[0] = 'x';
	return line % 7 == 0 && n == 3 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_conf x = {1, 0};
	unsigned long line;
	const char *why;
	char *text;
	int rc;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < size; i++)
		x.lines += data[i] == '\n';
	rc = conf_parse(text, size, on_option, &x, &line, &why);
	if (rc < 0 && (line < 1 || line > x.lines))
		abort();
	if (rc == 0 && line != 0)
		abort();
	free(text);
	return 0;
}
