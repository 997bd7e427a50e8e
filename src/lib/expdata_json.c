/* SPDX-License-Identifier: ISC */
/* expdata_json.c -- an -n auto run's row from download-accelerator's --json
 * events: a strict reader of flat JSON objects, one a line. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "expdata.h"

#define MEMBERS	  24		       /* more than any event has */
#define MAX_BYTES ((long long)1 << 52) /* as expdata_parse_line */

/* A member of a line's object as written: a string value's span keeps
 * its quotes, so the type shows in its first byte. */
struct expdata__member {
	const char *name, *val; /* name: inside its quotes, undecoded */
	size_t namelen, vallen;
};

struct expdata__obj {
	struct expdata__member m[MEMBERS];
	int n;
};

/* A cursor over one line; why is the first thing found wrong. */
struct expdata__scan {
	const char *p, *end;
	const char *why;
};

static int
fail(struct expdata__scan *s, const char *why)
{
	s->why = why;
	return -EINVAL;
}

static void
skip_blanks(struct expdata__scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
				 *s->p == '\r' || *s->p == '\n'))
		s->p++;
}

static int
hex4(const char *p, const char *end, unsigned *cp)
{
	*cp = 0;
	if (end - p < 4)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
			     c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) :
			     c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) :
						    16;

		if (d == 16)
			return -EINVAL;
		*cp = *cp << 4 | d;
	}
	return 0;
}

/* \uXXXX at s->p (past the backslash and u), with the low half of a
 * surrogate pair after it, as UTF-8 into out. The byte count, or -1. */
static int
unicode_escape(struct expdata__scan *s, char out[4])
{
	unsigned cp, lo;

	if (hex4(s->p, s->end, &cp) < 0)
		return fail(s, "a bad \\u escape in a string");
	s->p += 4;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(s, "a lone surrogate in a string");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
		    hex4(s->p + 2, s->end, &lo) < 0 || lo < 0xdc00 ||
		    lo > 0xdfff)
			return fail(s, "a lone surrogate in a string");
		s->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(s, "a NUL escaped in a string");
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The next character of a string whose opening quote is behind s->p:
 * its bytes, escapes decoded, into out. The byte count; 0 after the
 * closing quote (s->p is past it); -EINVAL.
 */
