/* SPDX-License-Identifier: ISC */
/* jsonout.c -- events as newline-delimited JSON, one whole line each. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonout.h"

struct jsonout {
	FILE *f;
	/* Held only for the fwrite() and fflush() of one built line, so a
	 * slow terminal or pipe delays other writers but never mixes
	 * their lines. */
	pthread_mutex_t lock;
};

/* A line being built; err is the first failure, after which appends do
 * nothing. */
struct jsonout__line {
	struct buf b;
	int err;
};

struct jsonout *
jsonout_new(FILE *f)
{
	struct jsonout *j = calloc(1, sizeof(*j));
	int rc;

	if (j == NULL)
		return NULL;
	if ((rc = pthread_mutex_init(&j->lock, NULL)) != 0) {
		free(j);
		errno = rc;
		return NULL;
	}
	j->f = f;
	return j;
}

void
jsonout_free(struct jsonout *j)
{
	if (j == NULL)
		return;
	pthread_mutex_destroy(&j->lock);
	free(j);
}

static void
put(struct jsonout__line *l, const void *p, size_t n)
{
	if (l->err == 0)
		l->err = buf_append(&l->b, p, n);
}

static void
puts_(struct jsonout__line *l, const char *s)
{
	put(l, s, strlen(s));
}

/* The length of the well-formed UTF-8 sequence at s (1 to 4), or 0:
 * no overlong forms, surrogates or code points past U+10FFFF. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned c = s[0], cp;
	size_t n;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* The escape of a byte below 0x80 that JSON, or a reader, needs. */
static void
put_escape(struct jsonout__line *l, unsigned char c)
{
	static const char short_esc[] = "\bb\ff\nn\rr\tt\"\"\\\\";
	const char *p = c != '\0' ? strchr(short_esc, c) : NULL;
	char u[8];

	if (p != NULL && (p - short_esc) % 2 == 0) {
		put(l, "\\", 1);
		put(l, p + 1, 1);
		return;
	}
	snprintf(u, sizeof(u), "\\u%04x", c);
	put(l, u, 6);
}

static void
put_string(struct jsonout__line *l, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	put(l, "\"", 1);
	while (*s != '\0') {
		n = utf8_len(s);
		if (n == 1 &&
		    (*s < 0x20 || *s == '"' || *s == '\\' || *s == 0x7f))
			put_escape(l, *s);
		else if (n == 0)
			puts_(l, "\xef\xbf\xbd");
		else
			put(l, s, n);
		s += n > 0 ? n : 1;
	}
	put(l, "\"", 1);
}

/* d with at most 3 decimals, no trailing zeros, whatever the locale. */
static void
put_double(struct jsonout__line *l, double d)
{
	char s[512], *e;

	if (!isfinite(d)) {
		puts_(l, "null");
		return;
	}
	snprintf(s, sizeof(s), "%.3f", d);
	for (e = s; *e != '\0'; e++)
		if (*e != '-' && (*e < '0' || *e > '9'))
			*e = '.';
	if (strchr(s, '.') != NULL) {
		while (e[-1] == '0')
			*--e = '\0';
		if (e[-1] == '.')
			*--e = '\0';
	}
	puts_(l, strcmp(s, "-0") == 0 ? "0" : s);
}

static void
put_hex(struct jsonout__line *l, const unsigned char *h)
{
	char s[2 * 32 + 3];

	if (h == NULL) {
		puts_(l, "null");
		return;
	}
	s[0] = '"';
	for (int i = 0; i < 32; i++)
		snprintf(s + 1 + 2 * i, 3, "%02x", h[i]);
	s[65] = '"';
	s[66] = '\0';
	puts_(l, s);
}

/* One member: the key's name, then the value its type letter says. */
static int
put_member(struct jsonout__line *l, const char *key, va_list *ap)
{
	char num[32];
	const char *s;

	if (key[0] == '\0' || key[1] != ':')
		return -EINVAL;
	put(l, ",", 1);
	put_string(l, key + 2);
	put(l, ":", 1);
	switch (key[0]) {
	case 's':
		s = va_arg(*ap, const char *);
		if (s != NULL)
			put_string(l, s);
		else
			puts_(l, "null");
		return 0;
	case 'i':
		snprintf(num, sizeof(num), "%d", va_arg(*ap, int));
		break;
	case 'I':
		snprintf(num, sizeof(num), "%lld", va_arg(*ap, long long));
		break;
	case 'f':
		put_double(l, va_arg(*ap, double));
		return 0;
	case 'b':
		snprintf(num, sizeof(num), "%s",
			 va_arg(*ap, int) ? "true" : "false");
		break;
	case 'h':
		put_hex(l, va_arg(*ap, const unsigned char *));
		return 0;
	default:
		return -EINVAL;
	}
	puts_(l, num);
	return 0;
}

/* Writes the line whole, under the lock. */
static int
write_line(struct jsonout *j, const struct buf *b)
{
	int rc = 0;

	pthread_mutex_lock(&j->lock);
	if (fwrite(buf_data(b), 1, buf_len(b), j->f) != buf_len(b))
		rc = -EIO;
	if (fflush(j->f) != 0)
		rc = -EIO;
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int
jsonout_event(struct jsonout *j, const char *event, ...)
{
	struct jsonout__line l = {BUF_INIT, 0};
	const char *key;
	va_list ap;
	int rc = 0;

	if (event == NULL)
		return -EINVAL;
	puts_(&l, "{\"event\":");
	put_string(&l, event);
	va_start(ap, event);
	while (rc == 0 && (key = va_arg(ap, const char *)) != NULL)
		rc = put_member(&l, key, &ap);
	va_end(ap);
	puts_(&l, "}\n");
	if (rc == 0)
		rc = l.err;
	if (rc == 0)
		rc = write_line(j, &l.b);
	buf_release(&l.b);
	return rc;
}
