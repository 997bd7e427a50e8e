/* SPDX-License-Identifier: ISC */
/* httpserv_parse.c -- HTTP/1.1 request heads, Range values and paths. */
#include <errno.h>
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpserv_int.h"

/* Does the comma-separated header value v hold token t? */
int
httpserv__has_token(const char *v, const char *t)
{
	size_t tl = strlen(t);

	while (v != NULL && *v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, t, tl) == 0 &&
		    (v[tl] == '\0' || v[tl] == ',' || v[tl] == ' ' ||
		     v[tl] == '\t'))
			return 1;
		v = strchr(v, ',');
	}
	return 0;
}

/* Splits the head (NUL-terminated, in place) into r. 0 or -EINVAL. */
int
httpserv__parse_head(char *head, struct httpserv_req *r)
{
	char *line, *next, *sp;

	memset(r, 0, sizeof(*r));
	line = head;
	next = strchr(line, '\n');
	if (next == NULL)
		return -EINVAL;
	*next++ = '\0';
	if (next - line >= 2 && next[-2] == '\r')
		next[-2] = '\0';
	/* METHOD SP TARGET SP HTTP/1.x */
	r->method = line;
	if ((sp = strchr(line, ' ')) == NULL)
		return -EINVAL;
	*sp++ = '\0';
	r->target = sp;
	if ((sp = strchr(sp, ' ')) == NULL)
		return -EINVAL;
	*sp++ = '\0';
	if (strncmp(sp, "HTTP/1.", 7) != 0 || (sp[7] != '0' && sp[7] != '1') ||
	    sp[8] != '\0' || r->method[0] == '\0' || r->target[0] == '\0')
		return -EINVAL;
	r->minor = sp[7] - '0';
	for (const char *m = r->method; *m; m++)
		if (!isupper((unsigned char)*m))
			return -EINVAL;

	for (line = next; line != NULL && *line != '\0'; line = next) {
		char *colon, *v, *e;

		next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
			if (next - line >= 2 && next[-2] == '\r')
				next[-2] = '\0';
		}
		if (*line == '\0')
			break;
		if (*line == ' ' || *line == '\t')
			return -EINVAL; /* obsolete line folding */
		if ((colon = strchr(line, ':')) == NULL || colon == line)
			return -EINVAL;
		*colon = '\0';
		for (const char *k = line; *k; k++)
			if (*k == ' ' || *k == '\t')
				return -EINVAL;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (strcasecmp(line, "Host") == 0)
			r->host = 1;
		else if (strcasecmp(line, "Range") == 0)
			r->range = v;
		else if (strcasecmp(line, "If-Range") == 0)
			r->if_range = v;
		else if (strcasecmp(line, "Connection") == 0)
			r->connection = v;
		else if (strcasecmp(line, "Transfer-Encoding") == 0)
			r->body = 1;
		else if (strcasecmp(line, "Content-Length") == 0 &&
			 strcmp(v, "0") != 0)
			r->body = 1;
	}
	return 0;
}

/* Parses a decimal count; -1 if it is not one. */
long long
httpserv__parse_count(const char *p, const char **end)
{
	long long v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*end = p;
	return v;
}

/*
 * Reads a Range value against a file of size bytes. Anything but one
 * well-formed byte range is ignored (HTTPSERV_RANGE_NONE: the whole file),
 * as RFC 9110 allows; a well-formed range outside the file is
 * HTTPSERV_RANGE_UNSAT.
 */
int
httpserv__parse_range(const char *v, long long size, long long *first,
		      long long *last)
{
	const char *p;
	long long a = -1, b = -1;

	if (strncasecmp(v, "bytes", 5) != 0)
		return HTTPSERV_RANGE_NONE;
	p = v + 5;
	while (*p == ' ')
		p++;
	if (*p++ != '=')
		return HTTPSERV_RANGE_NONE;
	while (*p == ' ')
		p++;
	/* Several ranges: the whole file instead. */
	if (strchr(p, ',') != NULL)
		return HTTPSERV_RANGE_NONE;
	if (*p == '-') {
		p++;
		if ((b = httpserv__parse_count(p, &p)) < 0)
			return HTTPSERV_RANGE_NONE;
		while (*p == ' ')
			p++;
		if (*p != '\0')
			return HTTPSERV_RANGE_NONE;
		if (b == 0 || size == 0)
			return HTTPSERV_RANGE_UNSAT;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return HTTPSERV_RANGE_OK;
	}
	if ((a = httpserv__parse_count(p, &p)) < 0 || *p++ != '-')
		return HTTPSERV_RANGE_NONE;
	if (*p != '\0' && *p != ' ') {
		if ((b = httpserv__parse_count(p, &p)) < 0 || b < a)
			return HTTPSERV_RANGE_NONE;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return HTTPSERV_RANGE_NONE;
	if (a >= size)
		return HTTPSERV_RANGE_UNSAT;
	*first = a;
	*last = (b < 0 || b >= size) ? size - 1 : b;
	return HTTPSERV_RANGE_OK;
}

/* Decodes %XX escapes of a path into out (size len). 0 or -EINVAL. */
int
httpserv__path_decode(const char *in, size_t inlen, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		int ch = (unsigned char)in[i];

		if (ch == '%') {
			char hex[3] = {0};

			if (i + 2 >= inlen)
				return -EINVAL;
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			if (!isxdigit((unsigned char)hex[0]) ||
			    !isxdigit((unsigned char)hex[1]))
				return -EINVAL;
			ch = (int)strtol(hex, NULL, 16);
			i += 2;
		}
		if (ch == 0 || o + 1 >= len)
			return -EINVAL;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Does the decoded path hold a ".." segment? */
int
httpserv__path_escapes(const char *p)
{
	for (const char *seg = p; seg != NULL; seg = strchr(seg, '/')) {
		if (*seg == '/')
			seg++;
		if (seg[0] == '.' && seg[1] == '.' &&
		    (seg[2] == '/' || seg[2] == '\0'))
			return 1;
	}
	return 0;
}
