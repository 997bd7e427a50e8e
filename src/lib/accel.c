/* accel.c -- the download engine: probe, parallel ranges, faults, resume. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "accel.h"

/*
 * One thread drives every connection through libcurl's multi interface:
 * N easy handles, each keeping its connection alive for its next range.
 * The planner is then touched by one thread only and needs no lock, the
 * CPU cost is one poll loop, and memory is N receive buffers whatever the
 * file size.
 */

#define MIN_PIECE	(64 * 1024)	/* smallest range worth a request */
#define RECV_BUF	(128 * 1024)	/* libcurl's buffer per connection */
#define SAVE_EVERY	1.0		/* seconds between state saves */
#define PROGRESS_EVERY	0.2
#define BACKOFF_FIRST	0.25		/* doubles each failed try */
#define BACKOFF_MAX	8.0
#define RETRY_AFTER_MAX	120.0
#define HASH_BUF	(256 * 1024)

enum mode { M_PROBE, M_RANGES, M_STREAM, M_DONE };
/* What a failed try means for the download. */
enum fail { F_NONE, F_RETRY, F_CHANGED, F_FATAL };

struct source {
	const char *url;	/* as given */
	char *eff;		/* after redirects, once known */
	int alive;
	int fails;		/* failed tries in a row */
	int users;		/* connections assigned to it */
};

struct conn {
	struct accel *a;
	CURL *easy;
	int src;
	int range;		/* plan index, -1 for none */
	int busy;		/* in the multi handle */
	int probe;		/* this try is the probe */
	int64_t req_begin, req_end;	/* asked [begin, end); end -1 open */
	int64_t pos;		/* next offset to write */
	int64_t got;		/* bytes written by this try */
	int checked;		/* response validated */
	int stopped;		/* cut on purpose at its range's end */
	int paused;		/* held back by --max-speed */
	double last_data;
	/* The current response's headers (reset at each status line). */
	int status;
	char reason[64];
	int has_cr;
	int64_t cr_begin, cr_end, cr_total;	/* total -1 for "*" */
	int64_t clen;
	char etag[256];
	char lastmod[64];
	double retry_after;	/* seconds, -1 when absent */
	/* Set by the callbacks when they refuse the transfer. */
	enum fail fail;
	char why[256];
};

