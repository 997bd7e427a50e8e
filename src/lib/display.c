/* SPDX-License-Identifier: ISC */
/* display.c -- strips what a terminal would obey from text before it is
 * printed, and the passwords from URLs. */
#include <errno.h>
#include <string.h>

#include "display.h"
#include "urlname.h"

/* Length of the well-formed, printable UTF-8 character at s (1 to 4), or
 * 0 when the byte at s must not reach a terminal. */
static size_t
char_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned int cp;

	if (c < 0x80)
		return c >= 0x20 && c != 0x7f;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1fu;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0fu;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	/* Overlong forms, surrogates, beyond Unicode, and the C1 controls
	 * (CSI is U+009B). */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
	    (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

/* Appends the shown form of n bytes of s to out at *o, up to limit bytes
 * in all. Returns 0, or -ENOSPC when a character did not fit. */
static int
put(const char *s, size_t n, char *out, size_t limit, size_t *o)
{
	size_t i = 0, k;

	while (i < n) {
		k = char_len((const unsigned char *)s + i);
		if (k == 0 || k > n - i)
			k = 0;
		if (*o + (k ? k : 1) > limit)
			return -ENOSPC;
		if (k)
			memcpy(out + *o, s + i, k);
		else
			out[*o] = '?';
		*o += k ? k : 1;
		i += k ? k : 1;
	}
	return 0;
}

/* The shown form of a and then b into out: whole when it fits, else cut
 * on a character boundary with "..." after it. */
static char *
show(const char *a, size_t na, const char *b, size_t nb, char *out, size_t size)
{
	size_t o = 0, limit = size - 1;

	/* Each byte shows as itself or as one '?': the length is kept. */
	if (na + nb > limit)
		limit = size - 4;
	if (put(a, na, out, limit, &o) < 0 || put(b, nb, out, limit, &o) < 0)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = '\0';
	return out;
}

char *
display_text(const char *s, char *out, size_t size)
{
	return show(s, strlen(s), "", 0, out, size);
}

char *
display_url(const char *url, char *out, size_t size)
{
	size_t off, len, user;
	const char *rest;

	if (!urlname_userinfo(url, &off, &len))
		return show(url, strlen(url), "", 0, out, size);
	/* The user name up to the first ':', then the '@' and the rest; an
	 * empty user name goes with its '@'. */
	user = strcspn(url + off, ":");
	if (user >= len - 1)
		user = len - 1;
	rest = url + off + len - (user > 0 ? 1 : 0);
	return show(url, off + user, rest, strlen(rest), out, size);
}
