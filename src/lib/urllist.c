/* SPDX-License-Identifier: ISC */
/* urllist.c -- reads aria2c-style download lists: URLs, mirrors, options. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "display.h"
#include "urllist.h"
#include "urlname.h"

/* How much of a bad line a message shows: about 80 characters. */
#define URLLIST__SHOWN 84

struct urllist {
	struct urllist_entry *v;
	size_t n, cap;
};

/* The options, as bits of urllist__reader.given. */
enum {
	URLLIST__OUT = 1,
	URLLIST__DIR = 2,
	URLLIST__CHECKSUM = 4,
	URLLIST__HEADER = 8,
	URLLIST__SPLIT = 16,
};

/* Sets an option of e from its value: 0, -EINVAL with *why set to a
 * static text, or -ENOMEM. */
typedef int urllist__set_fn(struct urllist_entry *e, const char *v,
			    const char **why);

/* The reader's state from one line to the next. */
struct urllist__reader {
	struct urllist *l;
	urllist_bad_cb *bad;
	void *arg;
	long nbad;
	unsigned long lineno;
	struct urllist_entry cur; /* the entry being read, when have */
	int have;
	int skip;	/* the last URL line was bad: its options go unsaid */
	int drop;	/* cur is dropped when it ends */
	unsigned given; /* the options cur was given */
};

struct urllist *
urllist_new(void)
{
	return calloc(1, sizeof(struct urllist));
}

static void
entry_free(struct urllist_entry *e)
{
	for (int i = 0; i < e->nurls; i++)
		free(e->urls[i]);
	for (int i = 0; i < e->nheaders; i++)
		free(e->headers[i]);
	free(e->urls);
	free(e->headers);
	free(e->out);
	free(e->dir);
	memset(e, 0, sizeof(*e));
}

void
urllist_free(struct urllist *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->v[i]);
	free(l->v);
	free(l);
}

size_t
urllist_count(const struct urllist *l)
{
	return l->n;
}

const struct urllist_entry *
urllist_entry(const struct urllist *l, size_t i)
{
	return &l->v[i];
}

void
urllist_take(struct urllist *l, size_t i, struct urllist_entry *e)
{
	*e = l->v[i];
	memset(&l->v[i], 0, sizeof(l->v[i]));
}

