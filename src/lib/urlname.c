/* SPDX-License-Identifier: ISC */
/* urlname.c -- turns URLs into local file names no URL can abuse. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "urlname.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Where the path starts: after "scheme://authority", or s itself. */
static const char *
path_start(const char *s)
{
	const char *p = strstr(s, "://");

	if (p == NULL || strcspn(s, "/?#") < (size_t)(p - s))
		return s;
	p += 3;
	return p + strcspn(p, "/?#");
}

/*
 * Makes the name in out (NUL-terminated) safe in place: '/', '\\' and
 * control characters become '_', leading dots go, and the length is cut
 * to URLNAME_MAX bytes on a UTF-8 character boundary. Returns its length.
 */
static size_t
make_safe(char *out)
{
	size_t n, len;

	for (char *o = out; *o != '\0'; o++) {
		unsigned char c = (unsigned char)*o;

		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			*o = '_';
	}
	/* No leading dots: nothing hidden, no "." or "..". */
	n = strspn(out, ".");
	memmove(out, out + n, strlen(out + n) + 1);
	len = strlen(out);
	if (len > URLNAME_MAX) {
		len = URLNAME_MAX;
		/* Back up over UTF-8 continuation bytes to a character
		 * start. */
		while (len > 0 && ((unsigned char)out[len] & 0xc0) == 0x80)
			len--;
		out[len] = '\0';
	}
	return len;
}

/*
 * Percent-decodes s (n bytes) into out, which has room for n + 1. A '%'
 * without two hex digits is kept as it is when strict is 0, and makes
 * the call fail when it is 1. Returns 0, or -EINVAL. A decoded NUL
 * becomes a control character make_safe() replaces.
 */
static int
pct_decode(const char *s, size_t n, char *out, int strict)
{
	const char *end = s + n;

	for (const char *p = s; p < end; p++) {
		int c = (unsigned char)*p;

		if (c == '%' && end - p >= 3 && hexval(p[1]) >= 0 &&
		    hexval(p[2]) >= 0) {
			c = hexval(p[1]) * 16 + hexval(p[2]);
			p += 2;
		} else if (c == '%' && strict) {
			return -EINVAL;
		}
		*out++ = (char)(c == 0 ? 0x01 : c);
	}
	*out = '\0';
	return 0;
}

char *
urlname_from_url(const char *url)
{
	const char *path, *end, *seg;
	char *out;

	path = path_start(url);
	end = path + strcspn(path, "?#");
	seg = end;
	while (seg > path && seg[-1] != '/')
		seg--;
	if ((out = malloc((size_t)(end - seg) + sizeof("index.html"))) == NULL)
		return NULL;
	pct_decode(seg, (size_t)(end - seg), out, 0);
	if (make_safe(out) == 0)
		strcpy(out, "index.html");
	return out;
}