static int
string_char(struct expdata__scan *s, char out[4])
{
	static const char esc[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	unsigned char c;
	const char *e;

	if (s->p == s->end)
		return fail(s, "a string is not closed");
	c = (unsigned char)*s->p++;
	if (c == '"')
		return 0;
	if (c < 0x20)
		return fail(s, "a control character in a string");
	if (c != '\\') {
		out[0] = (char)c;
		return 1;
	}
	if (s->p == s->end)
		return fail(s, "a string is not closed");
	c = (unsigned char)*s->p++;
	if (c == 'u')
		return unicode_escape(s, out);
	for (e = esc; *e != '\0'; e += 2)
		if (*e == c) {
			out[0] = e[1];
			return 1;
		}
	return fail(s, "a bad escape in a string");
}

/* Past the string at s->p, checked. 0 or -EINVAL. */
static int
skip_string(struct expdata__scan *s)
{
	char c[4];
	int n;

	if (s->p == s->end || *s->p != '"')
		return fail(s, "a member's name is not a string");
	s->p++;
	while ((n = string_char(s, c)) > 0)
		;
	return n;
}

static void
skip_digits(struct expdata__scan *s)
{
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
}

/* Past the number at s->p, as JSON writes one. 0 or -EINVAL. */
static int
skip_number(struct expdata__scan *s)
{
	const char *at;

	if (*s->p == '-')
		s->p++;
	if (s->p == s->end || *s->p < '0' || *s->p > '9')
		return fail(s, "a malformed number");
	if (*s->p == '0')
		s->p++;
	else
		skip_digits(s);
	if (s->p < s->end && *s->p == '.') {
		at = ++s->p;
		skip_digits(s);
		if (s->p == at)
			return fail(s, "a malformed number");
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		at = s->p;
		skip_digits(s);
		if (s->p == at)
			return fail(s, "a malformed number");
	}
	return 0;
}

/* Past the value at s->p: a string, number, true, false or null. */
static int
skip_value(struct expdata__scan *s)
{
	static const char *const words[] = {"true", "false", "null"};
	size_t left = (size_t)(s->end - s->p);

	if (left == 0)
		return fail(s, "a member without a value");
	if (*s->p == '"')
		return skip_string(s);
	if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
		return skip_number(s);
	if (*s->p == '{' || *s->p == '[')
		return fail(s, "a nested object or array");
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (left >= strlen(words[i]) &&
		    memcmp(s->p, words[i], strlen(words[i])) == 0) {
			s->p += strlen(words[i]);
			return 0;
		}
	return fail(s, "a value that is not JSON");
}

/* One member, "name":value, into o. */
static int
member(struct expdata__scan *s, struct expdata__obj *o)
{
	struct expdata__member *m = &o->m[o->n];

	if (o->n == MEMBERS)
		return fail(s, "too many members");
	m->name = s->p + 1;
	if (skip_string(s) < 0)
		return -EINVAL;
	m->namelen = (size_t)(s->p - 1 - m->name);
	skip_blanks(s);
	if (s->p == s->end || *s->p != ':')
		return fail(s, "no ':' after a member's name");
	s->p++;
	skip_blanks(s);
	m->val = s->p;
	if (skip_value(s) < 0)
		return -EINVAL;
	m->vallen = (size_t)(s->p - m->val);
	o->n++;
	return 0;
}

/* The line as one flat object into o: {} or {"name":value,...}, blanks
 * around the tokens allowed, nothing after. 0 or -EINVAL. */
static int
parse_object(struct expdata__scan *s, struct expdata__obj *o)
{
	o->n = 0;
	skip_blanks(s);
	if (s->p == s->end || *s->p != '{')
		return fail(s, "not a JSON object");
	s->p++;
	skip_blanks(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
	} else {
		for (;;) {
			if (member(s, o) < 0)
				return -EINVAL;
			skip_blanks(s);
			if (s->p < s->end && *s->p == ',') {
				s->p++;
				skip_blanks(s);
				continue;
			}
			if (s->p < s->end && *s->p == '}') {
				s->p++;
				break;
			}
			return fail(s, "no ',' or '}' after a member");
		}
	}
	skip_blanks(s);
	if (s->p != s->end)
		return fail(s, "text after the object");
	return 0;
}

/*
 * Whether the string at span (inside its quotes, already checked) says
 * want exactly; out, when not NULL, gets it decoded (len bytes with the
 * NUL, cut short if need be).
 */
static int
string_is(const char *span, size_t spanlen, const char *want, char *out,
	  size_t len)
{
	struct expdata__scan s = {.p = span, .end = span + spanlen + 1};
	size_t w = 0, o = 0, wl = want != NULL ? strlen(want) : 0;
	int same = want != NULL;
	char c[4];
	int n;

	while ((n = string_char(&s, c)) > 0) {
		if (same &&
		    (wl - w < (size_t)n || memcmp(want + w, c, (size_t)n) != 0))
			same = 0;
		w += (size_t)n;
		for (int i = 0; out != NULL && i < n && o + 1 < len; i++)
			out[o++] = c[i];
	}
	if (out != NULL && len > 0)
		out[o] = '\0';
	return same && w == wl;
}

/* The member of that name, or NULL; *twice when it is there again. */
static const struct expdata__member *
find(const struct expdata__obj *o, const char *name, int *twice)
{
	const struct expdata__member *m = NULL;

	for (int i = 0; i < o->n; i++) {
		if (!string_is(o->m[i].name, o->m[i].namelen, name, NULL, 0))
			continue;
		if (m != NULL)
			*twice = 1;
		m = &o->m[i];
	}
	return m;
}

/* The number of that name, a whole one from min to max. 0 or -EINVAL. */
static int
get_whole(const struct expdata__obj *o, const char *name, long long min,
	  long long max, long long *v, int *twice)
{
	const struct expdata__member *m = find(o, name, twice);
	char num[24], *end;

	if (m == NULL || m->vallen >= sizeof(num))
		return -EINVAL;
	for (size_t i = 0; i < m->vallen; i++)
		if (m->val[i] < '0' || m->val[i] > '9')
			return -EINVAL;
	memcpy(num, m->val, m->vallen);
	num[m->vallen] = '\0';
	errno = 0;
	*v = strtoll(num, &end, 10);
	if (*end != '\0' || errno != 0 || *v < min || *v > max)
		return -EINVAL;
	return 0;
}

/* The number of that name as seconds from 0 to 1e7, in microseconds. */
static int
get_time(const struct expdata__obj *o, const char *name, double *sec,
	 long long *us, int *twice)
{
	const struct expdata__member *m = find(o, name, twice);
	char num[64], *end;

	if (m == NULL || m->vallen >= sizeof(num) || m->val[0] == '"' ||
	    m->val[0] == 't' || m->val[0] == 'f' || m->val[0] == 'n')
		return -EINVAL;
	memcpy(num, m->val, m->vallen);
	num[m->vallen] = '\0';
	errno = 0;
	*sec = strtod(num, &end);
	if (*end != '\0' || errno != 0 || !isfinite(*sec) || *sec < 0 ||
	    *sec > 1e7)
		return -EINVAL;
	*us = llround(*sec * 1e6);
	return 0;
}

void
expdata_json_init(struct expdata_json *j, const char *url)
{
	memset(j, 0, sizeof(*j));
	j->url = url;
}

static int
on_connections(struct expdata_json *j, const struct expdata__obj *o,
	       const char **why)
{
	long long c, us;
	double sec;
	int twice = 0;

	if (j->done)
		*why = "a connections event after done";
	else if (get_whole(o, "connections", 1, EXPDATA_JSON_MAX_CONNS, &c,
			   &twice) < 0)
		*why = "connections: \"connections\" is not a count of 1-64";
	else if (get_time(o, "seconds", &sec, &us, &twice) < 0)
		*why = "connections: \"seconds\" is not a time";
	else if (twice)
		*why = "connections: a member given twice";
	else if (j->conns > 0 && us < j->since)
		*why = "connections: earlier than the event before";
	else
		*why = NULL;
	if (*why != NULL)
		return -EINVAL;
	if (j->conns > 0)
		j->held[j->conns] += us - j->since;
	j->conns = (int)c;
	j->since = us;
	j->seen |= 1ULL << (c - 1);
	return 0;
}

static int
on_done(struct expdata_json *j, const struct expdata__obj *o, const char **why)
{
	const struct expdata__member *url;
	long long most, bytes, end;
	double sec;
	int twice = 0;

	url = find(o, "url", &twice);
	if (j->done)
		*why = "a second done event";
	else if (url == NULL || url->val[0] != '"')
		*why = "done: \"url\" is not a string";
	else if (!string_is(url->val + 1, url->vallen - 2, j->url, NULL, 0))
		*why = "done: another URL";
	else if (get_whole(o, "bytes", 0, MAX_BYTES, &bytes, &twice) < 0)
		*why = "done: \"bytes\" is not a whole number";
	else if (get_time(o, "seconds", &sec, &end, &twice) < 0)
		*why = "done: \"seconds\" is not a time";
	else if (get_whole(o, "connections", 1, EXPDATA_JSON_MAX_CONNS, &most,
			   &twice) < 0)
		*why = "done: \"connections\" is not a count of 1-64";
	else if (twice)
		*why = "done: a member given twice";
	else if (j->conns > 0 && end < j->since)
		*why = "done: earlier than a connections event";
	else
		*why = NULL;
	if (*why != NULL)
		return -EINVAL;
	j->done = 1;
	j->most = (int)most;
	j->end = end;
	j->row.bytes = bytes;
	j->row.seconds = sec;
	return 0;
}

int
expdata_json_line(struct expdata_json *j, const char *line, size_t len,
		  const char **why)
{
	struct expdata__scan s = {.p = line, .end = line + len};
	struct expdata__obj o;
	const struct expdata__member *ev;
	char name[16];
	int twice = 0;

	if (memchr(line, '\0', len) != NULL) {
		*why = "a NUL byte";
		return -EINVAL;
	}
	if (parse_object(&s, &o) < 0) {
		*why = s.why;
		return -EINVAL;
	}
	ev = find(&o, "event", &twice);
	if (ev == NULL || ev->val[0] != '"' || twice) {
		*why = ev == NULL ? "no \"event\" member" :
		       twice	  ? "\"event\" given twice" :
				    "\"event\" is not a string";
		return -EINVAL;
	}
	/* Cut short, a longer name still names no event below. */
	string_is(ev->val + 1, ev->vallen - 2, NULL, name, sizeof(name));
	if (strcmp(name, "connections") == 0)
		return on_connections(j, &o, why);
	if (strcmp(name, "done") == 0)
		return on_done(j, &o, why);
	if (strcmp(name, "start") == 0 || strcmp(name, "progress") == 0 ||
	    strcmp(name, "summary") == 0)
		return 0;
	*why = strcmp(name, "failed") == 0  ? "a failed event" :
	       strcmp(name, "skipped") == 0 ? "a skipped event" :
					      "an unknown event";
	return -EINVAL;
}

int
expdata_json_row(const struct expdata_json *j, struct expdata_row *r,
		 const char **why)
{
	long long best = -1, t;

	if (!j->done) {
		*why = "no done event";
		return -EINVAL;
	}
	*r = j->row;
	r->threads = j->most;
	for (int c = 1; c <= EXPDATA_JSON_MAX_CONNS; c++) {
		if (!(j->seen >> (c - 1) & 1))
			continue;
		t = j->held[c] + (c == j->conns ? j->end - j->since : 0);
		/* Ascending, and only a longer time wins: ties go to the
		 * smaller count. */
		if (t > best) {
			best = t;
			r->threads = c;
		}
	}
	return 0;
}