struct accel {
	const struct accel_opts *o;
	struct accel_result *res;
	CURLM *multi;
	struct conn *conns;
	int nconns;
	struct source *src;
	int nsrc;
	enum mode mode;
	struct accel_plan *plan;
	struct accel_plan *saved;	/* plan read from the state file */
	struct accel_meta meta;
	struct curl_slist *hdrs;	/* for every ranged request */
	struct curl_slist *probe_hdrs;
	char *part, *state;
	int fd;
	int64_t probe_at;
	double probe_not_before;
	int probe_fails;
	int stream_done;
	int fatal;		/* -errno once the download has failed */
	int kick;		/* something changed: loop again without waiting */
	double tokens;		/* --max-speed: bytes that may arrive now */
	double last_refill;
	double t0;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
set_error(struct accel *a, int rc, const char *url, const char *fmt, ...)
{
	va_list ap;

	if (a->fatal)
		return;
	a->fatal = rc;
	snprintf(a->res->errurl, sizeof(a->res->errurl), "%s", url);
	va_start(ap, fmt);
	vsnprintf(a->res->errmsg, sizeof(a->res->errmsg), fmt, ap);
	va_end(ap);
}

static void
warn_msg(struct accel *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (a->o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->o->warn(msg, a->o->cb_arg);
}

static void
conn_why(struct conn *c, enum fail f, const char *fmt, ...)
{
	va_list ap;

	c->fail = f;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

static const char *
src_url(const struct source *s)
{
	return s->eff != NULL ? s->eff : s->url;
}

/* Header parsing. */

static void
copy_trimmed(char *out, size_t len, const char *v, size_t n)
{
	while (n > 0 && isspace((unsigned char)*v))
		v++, n--;
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

/* "bytes A-B/T" or "bytes * /T" (without the space). */
static void
parse_content_range(struct conn *c, const char *v)
{
	long long b, e, t;
	char star[2];

	c->has_cr = 0;
	if (sscanf(v, "bytes %lld-%lld/%lld", &b, &e, &t) == 3 && b >= 0 &&
	    e >= b && t > e) {
		c->cr_begin = b, c->cr_end = e, c->cr_total = t;
		c->has_cr = 1;
	} else if (sscanf(v, "bytes %lld-%lld/%1[*]", &b, &e, star) == 3 &&
		   b >= 0 && e >= b) {
		c->cr_begin = b, c->cr_end = e, c->cr_total = -1;
		c->has_cr = 1;
	} else if (sscanf(v, "bytes */%lld", &t) == 1 && t >= 0) {
		c->cr_begin = -1, c->cr_end = -1, c->cr_total = t;
		c->has_cr = 2;
	}
}

static void
parse_retry_after(struct conn *c, const char *v)
{
	char *end;
	double s = strtod(v, &end);
	time_t when;

	if (end != v && *end == '\0' && s >= 0) {
		c->retry_after = s;
		return;
	}
	if ((when = curl_getdate(v, NULL)) >= 0) {
		s = difftime(when, time(NULL));
		c->retry_after = s > 0 ? s : 0;
	}
}

static size_t
on_header(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct conn *c = arg;
	size_t n = size * nmemb;
	char name[32], val[512];
	const char *colon;
	int status;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): forget the
		 * last one's headers. */
		c->status = 0;
		c->reason[0] = '\0';
		c->has_cr = 0;
		c->clen = -1;
		c->etag[0] = c->lastmod[0] = '\0';
		c->retry_after = -1;
		copy_trimmed(val, sizeof(val), buf, n);
		if (sscanf(val, "HTTP/%*s %d", &status) == 1) {
			const char *sp = strchr(val, ' ');

			c->status = status;
			sp = sp != NULL ? strchr(sp + 1, ' ') : NULL;
			if (sp != NULL)
				copy_trimmed(c->reason, sizeof(c->reason), sp,
					     strlen(sp));
		}
		return n;
	}
	if ((colon = memchr(buf, ':', n)) == NULL ||
	    (size_t)(colon - buf) >= sizeof(name))
		return n;
	copy_trimmed(name, sizeof(name), buf, (size_t)(colon - buf));
	copy_trimmed(val, sizeof(val), colon + 1, n - (size_t)(colon - buf) - 1);
	if (strcasecmp(name, "Content-Range") == 0)
		parse_content_range(c, val);
	else if (strcasecmp(name, "ETag") == 0)
		copy_trimmed(c->etag, sizeof(c->etag), val, strlen(val));
	else if (strcasecmp(name, "Last-Modified") == 0)
		copy_trimmed(c->lastmod, sizeof(c->lastmod), val, strlen(val));
	else if (strcasecmp(name, "Retry-After") == 0)
		parse_retry_after(c, val);
	else if (strcasecmp(name, "Content-Length") == 0) {
		char *end;
		long long v = strtoll(val, &end, 10);

		if (end != val && *end == '\0' && v >= 0)
			c->clen = v;
	}
	return n;
}

/* Whether the response's validator is the probe's one. */
static int
same_file(const struct accel *a, const struct conn *c)
{
	if (a->meta.etag[0])
		return strcmp(a->meta.etag, c->etag) == 0;
	if (a->meta.lastmod[0])
		return strcmp(a->meta.lastmod, c->lastmod) == 0;
	return 1;
}

static int
open_part(struct accel *a, int64_t size, int fresh)
{
	struct stat st;
	int flags = O_RDWR | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0);

	/* A streamed download that restarts opens its file again. */
	if (a->fd >= 0)
		close(a->fd);
	if ((a->fd = open(a->part, flags, 0644)) < 0)
		return -errno;
	/* Two downloads into one .part would corrupt each other. */
	if (flock(a->fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	if (!fresh) {
		if (fstat(a->fd, &st) < 0)
			return -errno;
		if (st.st_size != size)
			return -ESTALE;
		return 0;
	}
	if (size > 0) {
		int rc = posix_fallocate(a->fd, 0, size);

		/* Some file systems cannot preallocate; pwrite still fills
		 * the file, only less compactly. */
		if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL)
			return -rc;
		if (rc != 0 && ftruncate(a->fd, size) < 0)
			return -errno;
	}
	return 0;
}

static int
make_headers(struct accel *a)
{
	char h[400];
	struct curl_slist *l;

	a->hdrs = curl_slist_append(NULL, "Accept-Encoding: identity");
	if (a->hdrs == NULL)
		return -ENOMEM;
	/* If-Range makes a server whose file changed answer 200 with the
	 * whole new file instead of a slice of it; a weak ETag is not
	 * allowed there, a date is. */
	h[0] = '\0';
	if (a->meta.etag[0] && strncmp(a->meta.etag, "W/", 2) != 0)
		snprintf(h, sizeof(h), "If-Range: %s", a->meta.etag);
	else if (a->meta.lastmod[0])
		snprintf(h, sizeof(h), "If-Range: %s", a->meta.lastmod);
	if (h[0]) {
		if ((l = curl_slist_append(a->hdrs, h)) == NULL)
			return -ENOMEM;
		a->hdrs = l;
	}
	return 0;
}

/* The probe's answer decides the mode and the plan. Returns 0 or sets
 * c->fail (or a->fatal). */
static int
check_probe(struct accel *a, struct conn *c)
{
	const char *url = a->o->urls[0];
	char *eff = NULL;
	int64_t size;
	int rc, resume = a->saved != NULL;

	curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &eff);
	if (c->status == 206) {
		if (c->has_cr != 1 || c->cr_begin != a->probe_at ||
		    c->cr_total < 0 || c->cr_end != c->cr_total - 1) {
			conn_why(c, F_RETRY, "bad Content-Range in reply to "
				 "bytes=%" PRId64 "-", a->probe_at);
			return -1;
		}
		size = c->cr_total;
	} else if (c->status == 200 && !resume) {
		size = c->clen;
	} else if (c->status == 200) {
		set_error(a, -ESTALE, url, "the server ignores Range now; "
			  "cannot resume (remove %s to start over)", a->part);
		return -1;
	} else {
		conn_why(c, F_RETRY, "unexpected HTTP %d", c->status);
		return -1;
	}
	if (resume) {
		int same = size == a->meta.size;

		if (same && a->meta.etag[0])
			same = strcmp(a->meta.etag, c->etag) == 0;
		else if (same && a->meta.lastmod[0])
			same = strcmp(a->meta.lastmod, c->lastmod) == 0;
		if (!same) {
			set_error(a, -ESTALE, url, "%s does not match the "
				  "file on the server now (size %" PRId64
				  " ETag %s, was %" PRId64 " ETag %s); remove "
				  "it and %s to start over", a->state, size,
				  c->etag[0] ? c->etag : "none", a->meta.size,
				  a->meta.etag[0] ? a->meta.etag : "none",
				  a->part);
			return -1;
		}
	} else {
		a->meta.size = size;
		snprintf(a->meta.url, sizeof(a->meta.url), "%s", url);
		snprintf(a->meta.etag, sizeof(a->meta.etag), "%s", c->etag);
		snprintf(a->meta.lastmod, sizeof(a->meta.lastmod), "%s",
			 c->lastmod);
	}
	if (eff != NULL && a->src[0].eff == NULL)
		a->src[0].eff = strdup(eff);
	if ((rc = open_part(a, size < 0 ? 0 : size, !resume)) < 0) {
		set_error(a, rc, a->part, "%s", rc == -EBUSY ?
			  "another download is writing it" : rc == -ESTALE ?
			  "its size does not match its state file" :
			  strerror(-rc));
		return -1;
	}
	if (c->status == 200) {
		/* No ranges (or no length): one streamed connection. */
		a->mode = M_STREAM;
		c->range = -1;
		c->pos = 0;
		return 0;
	}
	if ((rc = make_headers(a)) < 0) {
		set_error(a, rc, url, "%s", strerror(-rc));
		return -1;
	}
	if (resume) {
		a->plan = a->saved;
		a->saved = NULL;
	} else if ((a->plan = accel_plan_new(size, a->nconns, MIN_PIECE)) ==
		   NULL) {
		set_error(a, -ENOMEM, url, "%s", strerror(ENOMEM));
		return -1;
	}
	a->res->bytes = size;
	a->mode = M_RANGES;
	a->kick = 1;
	c->range = accel_plan_take_at(a->plan, a->probe_at);
	if (c->range < 0)
		c->stopped = 1;
	c->req_end = size;
	return 0;
}

/* Validates a ranged reply against the probe before any byte is kept. */
static int
check_range(struct accel *a, struct conn *c)
{
	int64_t size = a->meta.size;

	if (c->status == 206) {
		if (c->has_cr != 1 || c->cr_total != size || !same_file(a, c)) {
			conn_why(c, F_CHANGED, "file differs (size %" PRId64
				 ", ETag %s; expected %" PRId64 ", ETag %s)",
				 c->has_cr == 1 ? c->cr_total : (int64_t)-1,
				 c->etag[0] ? c->etag : "none", size,
				 a->meta.etag[0] ? a->meta.etag : "none");
			return -1;
		}
		if (c->cr_begin != c->req_begin ||
		    c->cr_end != c->req_end - 1) {
			conn_why(c, F_RETRY, "sent bytes %" PRId64 "-%" PRId64
				 " when asked for %" PRId64 "-%" PRId64,
				 c->cr_begin, c->cr_end, c->req_begin,
				 c->req_end - 1);
			return -1;
		}
		return 0;
	}
	if (c->status == 200) {
		if ((c->clen >= 0 && c->clen != size) || !same_file(a, c))
			conn_why(c, F_CHANGED, "file changed on the server "
				 "during the download (size %" PRId64
				 ", ETag %s; was %" PRId64 ", ETag %s)",
				 c->clen, c->etag[0] ? c->etag : "none", size,
				 a->meta.etag[0] ? a->meta.etag : "none");
		else
			conn_why(c, F_CHANGED, "server stopped honouring "
				 "Range (HTTP 200 to a ranged request)");
		return -1;
	}
	conn_why(c, F_RETRY, "unexpected HTTP %d", c->status);
	return -1;
}

static int
pwrite_all(int fd, const char *p, size_t n, int64_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w, n -= (size_t)w, off += w;
	}
	return 0;
}