static int
blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int
has_control(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* Reports a bad line: what it says, shown printable, then why. */
static void
report(struct urllist__reader *r, const char *text, const char *why)
{
	char shown[URLLIST__SHOWN], msg[URLLIST__SHOWN + 64];

	r->nbad++;
	if (r->bad == NULL)
		return;
	display_text(text, shown, sizeof(shown));
	snprintf(msg, sizeof(msg), "%s: %s", shown, why);
	r->bad(r->lineno, msg, r->arg);
}

static int
set_out(struct urllist_entry *e, const char *v, const char **why)
{
	if (*v == '\0')
		*why = "empty file name";
	else if (has_control(v))
		*why = "control character in a file name";
	else if (strchr(v, '/') != NULL)
		*why = "a file name may not contain '/'";
	else if (v[0] == '.')
		*why = "a file name may not start with '.'";
	else if (strlen(v) > URLLIST_NAME_MAX)
		*why = "file name longer than 255 bytes";
	if (*why != NULL)
		return -EINVAL;
	return (e->out = strdup(v)) != NULL ? 0 : -ENOMEM;
}

/* Appends the component c, n bytes, to the folder d (of *len bytes). */
static const char *
dir_add(char *d, size_t *len, const char *c, size_t n)
{
	if (n == 2 && c[0] == '.' && c[1] == '.')
		return "a folder may not contain '..'";
	if (c[0] == '.')
		return "a folder name may not start with '.'";
	if (n > URLLIST_NAME_MAX)
		return "folder name longer than 255 bytes";
	if (*len > 0)
		d[(*len)++] = '/';
	memcpy(d + *len, c, n);
	*len += n;
	d[*len] = '\0';
	return *len > URLLIST_DIR_MAX ? "folder longer than 4095 bytes" : NULL;
}

/* The folder without empty and "." components; "." alone is none. */
static int
set_dir(struct urllist_entry *e, const char *v, const char **why)
{
	size_t len = 0, n;
	char *d;

	if (*v == '\0')
		*why = "empty folder";
	else if (has_control(v))
		*why = "control character in a folder";
	else if (v[0] == '/')
		*why = "the folder must be relative";
	if (*why != NULL)
		return -EINVAL;
	if ((d = malloc(strlen(v) + 1)) == NULL)
		return -ENOMEM;
	d[0] = '\0';
	for (; *v != '\0' && *why == NULL; v += n) {
		while (*v == '/')
			v++;
		n = strcspn(v, "/");
		if (n > 0 && !(n == 1 && v[0] == '.'))
			*why = dir_add(d, &len, v, n);
	}
	if (*why != NULL || len == 0) {
		free(d);
		return *why != NULL ? -EINVAL : 0;
	}
	e->dir = d;
	return 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int
set_checksum(struct urllist_entry *e, const char *v, const char **why)
{
	const char *hex = strchr(v, '=');

	if (hex == NULL) {
		*why = "a checksum is sha-256=HEX";
		return -EINVAL;
	}
	if (hex - v != 7 || strncasecmp(v, "sha-256", 7) != 0) {
		*why = "unsupported checksum algorithm";
		return -EINVAL;
	}
	hex++;
	if (strlen(hex) != 2 * sizeof(e->sha256)) {
		*why = "a sha-256 digest is 64 hex digits";
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(e->sha256); i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			*why = "a sha-256 digest is 64 hex digits";
			return -EINVAL;
		}
		e->sha256[i] = (unsigned char)(hi << 4 | lo);
	}
	e->has_sha256 = 1;
	return 0;
}

/* Whether c may be in an HTTP token (RFC 9110 tchar). */
static int
tchar(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
set_header(struct urllist_entry *e, const char *v, const char **why)
{
	size_t n = 0;
	char **h;

	while (tchar((unsigned char)v[n]))
		n++;
	if (v[n] != ':')
		*why = "a header is 'Name: value', the name an HTTP token";
	else if (n == 0)
		*why = "empty header name";
	else if (has_control(v))
		*why = "control character in a header";
	if (*why != NULL)
		return -EINVAL;
	h = realloc(e->headers, (size_t)(e->nheaders + 1) * sizeof(*h));
	if (h == NULL)
		return -ENOMEM;
	e->headers = h;
	if ((h[e->nheaders] = strdup(v)) == NULL)
		return -ENOMEM;
	e->nheaders++;
	return 0;
}

static int
set_split(struct urllist_entry *e, const char *v, const char **why)
{
	size_t len = strlen(v);
	int n = len > 0 && len <= 2 && strspn(v, "0123456789") == len ?
			atoi(v) :
			0;

	if (n < 1 || n > URLLIST_SPLIT_MAX) {
		*why = "split is a number from 1 to 64";
		return -EINVAL;
	}
	e->split = n;
	return 0;
}

static const struct urllist__option {
	const char *name;
	unsigned bit;
	urllist__set_fn *set;
} options[] = {
	{"out", URLLIST__OUT, set_out},
	{"dir", URLLIST__DIR, set_dir},
	{"checksum", URLLIST__CHECKSUM, set_checksum},
	{"header", URLLIST__HEADER, set_header},
	{"split", URLLIST__SPLIT, set_split},
};

static const struct urllist__option *
find_option(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strlen(options[i].name) == n &&
		    memcmp(options[i].name, name, n) == 0)
			return &options[i];
	return NULL;
}

/* An option line s (trimmed) of the current entry. */
static int
option_line(struct urllist__reader *r, const char *s)
{
	const struct urllist__option *o;
	const char *eq = strchr(s, '='), *v, *why = NULL;
	size_t n;
	int rc;

	if (eq == NULL) {
		report(r, s, "not an option (name=value)");
		return 0;
	}
	for (n = (size_t)(eq - s); n > 0 && blank((unsigned char)s[n - 1]);)
		n--;
	if ((o = find_option(s, n)) == NULL) {
		report(r, s, "unknown option");
		return 0;
	}
	if (o->bit != URLLIST__HEADER && (r->given & o->bit) != 0) {
		r->drop = 1;
		report(r, s, "option given twice; entry dropped");
		return 0;
	}
	r->given |= o->bit;
	for (v = eq + 1; blank((unsigned char)*v); v++)
		;
	if ((rc = o->set(&r->cur, v, &why)) == -EINVAL) {
		r->drop = 1;
		report(r, s, why);
		return 0;
	}
	return rc;
}

/* Ends the current entry: into the list, or away when dropped. */
static int
finish(struct urllist__reader *r)
{
	struct urllist *l = r->l;
	int rc = 0;

	if (r->have && !r->drop && l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct urllist_entry *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			rc = -ENOMEM;
		else {
			l->v = v;
			l->cap = cap;
		}
	}
	if (r->have && !r->drop && rc == 0)
		l->v[l->n++] = r->cur;
	else
		entry_free(&r->cur);
	memset(&r->cur, 0, sizeof(r->cur));
	r->have = r->drop = r->skip = 0;
	r->given = 0;
	return rc;
}

/* Checks one URL field f, trimmed in place; NULL or why it is bad. */
static const char *
url_field(char **f)
{
	char *s = *f, *e;

	while (blank((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && blank((unsigned char)e[-1]))
		e--;
	*e = '\0';
	*f = s;
	if (*s == '\0')
		return "empty URL field";
	if (e - s > URLLIST_URL_MAX)
		return "URL longer than 8192 bytes";
	if (!urlname_is_http(s))
		return "not an http or https URL";
	return NULL;
}

/* Splits s at its TABs into *urls (pointers into s), *n of them; the
 * field that is bad in *badf, with why, or NULL. */
static const char *
url_fields(char *s, char ***urls, int *n, char **badf)
{
	const char *why = NULL;
	size_t max = 1;
	char *p, *tab;

	for (p = s; (p = strchr(p, '\t')) != NULL; p++)
		max++;
	if ((*urls = calloc(max, sizeof(**urls))) == NULL)
		return NULL;
	for (p = s, *n = 0; why == NULL; p = tab + 1) {
		if ((tab = strchr(p, '\t')) != NULL)
			*tab = '\0';
		(*urls)[*n] = p;
		/* An empty field is shown by the line's first URL. */
		if ((why = url_field(&(*urls)[*n])) != NULL)
			*badf = (*urls)[*(*urls)[*n] == '\0' ? 0 : *n];
		(*n)++;
		if (tab == NULL)
			break;
	}
	return why;
}

/* A URL line s (trimmed): a new entry. */
static int
url_line(struct urllist__reader *r, char *s)
{
	char **urls, *badf = s;
	const char *why;
	int n = 0, rc;

	if ((rc = finish(r)) < 0)
		return rc;
	r->skip = 1;
	why = url_fields(s, &urls, &n, &badf);
	if (urls == NULL)
		return -ENOMEM;
	if (why != NULL) {
		report(r, badf, why);
		free(urls);
		return 0;
	}
	r->have = 1;
	r->skip = 0;
	r->cur.line = r->lineno;
	r->cur.urls = urls;
	for (int i = 0; i < n; i++) {
		if ((urls[i] = strdup(urls[i])) == NULL)
			return -ENOMEM;
		r->cur.nurls = i + 1;
	}
	return 0;
}

/* Whether an indented line is a URL: "://" comes before any '='. */
static int
looks_like_url(const char *s)
{
	const char *sep = strstr(s, "://"), *eq = strchr(s, '=');

	return sep != NULL && (eq == NULL || sep < eq);
}

/* One line, len bytes from getline(). */
static int
read_line(struct urllist__reader *r, char *line, size_t len)
{
	int nul = memchr(line, '\0', len) != NULL, indented, rc;
	char *s = line, *e;

	/* A byte order mark some editors put before the first line. */
	if (r->lineno == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	indented = *s == ' ' || *s == '\t';
	while (blank((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && (blank((unsigned char)e[-1]) || e[-1] == '\n'))
		e--;
	*e = '\0';
	if ((*s == '\0' && !nul) || *s == '#')
		return 0;
	/* An indented URL is still a URL: an option's name never holds
	 * "://", and lists written for one URL a line may indent them. */
	if (indented && looks_like_url(s))
		indented = 0;
	if (!indented && !nul)
		return url_line(r, s);
	if (!indented && (rc = finish(r)) < 0)
		return rc;
	if (!indented)
		r->skip = 1;
	else if (!r->have) {
		if (!r->skip)
			report(r, s, "option line before any URL line");
		return 0;
	}
	if (nul) {
		r->drop = 1;
		report(r, s, "NUL byte in the line; entry dropped");
		return 0;
	}
	return option_line(r, s);
}

long
urllist_read(struct urllist *l, FILE *in, urllist_bad_cb *bad, void *arg)
{
	struct urllist__reader r = {.l = l, .bad = bad, .arg = arg};
	char *line = NULL;
	size_t size = 0;
	ssize_t n;
	int rc = 0;

	for (;;) {
		errno = 0;
		if ((n = getline(&line, &size, in)) < 0) {
			if (ferror(in) || errno == ENOMEM)
				rc = errno != 0 ? -errno : -EIO;
			break;
		}
		r.lineno++;
		if ((rc = read_line(&r, line, (size_t)n)) < 0)
			break;
	}
	if (rc < 0)
		r.drop = 1;
	if ((n = finish(&r)) < 0 && rc == 0)
		rc = (int)n;
	free(line);
	return rc < 0 ? rc : r.nbad;
}