int
urlname_is_http(const char *s)
{
	const char *host;
	size_t hl;

	if (strncasecmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return 0;
	hl = strcspn(host, "/?#");
	/* Drop userinfo, then require something besides a port. */
	for (size_t i = hl; i > 0; i--)
		if (host[i - 1] == '@') {
			host += i;
			hl -= i;
			break;
		}
	return hl > 0 && host[0] != ':';
}

int
urlname_userinfo(const char *url, size_t *off, size_t *len)
{
	const char *p = strstr(url, "://"), *at = NULL;
	size_t auth;

	if (p == NULL || strcspn(url, "/?#") < (size_t)(p - url))
		return 0;
	p += 3;
	auth = strcspn(p, "/?#");
	/* The last '@' of the authority ends the user information. */
	for (size_t i = 0; i < auth; i++)
		if (p[i] == '@')
			at = p + i;
	if (at == NULL)
		return 0;
	*off = (size_t)(p - url);
	*len = (size_t)(at - p) + 1;
	return 1;
}

char *
urlname_strip_userinfo(const char *url)
{
	size_t n = urlname_strip_userinfo_to(url, NULL, 0);
	char *out = malloc(n + 1);

	if (out != NULL)
		urlname_strip_userinfo_to(url, out, n + 1);
	return out;
}

size_t
urlname_strip_userinfo_to(const char *url, char *out, size_t size)
{
	size_t off, len, n = strlen(url), head, tail;

	if (!urlname_userinfo(url, &off, &len))
		off = len = 0;
	if (size == 0)
		return n - len;
	head = off < size - 1 ? off : size - 1;
	tail = n - off - len < size - 1 - head ? n - off - len :
						 size - 1 - head;
	memcpy(out, url, head);
	memcpy(out + head, url + off + len, tail);
	out[head + tail] = '\0';
	return n - len;
}

/* RFC 9110 token characters. */
static int
tokchar(int c)
{
	return c > 0x20 && c < 0x7f && strchr("()<>@,;:\\\"/[]?={}", c) == NULL;
}

static const char *
skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * One parameter value at p, a token or a quoted string, unquoted into a
 * new string at *val (caller frees). Returns where the value ends, or
 * NULL: an unterminated quote (*val NULL), or ENOMEM (*val NULL too, and
 * errno ENOMEM).
 */
static const char *
param_value(const char *p, char **val)
{
	size_t n = 0;
	char *v;

	*val = NULL;
	if ((v = malloc(strlen(p) + 1)) == NULL)
		return NULL;
	if (*p != '"') {
		while (tokchar((unsigned char)*p) || (*p & 0x80))
			v[n++] = *p++;
		v[n] = '\0';
		*val = v;
		return p;
	}
	for (p++; *p != '"'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		if (*p == '\0') {
			free(v);
			errno = EINVAL;
			return NULL;
		}
		v[n++] = *p;
	}
	v[n] = '\0';
	*val = v;
	return p + 1;
}

/*
 * An RFC 8187 ext-value, "UTF-8'lang'pct-encoded" (or ISO-8859-1, turned
 * into UTF-8), decoded into a new string at *out (caller frees). Returns
 * 0, -EINVAL for another charset, a missing quote or a bad percent
 * escape, or -ENOMEM.
 */
static int
ext_value(const char *v, char **out)
{
	const char *q1 = strchr(v, '\''), *q2;
	char *dec, *o;
	int latin1;

	*out = NULL;
	if (q1 == NULL || (q2 = strchr(q1 + 1, '\'')) == NULL)
		return -EINVAL;
	if (q1 - v == 5 && strncasecmp(v, "UTF-8", 5) == 0)
		latin1 = 0;
	else if (q1 - v == 10 && strncasecmp(v, "ISO-8859-1", 10) == 0)
		latin1 = 1;
	else
		return -EINVAL;
	q2++;
	/* Each byte may become two in UTF-8. */
	if ((dec = malloc(strlen(q2) + 1)) == NULL ||
	    (o = *out = malloc(2 * strlen(q2) + 1)) == NULL) {
		free(dec);
		return -ENOMEM;
	}
	if (pct_decode(q2, strlen(q2), dec, 1) < 0) {
		free(dec);
		free(*out);
		*out = NULL;
		return -EINVAL;
	}
	for (const char *p = dec; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x80 || !latin1) {
			*o++ = (char)c;
		} else {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*o = '\0';
	free(dec);
	return 0;
}

/* The last '/' or '\\' separated part of v, made safe, moved to its start.
 * Returns its length (0: nothing usable). */
static size_t
finish_name(char *v)
{
	char *base = v;

	for (char *p = v; *p != '\0'; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	memmove(v, base, strlen(base) + 1);
	return make_safe(v);
}

/* Keeps v as *slot unless one is there already; frees what is not kept. */
static void
keep_first(char **slot, char *v)
{
	if (*slot == NULL && v != NULL && finish_name(v) > 0)
		*slot = v;
	else
		free(v);
}

char *
urlname_from_disposition(const char *value)
{
	const char *p = value + strcspn(value, ";");
	char *plain = NULL, *ext = NULL, *v;

	while (*p == ';') {
		const char *name = skip_ws(p + 1);
		size_t nlen = 0;
		int star;

		while (tokchar((unsigned char)name[nlen]))
			nlen++;
		p = skip_ws(name + nlen);
		if (nlen == 0 || *p != '=')
			goto next;
		if ((p = param_value(skip_ws(p + 1), &v)) == NULL) {
			if (errno == ENOMEM)
				goto nomem;
			break; /* an unterminated quote: the rest is lost */
		}
		star = nlen == 9 && strncasecmp(name, "filename*", 9) == 0;
		if (star) {
			char *dec;
			int rc = ext_value(v, &dec);

			free(v);
			if (rc == -ENOMEM)
				goto nomem;
			keep_first(&ext, dec);
		} else if (nlen == 8 && strncasecmp(name, "filename", 8) == 0)
			keep_first(&plain, v);
		else
			free(v);
	next:
		p += strcspn(p, ";");
	}
	if (ext != NULL) {
		free(plain);
		return ext;
	}
	if (plain == NULL)
		errno = ENOENT;
	return plain;
nomem:
	free(plain);
	free(ext);
	errno = ENOMEM;
	return NULL;
}

char *
urlname_from_header(const char *v, size_t n)
{
	char *s = strndup(v, n), *name;

	if (s == NULL)
		return NULL;
	s[strcspn(s, "\r\n")] = '\0';
	name = urlname_from_disposition(s);
	free(s);
	return name;
}