static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct conn *c = arg;
	struct accel *a = c->a;
	size_t n = size * nmemb, take = n;
	int rc;

	if (!c->checked) {
		if ((c->probe ? check_probe(a, c) : check_range(a, c)) < 0)
			return 0;
		c->checked = 1;
	}
	if (c->stopped || a->fatal)
		return 0;
	c->last_data = now_s();
	if (a->o->max_speed > 0) {
		/* A token bucket over all connections: over budget, the
		 * connection pauses and libcurl hands the same bytes back
		 * when the loop resumes it. */
		if (a->tokens <= 0) {
			c->paused = 1;
			return CURL_WRITEFUNC_PAUSE;
		}
		a->tokens -= (double)n;
	}
	if (a->mode == M_RANGES) {
		const struct accel_range *r = accel_plan_range(a->plan,
							       c->range);

		if ((int64_t)take > r->end - c->pos)
			take = (size_t)(r->end - c->pos);
	}
	if (take > 0) {
		if ((rc = pwrite_all(a->fd, ptr, take, c->pos)) < 0) {
			set_error(a, rc, a->part, "write: %s", strerror(-rc));
			return 0;
		}
		if (a->mode == M_RANGES)
			accel_plan_advance(a->plan, c->range, (int64_t)take);
		c->pos += (int64_t)take;
		c->got += (int64_t)take;
	}
	if (take < n) {
		/* Its range ends here (another connection took the rest):
		 * cutting the transfer is cheaper than reading on. */
		c->stopped = 1;
		return 0;
	}
	return n;
}

