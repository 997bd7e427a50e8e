/* SPDX-License-Identifier: ISC */
/* conf.c -- splits a defaults file into options; what they mean is the
 * program's business. */
#include <errno.h>
#include <string.h>

#include "conf.h"

static int
blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int
namechar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* s without the blanks around it, cut in place. */
static char *
trim(char *s)
{
	char *e = s + strlen(s);

	while (blank((unsigned char)*s))
		s++;
	while (e > s && blank((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return s;
}

/* A value, trimmed; one that starts with a double quote must end with
 * one, and both go. Returns it, or NULL with *why set. */
static char *
unquote(char *v, const char **why)
{
	size_t n;

	v = trim(v);
	n = strlen(v);
	if (n > 0 && v[0] == '"') {
		if (n < 2 || v[n - 1] != '"') {
			*why = "unterminated quote";
			return NULL;
		}
		v[n - 1] = '\0';
		v++;
	}
	return v;
}

/* One line, NUL-terminated, into its name and value (NULL for none), or
 * *name NULL for a line with no option. Returns 0, or -EINVAL with *why
 * set. */
static int
parse_line(char *s, char **name, char **value, const char **why)
{
	char *eq, *n;

	*name = *value = NULL;
	s = trim(s);
	if (*s == '\0' || *s == '#')
		return 0;
	if ((eq = strchr(s, '=')) != NULL) {
		*eq = '\0';
		if ((*value = unquote(eq + 1, why)) == NULL)
			return -EINVAL;
	}
	n = trim(s);
	if (*n == '\0') {
		*why = "no option name before '='";
		return -EINVAL;
	}
	for (const char *p = n; *p != '\0'; p++)
		if (!namechar((unsigned char)*p)) {
			*why = strncmp(n, "--", 2) == 0 ?
				       "an option name without its \"--\" is "
				       "wanted" :
				       "not an option name (want: name = "
				       "value)";
			return -EINVAL;
		}
	if (strlen(n) > CONF_NAME_MAX || n[0] == '-') {
		*why = "not an option name (want: name = value)";
		return -EINVAL;
	}
	*name = n;
	return 0;
}

int
conf_parse(char *text, size_t len, conf_option_cb *cb, void *arg,
	   unsigned long *errline, const char **why)
{
	char *p = text, *end = text + len, *name, *value;
	unsigned long line = 0;
	int rc = 0;

	*errline = 0;
	*why = NULL;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	if (memchr(text, '\0', len) != NULL) {
		const char *z = memchr(text, '\0', len);

		line = 0;
		for (const char *q = text; q < z; q++)
			line += *q == '\n';
		*errline = line + 1;
		*why = "a NUL byte";
		return -EINVAL;
	}
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			nl = end;
		line++;
		*nl = '\0'; /* at end, the text's own NUL */
		if ((rc = parse_line(p, &name, &value, why)) < 0 ||
		    (name != NULL &&
		     (rc = cb(line, name, value, why, arg)) < 0)) {
			*errline = line;
			return rc;
		}
		p = nl + 1;
	}
	return 0;
}
