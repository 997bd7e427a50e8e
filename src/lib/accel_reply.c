/* SPDX-License-Identifier: ISC */
/* accel_reply.c -- the accelerator's view of each HTTP reply: headers
 * parsed, the probe and every range checked, bytes written into place. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "accel.h"
#include "accel_int.h"
#include "fsutil.h"
#include "httpdate.h"
#include "mtime.h"
#include "urlname.h"

/* src into dst of size bytes, cut to fit, as snprintf's "%s" without
 * its cost (this runs a few times for every file of a list). */
static void
copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* White space as isspace() has it in the C locale, without its call and
 * table: headers are read for every reply. */
static int
is_ws(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* v (n bytes) without the white space around it, at *start; returns the
 * trimmed length. */
static size_t
trim(const char *v, size_t n, const char **start)
{
	while (n > 0 && is_ws(*v))
		v++, n--;
	while (n > 0 && is_ws(v[n - 1]))
		n--;
	*start = v;
	return n;
}

/* Copies the trimmed value into out; 0, or -EOVERFLOW when it does not
 * fit. */
static int
copy_trimmed(char *out, size_t len, const char *v, size_t n)
{
	n = trim(v, n, &v);
	if (n >= len) {
		out[0] = '\0';
		return -EOVERFLOW;
	}
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

/* A decimal number at *p (white space and a sign allowed before it, as
 * strtoll takes them), *p moved past it; read by hand, a fifth of
 * strtoll's instructions. Returns 0, or -1 for no number or one beyond
 * long long. */
static int
number(const char **p, long long *out)
{
	const char *s = *p;
	unsigned long long v = 0;
	int neg = 0;

	while (is_ws(*s))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > ((unsigned long long)LLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = neg ? -(long long)v : (long long)v;
	*p = s;
	return 0;
}

/* "bytes A-B/T", "bytes A-B/ *" or "bytes * /T" (without the spaces
 * around the star), read by hand: this runs for every reply. */
static void
parse_content_range(struct accel_conn *c, const char *v)
{
	long long b, e, t;

	c->has_cr = 0;
	if (strncmp(v, "bytes", 5) != 0)
		return;
	v += 5;
	while (is_ws(*v))
		v++;
	if (v[0] == '*' && v[1] == '/') {
		v += 2;
		if (number(&v, &t) == 0 && t >= 0) {
			c->cr_begin = -1, c->cr_end = -1, c->cr_total = t;
			c->has_cr = 2;
		}
		return;
	}
	if (number(&v, &b) < 0 || *v++ != '-' || number(&v, &e) < 0 ||
	    *v++ != '/' || b < 0 || e < b)
		return;
	if (*v == '*') {
		c->cr_begin = b, c->cr_end = e, c->cr_total = -1;
		c->has_cr = 1;
	} else if (number(&v, &t) == 0 && t > e) {
		c->cr_begin = b, c->cr_end = e, c->cr_total = t;
		c->has_cr = 1;
	}
}

static void
parse_retry_after(struct accel_conn *c, const char *v)
{
	char *end;
	double s = strtod(v, &end);
	time_t when;

	if (end != v && *end == '\0' && s >= 0) {
		c->retry_after = s;
		return;
	}
	if ((when = httpdate_parse(v)) >= 0) {
		s = difftime(when, time(NULL));
		c->retry_after = s > 0 ? s : 0;
	}
}

/* The probe's Content-Disposition name, when the download wants one:
 * from the value v of vn bytes. */
static void
probe_disposition(struct accel *a, const char *v, size_t vn)
{
	/* NULL (no name, no memory): the name asked for will do. */
	free(a->cd_name);
	a->cd_name = urlname_from_header(v, vn);
}

/*
 * Content-Encoding val: a whole file is decoded by libcurl, but a range
 * of a compressed representation is no range of the file, and ranges of
 * it cannot be stitched. Such a range is refused before any byte, and a
 * probe's refusal makes the download ask for the whole file in one
 * reply, as from a server without ranges. Returns 0, or -EPROTO when the
 * reply is refused (c->fail says why).
 */
static int
on_encoding(struct accel_conn *c, const char *val)
{
	if (val[0] == '\0' || strcasecmp(val, "identity") == 0)
		return 0;
	snprintf(c->encoding, sizeof(c->encoding), "%.*s",
		 (int)sizeof(c->encoding) - 1, val);
	for (char *p = c->encoding; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			*p = '?';
	if (c->status != 206)
		return 0;
	accel__why(c, ACCEL_F_RETRY,
		   "a range came compressed (Content-Encoding: %s); ranges "
		   "of it cannot be stitched",
		   c->encoding);
	if (c->probe) {
		c->a->no_ranges = 1;
		accel__warn(c->a,
			    "%s; fetching the whole file over one "
			    "connection",
			    c->why);
	}
	return -EPROTO;
}

/* Whether the header name (n bytes) is the one given, in any case. */
static int
name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

/* The headers with a short value the engine reads, by name. */
enum short_header { H_OTHER, H_ENCODING, H_RANGE, H_RETRY, H_LENGTH };

static enum short_header
short_header(const char *name, size_t n)
{
	if (name_is(name, n, "Content-Encoding"))
		return H_ENCODING;
	if (name_is(name, n, "Content-Range"))
		return H_RANGE;
	if (name_is(name, n, "Retry-After"))
		return H_RETRY;
	if (name_is(name, n, "Content-Length"))
		return H_LENGTH;
	return H_OTHER;
}

/* The status line "HTTP/1.1 206 Partial Content" (trimmed, vn bytes and
 * a NUL). */
static void
status_line(struct accel_conn *c, const char *v, size_t vn)
{
	const char *end = v + vn, *p = v + 5, *ver;
	long long status;

	/* The version, then the code: "HTTP/%*s %d" as sscanf reads it. */
	while (p < end && is_ws(*p))
		p++;
	for (ver = p; p < end && !is_ws(*p);)
		p++;
	if (p == ver || p == end || number(&p, &status) < 0 || status < 0 ||
	    status > 999)
		return;
	c->status = (int)status;
	/* The reason phrase is only ever shown: cut to the room. */
	while (p < end && *p == ' ')
		p++;
	if (p < end) {
		size_t n = (size_t)(end - p);

		if (n >= sizeof(c->reason))
			n = sizeof(c->reason) - 1;
		copy_trimmed(c->reason, sizeof(c->reason), p, n);
	}
}

size_t
accel__on_header(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct accel_conn *c = arg;
	size_t n = size * nmemb, vn, nn;
	char val[512];
	const char *colon, *v, *name;
	enum short_header kind;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the
		 * last one's headers. */
		c->status = 0;
		c->reason[0] = '\0';
		c->has_cr = 0;
		c->clen = -1;
		c->etag[0] = c->lastmod[0] = '\0';
		c->encoding[0] = '\0';
		c->retry_after = -1;
		if (c->probe) {
			free(c->a->cd_name);
			c->a->cd_name = NULL;
		}
		/* libcurl's line has no NUL: a copy, cut to the room. */
		vn = trim(buf, n, &v);
		if (vn >= sizeof(val))
			vn = sizeof(val) - 1;
		memcpy(val, v, vn);
		val[vn] = '\0';
		status_line(c, val, vn);
		return n;
	}
	/* Names are matched by length first: most headers of a reply are
	 * none of these, and cost one comparison each. */
	if ((colon = memchr(buf, ':', n)) == NULL)
		return n;
	nn = trim(buf, (size_t)(colon - buf), &name);
	v = colon + 1;
	vn = n - (size_t)(colon - buf) - 1;
	if (c->probe && c->a->o->disposition &&
	    name_is(name, nn, "Content-Disposition")) {
		probe_disposition(c->a, v, vn);
		return n;
	}
	/* Validators are sent back in If-Range exactly as they came: kept
	 * whole, or refused; a cut one would make every range fail. */
	if (name_is(name, nn, "ETag") || name_is(name, nn, "Last-Modified")) {
		int etag = nn == 4;
		char *to = etag ? c->etag : c->lastmod;

		if (copy_trimmed(to, ACCEL_VALIDATOR_MAX + 1, v, vn) < 0) {
			accel__why(c, ACCEL_F_FATAL,
				   "the server's %s is longer than "
				   "%d bytes",
				   etag ? "ETag" : "Last-Modified",
				   ACCEL_VALIDATOR_MAX);
			return 0;
		}
		/* Control characters are not allowed in either (RFC 9110):
		 * such a value is no validator, and is ignored. */
		for (const char *p = to; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				to[0] = '\0';
		return n;
	}
	if ((kind = short_header(name, nn)) == H_OTHER)
		return n;
	/* These values are short; a longer one is malformed, and is
	 * ignored rather than read cut. */
	if (copy_trimmed(val, sizeof(val), v, vn) < 0)
		return n;
	switch (kind) {
	case H_ENCODING:
		return on_encoding(c, val) < 0 ? 0 : n;
	case H_RANGE:
		parse_content_range(c, val);
		break;
	case H_RETRY:
		parse_retry_after(c, val);
		break;
	default: {
		const char *end = val;
		long long len;

		if (number(&end, &len) == 0 && *end == '\0' && len >= 0)
			c->clen = len;
	}
	}
	return n;
}

/* Whether the response's validator is the probe's one. */
static int
same_file(const struct accel *a, const struct accel_conn *c)
{
	if (a->meta.etag[0])
		return strcmp(a->meta.etag, c->etag) == 0;
	if (a->meta.lastmod[0])
		return strcmp(a->meta.lastmod, c->lastmod) == 0;
	return 1;
}

int
accel__make_headers(struct accel *a)
{
	char h[sizeof("If-Range: ") + ACCEL_VALIDATOR_MAX];
	const char *v = NULL;
	struct curl_slist *l;

	a->hdrs = curl_slist_append(NULL, "Accept-Encoding: identity");
	if (a->hdrs == NULL)
		return -ENOMEM;
	/* If-Range makes a server whose file changed answer 200 with the
	 * whole new file instead of a slice of it; a weak ETag is not
	 * allowed there, a date is. */
	if (a->meta.etag[0] && strncmp(a->meta.etag, "W/", 2) != 0)
		v = a->meta.etag;
	else if (a->meta.lastmod[0])
		v = a->meta.lastmod;
	if (v != NULL) {
		memcpy(h, "If-Range: ", 10);
		copy_str(h + 10, sizeof(h) - 10, v);
		if ((l = curl_slist_append(a->hdrs, h)) == NULL)
			return -ENOMEM;
		a->hdrs = l;
	}
	return reqopts_headers(a->o->req, &a->hdrs);
}

/* The file's size from the probe's reply, into *size. Returns 0, -EPROTO
 * (c->fail says why) or the download's error. */
static int
probe_size(struct accel *a, struct accel_conn *c, int64_t *size)
{
	if (c->status == 206) {
		if (c->has_cr != 1 || c->cr_begin != a->probe_at ||
		    c->cr_total < 0 || c->cr_end != c->cr_total - 1) {
			accel__why(c, ACCEL_F_RETRY,
				   "bad Content-Range in reply to "
				   "bytes=%" PRId64 "-",
				   a->probe_at);
			return -EPROTO;
		}
		*size = c->cr_total;
		return 0;
	}
	if (c->status == 200 && a->saved == NULL) {
		/* A compressed length is not the file's: libcurl decodes. */
		*size = c->encoding[0] != '\0' ? -1 : c->clen;
		return 0;
	}
	if (c->status == 200) {
		accel__err(a, -ESTALE, a->o->urls[0],
			   "the server ignores Range now; "
			   "cannot resume (remove %s to start over)",
			   a->part);
		return a->fatal;
	}
	accel__why(c, ACCEL_F_RETRY, "unexpected HTTP %d", c->status);
	return -EPROTO;
}

/* -c: the server's file must be the one the state describes; a fresh
 * run records what the state will say. Returns 0 or the error. */
static int
probe_meta(struct accel *a, struct accel_conn *c, int64_t size)
{
	const char *url = a->o->urls[0];
	int same;

	if (a->saved != NULL) {
		same = size == a->meta.size;
		if (same && a->meta.etag[0])
			same = strcmp(a->meta.etag, c->etag) == 0;
		else if (same && a->meta.lastmod[0])
			same = strcmp(a->meta.lastmod, c->lastmod) == 0;
		if (!same)
			accel__err(a, -ESTALE, url,
				   "%s does not match the "
				   "file on the server now (size %" PRId64
				   " ETag %s, was %" PRId64 " ETag %s); remove "
				   "it and %s to start over",
				   a->state, size,
				   c->etag[0] ? c->etag : "none", a->meta.size,
				   a->meta.etag[0] ? a->meta.etag : "none",
				   a->part);
		return a->fatal;
	}
	/* No secret is written to disk (and no copy is made to strip it: a
	 * list's small files pay for each allocation). */
	urlname_strip_userinfo_to(url, a->meta.url, sizeof(a->meta.url));
	a->meta.size = size;
	copy_str(a->meta.etag, sizeof(a->meta.etag), c->etag);
	copy_str(a->meta.lastmod, sizeof(a->meta.lastmod), c->lastmod);
	return 0;
}

/* Ranges: the If-Range headers, the plan (new, or the saved one) and its
 * state on disk before the first byte. Returns 0 or the error. */
static int
start_ranges(struct accel *a, int64_t size)
{
	int rc, resume = a->saved != NULL;
	/* -n auto: as many ranges as the controller starts with. Each
	 * connection it adds splits one that is running, so they all end
	 * together; ranges for all it might add left those it adds after
	 * the first window a late start to make up at the end. */
	int ranges = accel__start_count(a);

	if (resume) {
		a->plan = a->saved;
		a->saved = NULL;
	} else if ((a->plan = accel_plan_new(size, ranges, MIN_PIECE)) ==
		   NULL) {
		accel__err(a, -ENOMEM, a->o->urls[0], "%s", strerror(ENOMEM));
		return a->fatal;
	}
	/* A state file before the first byte: whenever the run ends, its
	 * .part can be resumed (even if a full disk then stops the data).
	 * A small file gets its first at the first periodic save, a second
	 * in: fetching it again costs less than the syncs and the file a
	 * state costs each of a list of small files. */
	if (!resume && size > EARLY_STATE_MIN &&
	    (rc = accel__save_state(a)) < 0) {
		accel__err(a, rc, a->state, "%s", strerror(-rc));
		return a->fatal;
	}
	a->res->bytes = size;
	a->mode = ACCEL_M_RANGES;
	a->kick = 1;
	return 0;
}

/* The probe's answer decides the mode and the plan. Returns 0, -EPROTO
 * when the reply is refused (c->fail says how), or the download's error
 * (a->fatal). */
int
accel__check_probe(struct accel *a, struct accel_conn *c)
{
	char *eff = NULL;
	int64_t size = -1;
	int rc, resume = a->saved != NULL;

	if ((rc = probe_size(a, c, &size)) < 0 ||
	    (rc = probe_meta(a, c, size)) < 0)
		return rc;
	curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff);
	if (eff != NULL && a->src[0].eff == NULL)
		a->src[0].eff = strdup(eff);
	if ((rc = accel__open_part(a, size < 0 ? 0 : size, !resume)) < 0) {
		a->res->kept = rc == -EEXIST;
		accel__err(a, rc, a->part, "%s",
			   rc == -EBUSY ?
				   "another download is writing it" :
			   rc == -EEXIST ?
				   "an earlier download's .part is there; "
				   "resume it with -c" :
			   rc == -ESTALE ?
				   "its size does not match its state file" :
			   rc == -ELOOP	 ? "is a symbolic link; not followed" :
			   rc == -EINVAL ? "is not a regular file" :
					   strerror(-rc));
		return a->fatal;
	}
	if (c->status == 200) {
		/* No ranges (or no length): one streamed connection. */
		a->mode = ACCEL_M_STREAM;
		c->range = -1;
		c->pos = 0;
		return 0;
	}
	if (start_ranges(a, size) < 0)
		return a->fatal;
	c->range = accel_plan_take_at(a->plan, a->probe_at);
	if (c->range < 0)
		c->stopped = 1;
	c->req_end = size;
	return 0;
}

/* Validates a ranged reply against the probe before any byte is kept. */
static int
check_range(struct accel *a, struct accel_conn *c)
{
	int64_t size = a->meta.size;

	if (c->status == 206) {
		if (c->has_cr != 1 || c->cr_total != size || !same_file(a, c)) {
			accel__why(c, ACCEL_F_CHANGED,
				   "file differs (size %" PRId64
				   ", ETag %s; expected %" PRId64 ", ETag %s)",
				   c->has_cr == 1 ? c->cr_total : (int64_t)-1,
				   c->etag[0] ? c->etag : "none", size,
				   a->meta.etag[0] ? a->meta.etag : "none");
			return -EPROTO;
		}
		if (c->cr_begin != c->req_begin ||
		    c->cr_end != c->req_end - 1) {
			accel__why(c, ACCEL_F_RETRY,
				   "sent bytes %" PRId64 "-%" PRId64
				   " when asked for %" PRId64 "-%" PRId64,
				   c->cr_begin, c->cr_end, c->req_begin,
				   c->req_end - 1);
			return -EPROTO;
		}
		return 0;
	}
	if (c->status == 200) {
		if ((c->clen >= 0 && c->clen != size) || !same_file(a, c))
			accel__why(c, ACCEL_F_CHANGED,
				   "file changed on the server "
				   "during the download (size %" PRId64
				   ", ETag %s; was %" PRId64 ", ETag %s)",
				   c->clen, c->etag[0] ? c->etag : "none", size,
				   a->meta.etag[0] ? a->meta.etag : "none");
		else
			accel__why(c, ACCEL_F_CHANGED,
				   "server stopped honouring "
				   "Range (HTTP 200 to a ranged request)");
		return -EPROTO;
	}
	accel__why(c, ACCEL_F_RETRY, "unexpected HTTP %d", c->status);
	return -EPROTO;
}

int
accel__flush(struct accel *a, struct accel_conn *c)
{
	int rc = 0;

	if (c->wlen > 0 && a->fd >= 0 &&
	    (rc = fsutil_write_all(a->fd, c->wbuf, c->wlen, c->wpos)) < 0) {
		a->write_lost = 1;
		accel__err(a, rc, a->part, "write: %s", strerror(-rc));
	}
	c->wlen = 0;
	return rc < 0 ? a->fatal : 0;
}

/* Adds n bytes at c->pos to what c writes next: one pwrite a quarter
 * MiB instead of one per piece libcurl hands over. The buffer is made
 * once a request has brought a quarter MiB; before, the pieces are
 * written as they come. A small file so takes no buffer: a fresh one
 * costs a page fault for each 4 KiB it holds, more than the three
 * writes it would save on 64 KiB. Returns 0 or the error recorded. */
static int
gather(struct accel *a, struct accel_conn *c, const char *p, size_t n)
{
	int rc;

	if (c->wlen > 0 &&
	    (c->wpos + (int64_t)c->wlen != c->pos || c->wlen + n > WBUF_SIZE) &&
	    accel__flush(a, c) < 0)
		return a->fatal;
	if (c->wbuf == NULL && n < WBUF_SIZE &&
	    c->pos - c->req_begin >= WBUF_SIZE)
		c->wbuf = malloc(WBUF_SIZE);
	if (c->wbuf == NULL || n >= WBUF_SIZE) {
		if ((rc = fsutil_write_all(a->fd, p, n, c->pos)) < 0)
			accel__err(a, rc, a->part, "write: %s", strerror(-rc));
		return rc < 0 ? a->fatal : 0;
	}
	if (c->wlen == 0)
		c->wpos = c->pos;
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += n;
	return 0;
}

/*
 * c's range is done and bytes keep coming: when the budget has no other
 * connection for the host, a request that runs to the end of the file
 * (the probe's) goes on into the range that starts there if no connection
 * has it: one request for several ranges instead of a cut and a new
 * request a range, each a round trip and often a new connection (-j 1
 * fetched a 10 MiB file behind a 50 ms delay in 0.8 s, not 0.1 s).
 * Returns whether so.
 */
static int
go_on(struct accel *a, struct accel_conn *c)
{
	int next;

	if (c->req_end >= 0 && c->req_end < a->meta.size)
		return 0;
	/* Only when no other connection could take that range now: with
	 * room in the budget, ranges in parallel are the point. */
	if (budget_host_room(a->budget, a->src[c->src].host))
		return 0;
	if ((next = accel_plan_take_at(a->plan, c->pos)) < 0)
		return 0;
	c->range = next;
	return 1;
}

size_t
accel__on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct accel_conn *c = arg;
	struct accel *a = c->a;
	size_t n = size * nmemb, take = n;
	int rc;

	if (!c->checked) {
		rc = c->probe ? accel__check_probe(a, c) : check_range(a, c);
		if (rc < 0)
			return 0;
		c->checked = 1;
		a->src[c->src].served = 1;
	}
	if (c->stopped || a->fatal)
		return 0;
	c->last_data = mtime_now();
	if (budget_rate_capped(a->budget)) {
		/* A token bucket over all connections (of every download
		 * sharing the budget): over it, the connection pauses and
		 * libcurl hands the same bytes back when the loop resumes
		 * it. */
		if (!budget_may_receive(a->budget, c->last_data, NULL)) {
			c->paused = 1;
			return CURL_WRITEFUNC_PAUSE;
		}
		budget_spend(a->budget, (long long)n);
	}
	for (size_t left = n; left > 0;) {
		take = left;
		if (a->mode == ACCEL_M_RANGES) {
			const struct accel_range *r =
				accel_plan_range(a->plan, c->range);

			if ((int64_t)take > r->end - c->pos)
				take = (size_t)(r->end - c->pos);
		}
		if (take > 0) {
			if (gather(a, c, ptr, take) < 0)
				return 0;
			if (a->mode == ACCEL_M_RANGES)
				accel_plan_advance(a->plan, c->range,
						   (int64_t)take);
			a->received += (int64_t)take;
			c->pos += (int64_t)take;
			c->got += (int64_t)take;
			ptr += take;
			left -= take;
		}
		if (left == 0)
			break;
		if (go_on(a, c))
			continue;
		/* Its range ends here (another connection took the rest):
		 * cutting the transfer is cheaper than reading on. */
		c->stopped = 1;
		return 0;
	}
	if (accel__feed(a, c, c->last_data))
		return 0;
	return n;
}