static int
conn_start(struct accel *a, struct conn *c, int64_t begin, int64_t end)
{
	const struct source *s = &a->src[c->src];
	char range[64];
	CURLMcode mc;

	c->req_begin = begin;
	c->req_end = end;
	c->pos = begin;
	c->got = 0;
	c->checked = c->stopped = c->paused = 0;
	c->fail = F_NONE;
	c->why[0] = '\0';
	c->status = 0;
	c->has_cr = 0;
	c->retry_after = -1;
	c->last_data = now_s();
	if (end < 0)
		snprintf(range, sizeof(range), "%" PRId64 "-", begin);
	else
		snprintf(range, sizeof(range), "%" PRId64 "-%" PRId64, begin,
			 end - 1);
	curl_easy_setopt(c->easy, CURLOPT_URL, src_url(s));
	curl_easy_setopt(c->easy, CURLOPT_RANGE, range);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER,
			 c->probe ? a->probe_hdrs : a->hdrs);
	if ((mc = curl_multi_add_handle(a->multi, c->easy)) != CURLM_OK) {
		set_error(a, -ENOMEM, src_url(s), "%s",
			  curl_multi_strerror(mc));
		return -1;
	}
	c->busy = 1;
	return 0;
}

static void
conn_stop(struct accel *a, struct conn *c)
{
	if (c->busy) {
		curl_multi_remove_handle(a->multi, c->easy);
		c->busy = 0;
	}
}

static int
alive_sources(const struct accel *a)
{
	int n = 0;

	for (int i = 0; i < a->nsrc; i++)
		n += a->src[i].alive;
	return n;
}

static void
drop_source(struct accel *a, int i, const char *why)
{
	if (!a->src[i].alive)
		return;
	a->src[i].alive = 0;
	warn_msg(a, "%s: %s; mirror dropped", a->src[i].url, why);
}

