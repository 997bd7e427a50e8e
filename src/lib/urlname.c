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

char *
urlname_from_url(const char *url)
{
	const char *path, *end, *seg;
	char *out, *o;
	size_t n, len;

	path = path_start(url);
	end = path + strcspn(path, "?#");
	seg = end;
	while (seg > path && seg[-1] != '/')
		seg--;
	if ((out = malloc((size_t)(end - seg) + sizeof("index.html"))) == NULL)
		return NULL;
	o = out;
	for (const char *p = seg; p < end; p++) {
		int c = (unsigned char)*p;

		if (c == '%' && end - p >= 3 && hexval(p[1]) >= 0 &&
		    hexval(p[2]) >= 0) {
			c = hexval(p[1]) * 16 + hexval(p[2]);
			p += 2;
		}
		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			c = '_';
		*o++ = (char)c;
	}
	*o = '\0';

	/* No leading dots: nothing hidden, no "." or "..". */
	n = strspn(out, ".");
	memmove(out, out + n, strlen(out + n) + 1);

	len = strlen(out);
	if (len > URLNAME_MAX) {
		len = URLNAME_MAX;
		/* Back up over UTF-8 continuation bytes to a character start.
		 */
		while (len > 0 && ((unsigned char)out[len] & 0xc0) == 0x80)
			len--;
		out[len] = '\0';
	}
	if (len == 0)
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
	size_t off, len, n = strlen(url);
	char *out;

	if (!urlname_userinfo(url, &off, &len))
		off = len = 0;
	if ((out = malloc(n - len + 1)) == NULL)
		return NULL;
	memcpy(out, url, off);
	memcpy(out + off, url + off + len, n - off - len + 1);
	return out;
}