/* Moves c to the live source with the fewest connections. */
static void
pick_source(struct accel *a, struct conn *c)
{
	int best = -1;

	if (a->src[c->src].alive)
		return;
	for (int i = 0; i < a->nsrc; i++)
		if (a->src[i].alive &&
		    (best < 0 || a->src[i].users < a->src[best].users))
			best = i;
	if (best < 0)
		return;
	a->src[c->src].users--;
	a->src[best].users++;
	c->src = best;
}

static double
backoff(int fails, double retry_after)
{
	double d = BACKOFF_FIRST;

	if (retry_after >= 0)
		return retry_after < RETRY_AFTER_MAX ? retry_after :
						       RETRY_AFTER_MAX;
	for (int i = 1; i < fails && d < BACKOFF_MAX; i++)
		d *= 2;
	return d < BACKOFF_MAX ? d : BACKOFF_MAX;
}

/* Sorts a finished or abandoned try into success or a kind of failure. */
static enum fail
classify(struct accel *a, struct conn *c, CURLcode res)
{
	if (c->fail != F_NONE)
		return c->fail;
	if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && c->stopped))
		return F_NONE;
	if (res == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(c->why, sizeof(c->why), "HTTP %d%s%s", c->status,
			 c->reason[0] ? " " : "", c->reason);
		if (c->status == 429 || c->status >= 500)
			return F_RETRY;
		return F_FATAL;
	}
	snprintf(c->why, sizeof(c->why), "%s", curl_easy_strerror(res));
	switch (res) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_FILESIZE_EXCEEDED:
		return F_FATAL;
	case CURLE_WRITE_ERROR:
		if (a->fatal)
			return F_FATAL;
		return F_RETRY;
	default:
		return F_RETRY;
	}
}

/*
 * A 416 to "bytes=0-" without the size in it: only an empty file should
 * get that. Falls back to HEAD to learn the size. Returns it, or -1.
 */
static int64_t
head_size(struct accel *a, struct conn *c)
{
	curl_off_t len = -1;
	CURL *h = curl_easy_duphandle(c->easy);
	long code = 0;

	if (h == NULL)
		return -1;
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_RANGE, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(a->o->timeout * 1000));
	if (curl_easy_perform(h) == CURLE_OK &&
	    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code == 200)
		curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	curl_easy_cleanup(h);
	return len;
}

/* The probe failed: retry it, or give up. */
static void
probe_failed(struct accel *a, struct conn *c, enum fail f)
{
	a->probe_fails++;
	if (f == F_RETRY && a->probe_fails < a->o->retries) {
		a->probe_not_before = now_s() +
				      backoff(a->probe_fails, c->retry_after);
		return;
	}
	set_error(a, -EIO, a->o->urls[0], "%s%s", c->why,
		  f == F_RETRY ? " (gave up after retries)" : "");
}

/* A try of the probe connection, the stream or a range has ended. */
static void
conn_done(struct accel *a, struct conn *c, CURLcode res)
{
	struct source *s = &a->src[c->src];
	enum fail f;
	int range = c->range;

	conn_stop(a, c);
	a->kick = 1;
	f = classify(a, c, res);
	if (a->fatal)
		return;
	if (c->probe && a->mode == M_PROBE) {
		/* No body came (an error, or an empty file). */
		if (f == F_NONE && c->status == 200 && c->clen <= 0) {
			if (check_probe(a, c) == 0)
				a->stream_done = 1;
			return;
		}
		if (f == F_FATAL && c->status == 416 && a->saved == NULL &&
		    ((c->has_cr == 2 && c->cr_total == 0) ||
		     (c->has_cr != 2 && head_size(a, c) == 0))) {
			/* "bytes=0-" of an empty file. */
			c->status = 200;
			c->clen = 0;
			if (check_probe(a, c) == 0)
				a->stream_done = 1;
			return;
		}
		if (f == F_NONE)
			conn_why(c, F_RETRY, "no reply body");
		probe_failed(a, c, f == F_NONE ? F_RETRY : f);
		return;
	}
	c->probe = 0;
	if (a->mode == M_STREAM) {
		if (f == F_NONE && (a->meta.size < 0 ||
				    c->pos == a->meta.size)) {
			a->res->bytes = c->pos;
			a->stream_done = 1;
			return;
		}
		if (f == F_NONE)
			conn_why(c, F_RETRY, "short reply");
		/* Without ranges the only retry is from the start. */
		c->probe = 1;
		a->mode = M_PROBE;
		probe_failed(a, c, f == F_NONE ? F_RETRY : f);
		return;
	}
	c->range = -1;
	if (f == F_NONE) {
		if (range >= 0 &&
		    accel_plan_range(a->plan, range)->state != ACCEL_DONE) {
			f = F_RETRY;
			snprintf(c->why, sizeof(c->why), "reply ended early");
		} else {
			s->fails = 0;
			return;
		}
	}
	if (f == F_CHANGED && c->src == 0) {
		set_error(a, -ESTALE, src_url(s), "%s", c->why);
		return;
	}
	if (f == F_CHANGED || (f == F_FATAL && c->src != 0)) {
		/* A mirror that disagrees with the first URL is not used. */
		if (alive_sources(a) > 1 || c->src != 0)
			drop_source(a, c->src, c->why);
		if (range >= 0)
			accel_plan_release(a->plan, range, 0);
		if (alive_sources(a) == 0)
			set_error(a, -EIO, s->url, "%s", c->why);
		return;
	}
	if (f == F_FATAL) {
		set_error(a, -EIO, src_url(s), "%s", c->why);
		return;
	}
	/* F_RETRY: only the missing bytes are asked again. */
	if (range < 0)
		return;
	{
		const struct accel_range *r = accel_plan_range(a->plan, range);
		int fails;

		if (alive_sources(a) > 1) {
			/* Several sources: the blame is the source's. */
			fails = accel_plan_failed(a->plan, range, c->got > 0, 0);
			if (++s->fails >= a->o->retries)
				drop_source(a, c->src, c->why);
		} else {
			fails = accel_plan_failed(a->plan, range, c->got > 0, 1);
			if (fails >= a->o->retries) {
				set_error(a, -EIO, src_url(s), "%s (bytes %"
					  PRId64 "-%" PRId64 ", after %d "
					  "tries)", c->why, r->cur, r->end - 1,
					  fails);
				return;
			}
		}
		accel_plan_release(a->plan, range,
				   now_s() + backoff(fails ? fails : 1,
						     c->retry_after));
	}
}

static int
save_state(struct accel *a)
{
	/* The data first: the state must never describe bytes that are
	 * not yet on disk. */
	if (fdatasync(a->fd) < 0)
		return -errno;
	return accel_plan_store(a->plan, &a->meta, a->state);
}

/* Gives work to the connections that have none. */
static void
schedule(struct accel *a, double now, double *wake)
{
	if (a->mode == M_PROBE) {
		struct conn *c = &a->conns[0];

		if (c->busy)
			return;
		if (now < a->probe_not_before) {
			*wake = a->probe_not_before;
			return;
		}
		c->probe = 1;
		conn_start(a, c, a->probe_at, -1);
		return;
	}
	if (a->mode != M_RANGES)
		return;
	for (int i = 0; i < a->nconns && !a->fatal; i++) {
		struct conn *c = &a->conns[i];
		double until = 0;
		int r;

		if (c->busy)
			continue;
		pick_source(a, c);
		r = accel_plan_take(a->plan, now, &until);
		if (r == -EAGAIN) {
			*wake = until;
			return;
		}
		if (r < 0)
			return;
		c->range = r;
		{
			const struct accel_range *rr = accel_plan_range(a->plan,
									r);

			conn_start(a, c, rr->cur, rr->end);
		}
	}
}

static void
check_stalls(struct accel *a, double now)
{
	for (int i = 0; i < a->nconns; i++) {
		struct conn *c = &a->conns[i];

		if (!c->busy || c->paused ||
		    now - c->last_data < a->o->timeout)
			continue;
		conn_why(c, F_RETRY, "no data for %g s", a->o->timeout);
		conn_done(a, c, CURLE_OPERATION_TIMEDOUT);
	}
}

/* --max-speed: tops the bucket up and resumes paused connections. */
static void
refill(struct accel *a, double now, double *wake)
{
	double rate = (double)a->o->max_speed, burst = rate / 20;

	if (rate <= 0)
		return;
	if (burst < 16384)
		burst = 16384;
	a->tokens += rate * (now - a->last_refill);
	if (a->tokens > burst)
		a->tokens = burst;
	a->last_refill = now;
	if (a->tokens <= 0) {
		double t = now - a->tokens / rate;

		if (*wake <= now || t < *wake)
			*wake = t;
		return;
	}
	for (int i = 0; i < a->nconns; i++) {
		struct conn *c = &a->conns[i];

		if (c->busy && c->paused) {
			c->paused = 0;
			c->last_data = now;
			curl_easy_pause(c->easy, CURLPAUSE_CONT);
		}
	}
}

static void
report(struct accel *a, double now)
{
	struct accel_stats st;

	if (a->o->progress == NULL)
		return;
	st.total = a->mode == M_RANGES ? a->meta.size :
		   a->mode == M_STREAM ? a->meta.size : -1;
	st.done = a->mode == M_RANGES ? accel_plan_done_bytes(a->plan) :
		  a->mode == M_STREAM ? a->conns[0].pos : 0;
	st.conns = 0;
	for (int i = 0; i < a->nconns; i++)
		st.conns += a->conns[i].busy && now - a->conns[i].last_data < 1;
	st.elapsed = now - a->t0;
	a->o->progress(&st, a->o->cb_arg);
}

static int
verify_sha256(struct accel *a)
{
	unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = NULL;
	int64_t off = 0;
	ssize_t n;
	int rc = -ENOMEM;

	if ((buf = malloc(HASH_BUF)) == NULL ||
	    (ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	rc = -EIO;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = pread(a->fd, buf, HASH_BUF, off)) > 0) {
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
		off += n;
	}
	if (n < 0) {
		rc = -errno;
		goto out;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
		goto out;
	rc = memcmp(md, a->o->sha256, 32) == 0 ? 0 : -EBADMSG;
	if (rc < 0) {
		char hex[65];

		for (int i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		set_error(a, rc, a->o->urls[0], "sha256 mismatch: got %s", hex);
	}
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* The download is whole: check, make durable, give it its name. */
static int
finish(struct accel *a)
{
	int rc;

	if (a->o->sha256 != NULL && (rc = verify_sha256(a)) < 0) {
		if (rc != -EBADMSG)
			set_error(a, rc, a->part, "read: %s", strerror(-rc));
		unlink(a->part);
		unlink(a->state);
		return rc;
	}
	if (fdatasync(a->fd) < 0 || rename(a->part, a->o->path) < 0) {
		rc = -errno;
		set_error(a, rc, a->o->path, "%s", strerror(errno));
		return rc;
	}
	unlink(a->state);
	return 0;
}

static int
setup_conn(struct accel *a, struct conn *c)
{
	c->a = a;
	c->range = -1;
	if ((c->easy = curl_easy_init()) == NULL)
		return -ENOMEM;
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c->easy, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_FAILONERROR, 1L);
	/* HTTP/2 would multiplex every range over one connection, which is
	 * exactly what a server capping each connection would throttle. */
	curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION,
			 (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_BUFFERSIZE, (long)RECV_BUF);
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT,
			 "netthreads-download-accelerator");
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(a->o->timeout * 1000) + 1);
	if (a->o->cacert != NULL)
		curl_easy_setopt(c->easy, CURLOPT_CAINFO, a->o->cacert);
	return 0;
}

/* Reads NAME.part.state for -c. Returns 0 (a->saved set, or not when
 * there is nothing to resume) or -1 with the error set. */
static int
load_state(struct accel *a)
{
	FILE *f = fopen(a->state, "r");
	int64_t first = -1;

	if (f == NULL) {
		if (errno != ENOENT) {
			set_error(a, -errno, a->state, "%s", strerror(errno));
			return -1;
		}
		warn_msg(a, "%s: no saved state; starting from the beginning",
			 a->state);
		return 0;
	}
	a->saved = accel_plan_load(f, &a->meta, MIN_PIECE);
	fclose(f);
	if (a->saved == NULL) {
		set_error(a, -EINVAL, a->state, "not a valid state file; "
			  "remove it and %s to start over", a->part);
		return -1;
	}
	for (int i = 0; i < accel_plan_count(a->saved); i++) {
		const struct accel_range *r = accel_plan_range(a->saved, i);

		if (r->cur < r->end && (first < 0 || r->cur < first))
			first = r->cur;
	}
	a->probe_at = first < 0 ? 0 : first;
	a->res->resumed_from = accel_plan_done_bytes(a->saved);
	return 0;
}

static char *
concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s != NULL) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

static int
run(struct accel *a)
{
	const struct accel_opts *o = a->o;
	double last_save, last_report = 0, now;
	int running, msgs, rc;
	CURLMsg *m;

	if ((a->part = concat(o->path, ".part")) == NULL ||
	    (a->state = concat(a->part, ".state")) == NULL ||
	    (a->multi = curl_multi_init()) == NULL ||
	    (a->conns = calloc((size_t)o->conns, sizeof(*a->conns))) == NULL ||
	    (a->src = calloc((size_t)o->nurls, sizeof(*a->src))) == NULL ||
	    (a->probe_hdrs = curl_slist_append(NULL,
			"Accept-Encoding: identity")) == NULL) {
		set_error(a, -ENOMEM, o->urls[0], "%s", strerror(ENOMEM));
		return a->fatal;
	}
	a->nconns = o->conns;
	a->nsrc = o->nurls;
	for (int i = 0; i < a->nsrc; i++) {
		a->src[i].url = o->urls[i];
		a->src[i].alive = 1;
	}
	for (int i = 0; i < a->nconns; i++) {
		if (setup_conn(a, &a->conns[i]) < 0) {
			set_error(a, -ENOMEM, o->urls[0], "%s",
				  strerror(ENOMEM));
			return a->fatal;
		}
		a->conns[i].src = i % a->nsrc;
		a->src[i % a->nsrc].users++;
	}
	/* Each connection keeps its own socket; no more are opened. */
	curl_multi_setopt(a->multi, CURLMOPT_MAXCONNECTS, (long)a->nconns);
	if (o->resume && load_state(a) < 0)
		return a->fatal;
	last_save = a->last_refill = now_s();
	while (!a->fatal) {
		double wake = 0;

		now = now_s();
		if (o->stop != NULL && *o->stop) {
			set_error(a, -EINTR, o->urls[0], "interrupted");
			break;
		}
		if ((a->mode == M_RANGES && accel_plan_complete(a->plan)) ||
		    a->stream_done) {
			report(a, now);
			a->mode = M_DONE;
			break;
		}
		schedule(a, now, &wake);
		if (a->fatal)
			break;
		curl_multi_perform(a->multi, &running);
		while ((m = curl_multi_info_read(a->multi, &msgs)) != NULL) {
			struct conn *c;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&c);
			conn_done(a, c, m->data.result);
		}
		now = now_s();
		refill(a, now, &wake);
		check_stalls(a, now);
		if (now - last_report >= PROGRESS_EVERY) {
			report(a, now);
			last_report = now;
		}
		if (a->mode == M_RANGES && now - last_save >= SAVE_EVERY) {
			if ((rc = save_state(a)) < 0)
				set_error(a, rc, a->state, "%s",
					  strerror(-rc));
			last_save = now;
		}
		{
			int ms = a->kick ? 0 : 100;

			a->kick = 0;
			if (wake > now && (wake - now) * 1000 < ms)
				ms = (int)((wake - now) * 1000) + 1;
			curl_multi_poll(a->multi, NULL, 0, ms, NULL);
		}
	}
	for (int i = 0; i < a->nconns; i++)
		conn_stop(a, &a->conns[i]);
	if (a->mode == M_DONE) {
		if (a->res->bytes == 0 && a->plan == NULL)
			a->res->bytes = a->conns[0].pos;
		return finish(a);
	}
	/* Stopped or failed: what is on disk stays usable for -c, unless
	 * it belongs to a file that changed under us. */
	if (a->mode == M_RANGES) {
		if (a->fatal == -ESTALE) {
			unlink(a->part);
			unlink(a->state);
		} else if ((rc = save_state(a)) < 0 && a->fatal == -EINTR) {
			a->fatal = 0;
			set_error(a, rc, a->state, "%s", strerror(-rc));
		}
	}
	return a->fatal;
}

int
accel_run(const struct accel_opts *o, struct accel_result *res)
{
	struct accel a;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&a, 0, sizeof(a));
	a.o = o;
	a.res = res;
	a.fd = -1;
	a.meta.size = -1;
	a.t0 = now_s();
	if (o->nurls < 1 || o->conns < 1 || o->retries < 1 ||
	    o->path == NULL) {
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
			 strerror(EINVAL));
		return -EINVAL;
	}
	rc = run(&a);
	res->seconds = now_s() - a.t0;
	for (int i = 0; i < a.nconns; i++)
		curl_easy_cleanup(a.conns[i].easy);
	curl_multi_cleanup(a.multi);
	for (int i = 0; i < a.nsrc; i++)
		free(a.src[i].eff);
	free(a.src);
	free(a.conns);
	curl_slist_free_all(a.hdrs);
	curl_slist_free_all(a.probe_hdrs);
	accel_plan_free(a.plan);
	accel_plan_free(a.saved);
	if (a.fd >= 0)
		close(a.fd);
	free(a.part);
	free(a.state);
	return rc;
}

int
accel_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void
accel_global_cleanup(void)
{
	curl_global_cleanup();
}
