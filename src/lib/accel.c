/* SPDX-License-Identifier: ISC */
/* accel.c -- the download engine: probe, parallel ranges, faults, resume. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "accel.h"
#include "accel_int.h"
#include "display.h"
#include "mtime.h"
#include "urlname.h"

#ifndef NT_VERSION
#define NT_VERSION "unknown"
#endif

/*
 * One thread drives every connection through libcurl's multi interface:
 * N easy handles, each keeping its connection alive for its next range.
 * The planner is then touched by one thread only and needs no lock, the
 * CPU cost is one poll loop, and memory is N receive buffers whatever the
 * file size.
 */

static const char *
src_url(const struct accel_source *s)
{
	return s->eff != NULL ? s->eff : s->url;
}

static int conn_easy(struct accel *a, struct accel_conn *c);
static struct accel_conn *conn_at(struct accel *a, int i);

static void
mark_used(struct accel *a, const struct accel_conn *c)
{
	int i = (int)(c - a->conns);

	if (i >= a->nused)
		a->nused = i + 1;
}

static int
conn_start(struct accel *a, struct accel_conn *c, int64_t begin, int64_t end)
{
	const struct accel_source *s = &a->src[c->src];
	char range[64];
	CURLMcode mc;
	int rc;

	if (conn_easy(a, c) < 0)
		return a->fatal;
	if (a->mode == ACCEL_M_RANGES && !c->probe && a->hdrs == NULL &&
	    (rc = accel__make_headers(a)) < 0) {
		accel__err(a, rc, a->o->urls[0], "%s", strerror(-rc));
		return a->fatal;
	}
	mark_used(a, c);
	c->req_begin = begin;
	c->req_end = end;
	c->pos = begin;
	c->got = 0;
	c->checked = c->stopped = c->shed = c->paused = c->slow = 0;
	c->fail = ACCEL_F_NONE;
	c->why[0] = c->errbuf[0] = '\0';
	c->status = 0;
	c->has_cr = 0;
	c->retry_after = -1;
	c->last_data = c->win_start = mtime_now();
	c->win_got = 0;
	if (end < 0)
		snprintf(range, sizeof(range), "%" PRId64 "-", begin);
	else
		snprintf(range, sizeof(range), "%" PRId64 "-%" PRId64, begin,
			 end - 1);
	curl_easy_setopt(c->easy, CURLOPT_URL, src_url(s));
	curl_easy_setopt(c->easy, CURLOPT_RANGE, a->no_ranges ? NULL : range);
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER,
			 c->probe ? a->probe_hdrs : a->hdrs);
	if ((mc = curl_multi_add_handle(a->multi, c->easy)) != CURLM_OK) {
		accel__err(a, -ENOMEM, src_url(s), "%s",
			   curl_multi_strerror(mc));
		return a->fatal;
	}
	c->busy = 1;
	return 0;
}

static void
conn_stop(struct accel *a, struct accel_conn *c)
{
	if (c->busy) {
		curl_multi_remove_handle(a->multi, c->easy);
		c->busy = 0;
	}
	accel__flush(a, c);
	if (c->slot) {
		budget_put(a->budget, a->src[c->src].host);
		c->slot = 0;
	}
}

/* A connection of the budget for c's source (another live source when
 * that one's host is full). Returns 0, or -EAGAIN: none free now. */
static int
conn_slot(struct accel *a, struct accel_conn *c)
{
	if (c->slot)
		return 0;
	for (int k = 0; k < a->nsrc; k++) {
		int i = (c->src + k) % a->nsrc;

		if (!a->src[i].alive && k > 0)
			continue;
		if (budget_take(a->budget, a->src[i].host) == 0) {
			a->src[c->src].users--;
			a->src[i].users++;
			c->src = i;
			c->slot = 1;
			mark_used(a, c);
			return 0;
		}
	}
	return -EAGAIN;
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
	char u[SHOWN_URL];

	if (!a->src[i].alive)
		return;
	a->src[i].alive = 0;
	accel__warn(a, "%s: %s; mirror dropped",
		    display_url(a->src[i].url, u, sizeof(u)), why);
}

/* Moves c to the live source with the fewest connections. */
static void
pick_source(struct accel *a, struct accel_conn *c)
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
backoff(const struct accel *a, int fails, double retry_after)
{
	double d = a->o->backoff > 0 ? a->o->backoff : BACKOFF_FIRST;

	if (retry_after >= 0)
		return retry_after < RETRY_AFTER_MAX ? retry_after :
						       RETRY_AFTER_MAX;
	for (int i = 1; i < fails && d < BACKOFF_MAX; i++)
		d *= 2;
	return d < BACKOFF_MAX ? d : BACKOFF_MAX;
}

/* Connections with a transfer in the multi handle. */
static int
busy_conns(const struct accel *a)
{
	int n = 0;

	for (int i = 0; i < a->nused; i++)
		n += a->conns[i].busy;
	return n;
}

/* Sorts a finished or abandoned try into success or a kind of failure. */
static enum accel_fail
classify(struct accel *a, struct accel_conn *c, CURLcode res)
{
	if (c->fail != ACCEL_F_NONE)
		return c->fail;
	if (res == CURLE_OK || (res == CURLE_WRITE_ERROR && c->stopped))
		return ACCEL_F_NONE;
	c->refused = res == CURLE_COULDNT_CONNECT ||
		     (res == CURLE_HTTP_RETURNED_ERROR &&
		      (c->status == 429 || c->status == 503));
	if (res == CURLE_HTTP_RETURNED_ERROR) {
		snprintf(c->why, sizeof(c->why), "HTTP %d%s%s", c->status,
			 c->reason[0] ? " " : "", c->reason);
		if (c->status == 429 || c->status >= 500)
			return ACCEL_F_RETRY;
		return ACCEL_F_FATAL;
	}
	snprintf(c->why, sizeof(c->why), "%s",
		 c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
	/* libcurl refuses a reply whose header (a line, or all of it) is
	 * over 100 KiB with CURLE_OUT_OF_MEMORY, without a word in the error
	 * buffer (7.88); a real allocation failure there is far less likely.
	 * It is the server's doing, and asking again cannot help. */
	if (res == CURLE_OUT_OF_MEMORY) {
		snprintf(c->why, sizeof(c->why),
			 "reply header too large "
			 "(over libcurl's 100 KiB limit)");
		return ACCEL_F_FATAL;
	}
	switch (res) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_TOO_MANY_REDIRECTS:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_BAD_CONTENT_ENCODING:
		return ACCEL_F_FATAL;
	case CURLE_WRITE_ERROR:
		if (a->fatal)
			return ACCEL_F_FATAL;
		return ACCEL_F_RETRY;
	default:
		return ACCEL_F_RETRY;
	}
}

/*
 * A 416 to "bytes=0-" without the size in it: only an empty file should
 * get that. Falls back to HEAD to learn the size. Returns it, or -1.
 */
static int64_t
head_size(struct accel *a, struct accel_conn *c)
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
probe_failed(struct accel *a, struct accel_conn *c, enum accel_fail f)
{
	a->probe_fails++;
	if (f == ACCEL_F_RETRY && a->probe_fails < a->o->retries) {
		a->probe_not_before = mtime_now() + backoff(a, a->probe_fails,
							    c->retry_after);
		return;
	}
	accel__err(a, -EIO, a->o->urls[0], "%s%s", c->why,
		   f == ACCEL_F_RETRY ? " (gave up after retries)" : "");
}

/* The probe's try ended before its body decided anything. */
static void
probe_done(struct accel *a, struct accel_conn *c, enum accel_fail f)
{
	if (f == ACCEL_F_NONE && c->status == 304 && a->ims) {
		a->res->not_modified = 1;
		return;
	}
	/* No body came (an error, or an empty file). */
	if (f == ACCEL_F_NONE && c->status == 200 && c->clen <= 0) {
		if (accel__check_probe(a, c) == 0)
			a->stream_done = 1;
		return;
	}
	if (f == ACCEL_F_FATAL && c->status == 416 && a->saved == NULL &&
	    ((c->has_cr == 2 && c->cr_total == 0) ||
	     (c->has_cr != 2 && head_size(a, c) == 0))) {
		/* "bytes=0-" of an empty file. */
		c->status = 200;
		c->clen = 0;
		if (accel__check_probe(a, c) == 0)
			a->stream_done = 1;
		return;
	}
	if (f == ACCEL_F_NONE)
		accel__why(c, ACCEL_F_RETRY, "no reply body");
	probe_failed(a, c, f == ACCEL_F_NONE ? ACCEL_F_RETRY : f);
}

/* The one streamed connection (no ranges) ended. */
static void
stream_done(struct accel *a, struct accel_conn *c, enum accel_fail f)
{
	if (f == ACCEL_F_NONE && (a->meta.size < 0 || c->pos == a->meta.size)) {
		a->res->bytes = c->pos;
		a->stream_done = 1;
		return;
	}
	if (f == ACCEL_F_NONE)
		accel__why(c, ACCEL_F_RETRY, "short reply");
	/* Without ranges the only retry is from the start. */
	c->probe = 1;
	a->mode = ACCEL_M_PROBE;
	probe_failed(a, c, f == ACCEL_F_NONE ? ACCEL_F_RETRY : f);
}

/* A range's try failed in a way worth another: only its missing bytes
 * are asked again, after a backoff, unless it has failed too often. */
static void
range_retry(struct accel *a, struct accel_conn *c, int range)
{
	struct accel_source *s = &a->src[c->src];
	const struct accel_range *r = accel_plan_range(a->plan, range);
	int fails;

	if (alive_sources(a) > 1) {
		/* Several sources: the blame is the source's. */
		fails = accel_plan_failed(a->plan, range, c->got > 0, 0);
		if (++s->fails >= a->o->retries)
			drop_source(a, c->src, c->why);
	} else {
		/* A connection dropped for slowness delivered bytes, but not
		 * enough to count as progress. */
		fails = accel_plan_failed(a->plan, range,
					  c->got > 0 && !c->slow, 1);
		if (fails >= a->o->retries) {
			accel__err(a, -EIO, src_url(s),
				   "%s (bytes %" PRId64 "-%" PRId64
				   ", after %d tries)",
				   c->why, r->cur, r->end - 1, fails);
			return;
		}
	}
	accel_plan_release(
		a->plan, range,
		mtime_now() + backoff(a, fails ? fails : 1, c->retry_after));
}

/*
 * A try refused (429, 503, connect refused) by a source that has served
 * before, while other connections to its host stood: one connection too
 * many for that server, not a fault of the file. The host's count (over
 * every download sharing the budget) and the controller's stay below it
 * from now on. A source that never served is failing, not full. Returns
 * 1 when so, 2 when the controller doubts it (the count goes back soon),
 * 0 when not.
 */
static int
one_too_many(struct accel *a, struct accel_conn *c)
{
	int host, busy = busy_conns(a);

	if (!a->src[c->src].served)
		return 0;
	/* A refusal the controller doubts (the server still counting a
	 * connection just closed) caps neither it nor the host. */
	if (a->ctl != NULL && busy > 0) {
		connctl_refused(a->ctl, mtime_now(), busy);
		if (connctl_ceiling(a->ctl) > busy)
			return 2;
	}
	if ((host = budget_refused(a->budget, a->src[c->src].host)) <= 0)
		return 0;
	return 1;
}

/* A range's try ended: done, retried, its mirror dropped, or fatal. */
static void
range_done(struct accel *a, struct accel_conn *c, enum accel_fail f, int range)
{
	struct accel_source *s = &a->src[c->src];
	int too_many;

	if (f == ACCEL_F_NONE) {
		if (range < 0 ||
		    accel_plan_range(a->plan, range)->state == ACCEL_DONE) {
			s->fails = 0;
			return;
		}
		f = ACCEL_F_RETRY;
		snprintf(c->why, sizeof(c->why), "reply ended early");
	}
	if (f == ACCEL_F_CHANGED && c->src == 0) {
		accel__err(a, -ESTALE, src_url(s), "%s", c->why);
		return;
	}
	if (f == ACCEL_F_CHANGED || (f == ACCEL_F_FATAL && c->src != 0)) {
		/* A mirror that disagrees with the first URL is not used. */
		if (alive_sources(a) > 1 || c->src != 0)
			drop_source(a, c->src, c->why);
		if (range >= 0)
			accel_plan_release(a->plan, range, 0);
		if (alive_sources(a) == 0)
			accel__err(a, -EIO, s->url, "%s", c->why);
		return;
	}
	if (f == ACCEL_F_FATAL) {
		accel__err(a, -EIO, src_url(s), "%s", c->why);
		return;
	}
	if (range >= 0 && c->refused && (too_many = one_too_many(a, c)) > 0) {
		/* The range waits for another connection: as long as the
		 * server asks, or, when the refusal is doubted, as long as
		 * the controller holds the count down (a range parked for
		 * the Retry-After second was left for the end, 0.2 s late
		 * on 40 MiB). */
		accel_plan_release(
			a->plan, range,
			mtime_now() + (too_many == 2 ?
					       CONNCTL_DOUBT_HOLD :
					       backoff(a, 1, c->retry_after)));
		return;
	}
	if (range >= 0)
		range_retry(a, c, range);
}

/* A try of the probe connection, the stream or a range has ended. */
static void
conn_done(struct accel *a, struct accel_conn *c, CURLcode res)
{
	enum accel_fail f;
	int range = c->range;

	conn_stop(a, c);
	a->kick = 1;
	f = classify(a, c, res);
	if (a->fatal)
		return;
	if (c->probe && a->mode == ACCEL_M_PROBE) {
		probe_done(a, c, f);
		return;
	}
	c->probe = 0;
	if (a->mode == ACCEL_M_STREAM) {
		stream_done(a, c, f);
		return;
	}
	c->range = -1;
	range_done(a, c, f, range);
}

/* How many connections to hold: fixed, or the controller's choice. */
static int
target(const struct accel *a)
{
	return a->ctl != NULL ? connctl_target(a->ctl) : a->nconns;
}

int
accel__start_count(const struct accel *a)
{
	return a->o->conns > 0 ? a->nconns : connctl_start_count(a->nconns);
}

/* A connection's share of the receive buffer budget when held
 * connections share it. */
static long
recv_buf(int held)
{
	long buf = RECV_BUDGET / (held > 0 ? held : 1);

	return buf < RECV_MIN ? RECV_MIN : buf > RECV_MAX ? RECV_MAX : buf;
}

/* The receive buffer budget goes to the connections the controller
 * holds, not to every handle, so a download held at four reads in
 * buffers as large as -n 4's; a busy handle takes it at its next start,
 * one made later (bind_conn) from the start. */
static void
size_buffers(struct accel *a, int want)
{
	long buf = recv_buf(want);

	for (int i = 0; i < a->ninit; i++)
		if (!a->conns[i].busy && a->conns[i].easy != NULL)
			curl_easy_setopt(a->conns[i].easy, CURLOPT_BUFFERSIZE,
					 buf);
}

/*
 * The round-trip time of c's path in seconds: from its request sent to
 * the first byte of the reply (the server's time to answer included, as
 * every later request will wait for it too); 0 when not known yet.
 */
static double
path_rtt(const struct accel_conn *c)
{
	curl_off_t sent = 0, first = 0;

	if (c->easy == NULL ||
	    curl_easy_getinfo(c->easy, CURLINFO_PRETRANSFER_TIME_T, &sent) !=
		    CURLE_OK ||
	    curl_easy_getinfo(c->easy, CURLINFO_STARTTRANSFER_TIME_T, &first) !=
		    CURLE_OK ||
	    first <= sent)
		return 0;
	return (double)(first - sent) / 1e6;
}

/*
 * Tells the budget how many more connections this download wants than it
 * holds: no more than its unfinished bytes could give work to, and none
 * once the file is whole. The batch starts another file only when a
 * connection is free that no running one wants.
 */
static void
tell_demand(struct accel *a, int want)
{
	if (a->mode == ACCEL_M_RANGES) {
		int64_t left = a->meta.size - accel_plan_done_bytes(a->plan);
		int64_t pieces = left / MIN_PIECE - busy_conns(a);

		if (want > pieces)
			want = (int)(pieces > 0 ? pieces : 0);
	} else if (a->mode != ACCEL_M_PROBE) {
		want = 0;
	}
	if (want < 0)
		want = 0;
	if (want != a->demand) {
		budget_want(a->budget, want - a->demand);
		a->demand = want;
	}
}

/* Tells the program where the download stands. */
static void
report(struct accel *a, double now)
{
	struct accel_stats st;

	if (a->o->progress == NULL)
		return;
	st.total = a->mode == ACCEL_M_RANGES ? a->meta.size :
		   a->mode == ACCEL_M_STREAM ? a->meta.size :
					       -1;
	st.done = a->mode == ACCEL_M_RANGES ? accel_plan_done_bytes(a->plan) :
		  a->mode == ACCEL_M_STREAM ? a->conns[0].pos :
					      0;
	st.conns = 0;
	for (int i = 0; i < a->nused; i++)
		st.conns += a->conns[i].busy && now - a->conns[i].last_data < 1;
	st.elapsed = now - a->t0;
	st.target = a->ctl != NULL ? connctl_target(a->ctl) : 0;
	st.why = a->ctl != NULL ? connctl_reason_str(connctl_reason(a->ctl)) :
				  NULL;
	a->o->progress(&st, a->o->arg);
}

/*
 * Without a fixed count, the controller sees the bytes received and says
 * how many connections to hold; connections over its count stop, their
 * ranges (and the bytes they got) kept for the others.
 */
static void
control(struct accel *a, double now)
{
	int want, busy = busy_conns(a);

	if (busy > a->res->conns_max)
		a->res->conns_max = busy;
	if (a->mode == ACCEL_M_PROBE) {
		/* Before the size is known: a fixed count will want its
		 * connections; what the controller will want is not known
		 * (a small file wants none more), so nothing is held back
		 * for it. */
		tell_demand(a, a->o->conns > 0 ? a->o->conns - 1 : 0);
		return;
	}
	if (a->o->conns > 0 || a->mode != ACCEL_M_RANGES) {
		tell_demand(a, a->nconns - busy);
		return;
	}
	if (a->ctl == NULL) {
		struct connctl_opts co = {.max = a->nconns,
					  .busy = connctl_thread_busy,
					  .rtt = path_rtt(&a->conns[0])};
		int ranges = accel_plan_count(a->plan);

		/* A file of a few ranges is fetched by one connection a range
		 * at once: measuring would take longer than the download. */
		if (ranges <= 4)
			co.start = ranges;
		if (co.max < 2 || co.start > co.max)
			co.start = co.max;
		if ((a->ctl = connctl_new(&co, now)) == NULL) {
			accel__err(a, -ENOMEM, a->o->urls[0], "%s",
				   strerror(ENOMEM));
			return;
		}
		a->sized = connctl_target(a->ctl);
		size_buffers(a, a->sized);
	}
	if ((want = connctl_update(a->ctl, now, a->received)) != a->sized) {
		a->sized = want;
		size_buffers(a, want);
	}
	/* Each change is told as it happens (a refusal changes the target
	 * between two updates). */
	if (want != a->told) {
		a->told = want;
		report(a, now);
	}
	tell_demand(a, want - busy);
	for (int i = a->nused - 1; i >= 0 && busy > want; i--) {
		struct accel_conn *c = &a->conns[i];

		if (!c->busy || c->probe)
			continue;
		conn_stop(a, c);
		if (c->range >= 0)
			accel_plan_release(a->plan, c->range, 0);
		c->range = -1;
		busy--;
		a->kick = 1;
	}
}

/*
 * One pass of the loop over fast connections can read for a tenth of a
 * second and more (libcurl reads a connection until its socket is empty,
 * up to a hundred buffers), too late for a controller whose first window
 * lasts 0.03 s on loopback. So it also sees the bytes as they arrive, and
 * a connection over its count stops at its next bytes, not at the pass's
 * end: its range, and what it got, stay in the plan for the others.
 */
int
accel__feed(struct accel *a, struct accel_conn *c, double now)
{
	int want, live = 0;

	if (a->ctl == NULL || a->mode != ACCEL_M_RANGES)
		return 0;
	want = connctl_update(a->ctl, now, a->received);
	if (c->probe || c->range < 0)
		return 0;
	for (int i = 0; i < a->nused && live <= want; i++)
		live += a->conns[i].busy && !a->conns[i].shed;
	if (live <= want)
		return 0;
	if (accel__flush(a, c) < 0)
		return 1; /* (the flush failed: the download has) */
	accel_plan_release(a->plan, c->range, 0);
	c->range = -1;
	c->stopped = c->shed = 1;
	return 1;
}

/* Gives work to the connections that have none. */
static void
schedule(struct accel *a, double now, double *wake)
{
	if (a->mode == ACCEL_M_PROBE) {
		struct accel_conn *c = &a->conns[0];

		if (c->busy)
			return;
		if (now < a->probe_not_before) {
			*wake = a->probe_not_before;
			return;
		}
		if (conn_slot(a, c) < 0) {
			*wake = now + SLOT_WAIT;
			return;
		}
		c->probe = 1;
		conn_start(a, c, a->probe_at, -1);
		return;
	}
	if (a->mode != ACCEL_M_RANGES)
		return;
	for (int i = 0, busy = busy_conns(a); i < a->nconns && !a->fatal; i++) {
		struct accel_conn *c;
		double until = 0;
		int r;

		if (i < a->ninit && a->conns[i].busy)
			continue;
		if (busy >= target(a))
			return;
		c = conn_at(a, i);
		pick_source(a, c);
		if (conn_slot(a, c) < 0) {
			*wake = now + SLOT_WAIT;
			return;
		}
		busy++;
		r = accel_plan_take(a->plan, now, &until);
		if (r == -EAGAIN || r < 0) {
			conn_stop(a, c);
			if (r == -EAGAIN)
				*wake = until;
			return;
		}
		c->range = r;
		{
			const struct accel_range *rr =
				accel_plan_range(a->plan, r);

			conn_start(a, c, rr->cur, rr->end);
		}
	}
}

/* Ends the tries that are silent, or slower than --min-speed, for the
 * timeout; their ranges go back to the plan for another connection. */
static void
check_stalls(struct accel *a, double now)
{
	double span, min = (double)a->o->min_speed;

	for (int i = 0; i < a->nused; i++) {
		struct accel_conn *c = &a->conns[i];

		if (!c->busy || c->paused)
			continue;
		if (now - c->last_data >= a->o->timeout) {
			accel__why(c, ACCEL_F_RETRY, "no data for %g s",
				   a->o->timeout);
			conn_done(a, c, CURLE_OPERATION_TIMEDOUT);
			continue;
		}
		if (min <= 0 || (span = now - c->win_start) < a->o->timeout)
			continue;
		if ((double)c->win_got < min * span) {
			c->slow = 1;
			accel__why(c, ACCEL_F_RETRY,
				   "slower than %lld bytes/s for "
				   "%g s",
				   a->o->min_speed, a->o->timeout);
			conn_done(a, c, CURLE_OPERATION_TIMEDOUT);
			continue;
		}
		c->win_start = now;
		c->win_got = 0;
	}
}

/* --max-speed: once the budget's bucket holds tokens again, resumes the
 * paused connections. */
static void
refill(struct accel *a, double now, double *wake)
{
	double t = 0;

	if (!budget_rate_capped(a->budget))
		return;
	if (!budget_may_receive(a->budget, now, &t)) {
		if (*wake <= now || t < *wake)
			*wake = t;
		return;
	}
	for (int i = 0; i < a->nused; i++) {
		struct accel_conn *c = &a->conns[i];

		if (c->busy && c->paused) {
			c->paused = 0;
			c->last_data = c->win_start = now;
			c->win_got = 0;
			curl_easy_pause(c->easy, CURLPAUSE_CONT);
		}
	}
}

/* Sets on c's handle what belongs to this connection and download. The
 * probe's handle is made before the controller: its receive buffer is
 * the share of the count the controller will start with, not of the most
 * it may reach (a quarter MiB instead of half; the probe's range is an
 * eighth of the file, read through the smaller buffer to its end). */
static int
bind_conn(struct accel *a, struct accel_conn *c)
{
	long buf = recv_buf(a->ctl != NULL ? target(a) : accel__start_count(a));

	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_BUFFERSIZE, buf);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(a->o->timeout * 1000) + 1);
	/* Every range, mirror and retry uses this handle (and the HEAD
	 * fallback a copy of it), so each carries the request options. */
	if (reqopts_apply(a->o->req, c->easy) < 0)
		return -EINVAL;
	return 0;
}

/* A new handle for c with what every connection has in common. */
static int
setup_conn(struct accel_conn *c)
{
	if ((c->etag = malloc(ACCEL_VALIDATOR_MAX + 1)) == NULL ||
	    (c->lastmod = malloc(ACCEL_VALIDATOR_MAX + 1)) == NULL ||
	    (c->easy = curl_easy_init()) == NULL)
		return -ENOMEM;
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, accel__on_data);
	curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, accel__on_header);
	curl_easy_setopt(c->easy, CURLOPT_FOLLOWLOCATION, 1L);
	/* Asks for no encoding, and decodes one sent all the same: a whole
	 * file is never saved compressed under its plain name. */
	curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, "identity");
	curl_easy_setopt(c->easy, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_FAILONERROR, 1L);
	/* HTTP/2 would multiplex every range over one connection, which is
	 * exactly what a server capping each connection would throttle. */
	curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION,
			 (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	/* product/version, as RFC 9110 (10.1.5) asks and every peer sends;
	 * libcurl writes it into each request a byte at a time. */
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "netthreads/" NT_VERSION);
	return 0;
}

/* c's libcurl handle, made on first use. Returns 0 or the error
 * recorded. */
static int
conn_easy(struct accel *a, struct accel_conn *c)
{
	int rc;

	if (c->easy != NULL)
		return 0;
	if (a->sess->npool > 0) {
		/* One a download before this one on the session left. */
		struct accel_handle *h = &a->sess->pool[--a->sess->npool];

		c->easy = h->easy;
		c->etag = h->etag;
		c->lastmod = h->lastmod;
		c->wbuf = h->wbuf;
		c->etag[0] = c->lastmod[0] = '\0';
		rc = 0;
	} else {
		rc = setup_conn(c);
	}
	if (rc == 0)
		rc = bind_conn(a, c);
	if (rc < 0)
		accel__err(a, rc, a->o->urls[0], "%s",
			   rc == -EINVAL ? "a request option this libcurl "
					   "does not support" :
					   strerror(-rc));
	return rc < 0 ? a->fatal : 0;
}

/* -N: the probe asks for the file only if it is newer than the one at
 * the final name, when there is one. Returns 0 or -ENOMEM. */
static int
if_modified_since(struct accel *a)
{
	char h[80];
	struct stat st;
	struct tm tm;
	struct curl_slist *l;

	if (fstatat(a->dirfd, a->final_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(st.st_mode) || gmtime_r(&st.st_mtime, &tm) == NULL)
		return 0;
	strftime(h, sizeof(h), "If-Modified-Since: %a, %d %b %Y %H:%M:%S GMT",
		 &tm);
	if ((l = curl_slist_append(a->probe_hdrs, h)) == NULL)
		return -ENOMEM;
	a->probe_hdrs = l;
	a->ims = 1;
	return 0;
}

/* Room for a->conns: n connections, in the memory an earlier download
 * on the session left when it is large enough. None is cleared yet: each
 * is as it is first reached (conn_at), and a small file reaches one.
 * Returns 0 or -ENOMEM. */
static int
alloc_conns(struct accel *a, int n)
{
	if (a->conn_cap < n) {
		free(a->conn_mem);
		a->conn_cap = 0;
		if ((a->conn_mem = malloc((size_t)n * sizeof(*a->conns))) ==
		    NULL)
			return -ENOMEM;
		a->conn_cap = n;
	}
	a->conns = a->conn_mem;
	a->ninit = 0;
	return 0;
}

/* conns[i], all fields zero and strings empty, given a source in turn,
 * the first time it is asked for. */
static struct accel_conn *
conn_at(struct accel *a, int i)
{
	for (; a->ninit <= i; a->ninit++) {
		struct accel_conn *c = &a->conns[a->ninit];

		memset(c, 0, offsetof(struct accel_conn, reason));
		c->reason[0] = c->encoding[0] = c->why[0] = c->errbuf[0] = '\0';
		c->a = a;
		c->range = -1;
		c->src = a->ninit % a->nsrc;
		a->src[c->src].users++;
	}
	return &a->conns[i];
}

/* The probe's request headers. With none of the caller's and no -N, the
 * one list every such download shares (libcurl only reads it): a list of
 * small files then makes none. Returns 0 or -ENOMEM. */
static int
probe_headers(struct accel *a)
{
	static char identity[] = "Accept-Encoding: identity";
	static struct curl_slist only_identity = {identity, NULL};

	if ((a->o->req == NULL || a->o->req->nheaders == 0) &&
	    !a->o->timestamping) {
		a->probe_hdrs = &only_identity;
		a->probe_shared = 1;
		return 0;
	}
	if ((a->probe_hdrs = curl_slist_append(NULL, identity)) == NULL)
		return -ENOMEM;
	return reqopts_headers(a->o->req, &a->probe_hdrs);
}

/* Everything the loop needs: the folder, the multi handle, the sources
 * and one easy handle a connection, and for -c the saved state. Returns
 * 0 or the error recorded. */
static int
setup(struct accel *a)
{
	const struct accel_opts *o = a->o;
	/* Without a fixed count, a handle for the most the controller may
	 * ask for; only those it wants are started. */
	int nconns = o->conns > 0 ? o->conns : o->max_conns;
	int rc;

	if (accel__open_folder(a) < 0)
		return a->fatal;
	if (strlen(o->urls[0]) > ACCEL_URL_MAX) {
		accel__err(a, -ENAMETOOLONG, o->urls[0],
			   "URL longer than %d bytes", ACCEL_URL_MAX);
		return a->fatal;
	}
	if (alloc_conns(a, nconns) < 0 ||
	    (a->src = calloc((size_t)o->nurls, sizeof(*a->src))) == NULL ||
	    probe_headers(a) < 0) {
		accel__err(a, -ENOMEM, o->urls[0], "%s", strerror(ENOMEM));
		return a->fatal;
	}
	a->nconns = nconns;
	a->nsrc = o->nurls;
	for (int i = 0; i < a->nsrc; i++) {
		a->src[i].url = o->urls[i];
		a->src[i].alive = 1;
		if (budget_host(o->urls[i], a->src[i].host,
				sizeof(a->src[i].host)) < 0) {
			accel__err(a, -EINVAL, o->urls[i], "no host in URL");
			return a->fatal;
		}
	}
	if ((a->budget = o->budget) == NULL) {
		struct budget_opts bo = {.per_host = o->max_per_host,
					 .max_speed = o->max_speed};

		if ((a->budget = a->own_budget = budget_new(&bo)) == NULL) {
			accel__err(a, -ENOMEM, o->urls[0], "%s",
				   strerror(ENOMEM));
			return a->fatal;
		}
	}
	conn_at(a, 0);
	a->nused = 1; /* conns[0]: the probe's, and the caller's slot */
	if (o->first_slot > 0 && o->first_slot <= a->nsrc) {
		/* The first request's connection, taken by the caller. */
		a->src[a->conns[0].src].users--;
		a->conns[0].src = o->first_slot - 1;
		a->src[a->conns[0].src].users++;
		a->conns[0].slot = 1;
		a->first_slot_held = 0;
	}
	/* The first handle now, so that a request option libcurl refuses
	 * is said before anything starts; the others when first used (a
	 * small file never needs them). */
	if (conn_easy(a, &a->conns[0]) < 0)
		return a->fatal;
	if (o->resume && accel__load_state(a) < 0)
		return a->fatal;
	if (o->timestamping && a->saved == NULL &&
	    (rc = if_modified_since(a)) < 0) {
		accel__err(a, rc, o->urls[0], "%s", strerror(-rc));
		return a->fatal;
	}
	return 0;
}

/* Moves every transfer of the session on and hands each finished try to
 * conn_done, of the download it belongs to. */
static void
perform(struct accel_session *s)
{
	int running, msgs;
	CURLMsg *m;

	curl_multi_perform(s->multi, &running);
	while ((m = curl_multi_info_read(s->multi, &msgs)) != NULL) {
		struct accel_conn *c;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
				  (char **)&c);
		conn_done(c->a, c, m->data.result);
	}
}

/* Whether the download has ended: whole, failed, stopped, or not
 * modified. */
static int
ended(struct accel *a, double now)
{
	if (a->fatal || a->res->not_modified)
		return 1;
	if (a->o->stop != NULL &&
	    __atomic_load_n(a->o->stop, __ATOMIC_RELAXED) != 0) {
		accel__err(a, -EINTR, a->o->urls[0], "interrupted");
		return 1;
	}
	if ((a->mode == ACCEL_M_RANGES && accel_plan_complete(a->plan)) ||
	    a->stream_done) {
		report(a, now);
		a->mode = ACCEL_M_DONE;
		return 1;
	}
	return 0;
}

/* What a download does after its transfers moved: the count, the rate
 * cap, stalls, progress, the state file. */
static void
tend(struct accel *a, double now, double *wake)
{
	int rc;

	control(a, now);
	refill(a, now, wake);
	check_stalls(a, now);
	if (now - a->last_report >= PROGRESS_EVERY) {
		report(a, now);
		a->last_report = now;
	}
	if (a->mode == ACCEL_M_RANGES && now - a->last_save >= SAVE_EVERY) {
		if ((rc = accel__save_state(a)) < 0)
			accel__err(a, rc, a->state, "%s", strerror(-rc));
		a->last_save = now;
	}
}

/* The download is over: what is on disk is named, kept or removed.
 * Returns what accel_run() returns. */
static int
conclude(struct accel *a)
{
	for (int i = 0; i < a->nused; i++)
		conn_stop(a, &a->conns[i]);
	if (a->res->not_modified && !a->fatal)
		return 0; /* nothing opened, nothing to leave */
	if (a->mode == ACCEL_M_DONE) {
		if (a->res->bytes == 0 && a->plan == NULL)
			a->res->bytes = a->conns[0].pos;
		return accel__finish(a);
	}
	accel__keep_or_remove(a);
	return a->fatal;
}

static void
release(struct accel *a)
{
	char host[BUDGET_HOST_MAX];

	/* A connection the caller took that no conn holds yet. */
	if (a->first_slot_held && budget_host(a->o->urls[a->o->first_slot - 1],
					      host, sizeof(host)) == 0)
		budget_put(a->o->budget, host);
	for (int i = 0; i < a->ninit; i++) {
		struct accel_conn *c = &a->conns[i];

		if (c->slot)
			budget_put(a->budget, a->src[c->src].host);
		if (c->easy == NULL && c->etag == NULL && c->lastmod == NULL &&
		    c->wbuf == NULL)
			continue; /* never used: most of a small file's */
		if (c->easy != NULL && c->etag != NULL && c->lastmod != NULL &&
		    a->sess != NULL && a->sess->npool < SESSION_POOL) {
			/* Kept for the session's next download. */
			a->sess->pool[a->sess->npool++] = (struct accel_handle){
				c->easy, c->etag, c->lastmod, c->wbuf};
			continue;
		}
		curl_easy_cleanup(c->easy);
		free(c->wbuf);
		free(c->etag);
		free(c->lastmod);
	}
	for (int i = 0; i < a->nsrc; i++)
		free(a->src[i].eff);
	free(a->src);
	curl_slist_free_all(a->hdrs);
	if (!a->probe_shared)
		curl_slist_free_all(a->probe_hdrs);
	accel_plan_free(a->plan);
	accel_plan_free(a->saved);
	if (a->fd >= 0)
		close(a->fd);
	if (a->dirfd >= 0 && a->dirfd != a->o->folder_fd)
		close(a->dirfd);
	connctl_free(a->ctl);
	if (a->demand != 0)
		budget_want(a->budget, -a->demand);
	budget_free(a->own_budget);
	free(a->part); /* and the other names, in the same block */
	free(a->cd_name);
	if (a->sess != NULL && (a->sess->nspare < SESSION_SPARE ||
				a->sess->nspare < a->sess->peak)) {
		a->next = a->sess->spare;
		a->sess->spare = a;
		a->sess->nspare++;
		return;
	}
	free(a->conn_mem);
	free(a);
}

/* Memory for a download, cleared as calloc would, but for the strings of
 * its meta and connections, of which only the first bytes: an ended
 * download's on the session when there is one. NULL when out of memory. */
static struct accel *
new_accel(struct accel_session *s)
{
	struct accel *a = s->spare;

	if (a != NULL) {
		s->spare = a->next;
		s->nspare--;
	} else if ((a = malloc(sizeof(*a))) != NULL) {
		a->conn_mem = NULL;
		a->conn_cap = 0;
	} else {
		return NULL;
	}
	memset(a, 0, offsetof(struct accel, meta));
	a->meta.size = 0;
	a->meta.url[0] = a->meta.etag[0] = a->meta.lastmod[0] = '\0';
	return a;
}

/* Ends a download that started: concludes it, takes it off its session,
 * tells the caller, frees it. */
static void
end(struct accel *a)
{
	struct accel_session *s = a->sess;
	accel_done_cb *done = a->done;
	struct accel_result *res = a->res;
	void *arg = a->done_arg;
	int rc = conclude(a);

	res->seconds = mtime_now() - a->t0;
	/* A file too small for ranges still took one connection. */
	if (rc == 0 && res->conns_max == 0)
		res->conns_max = 1;
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		s->runs = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	s->nconns -= a->nconns;
	s->nruns--;
	release(a);
	done(rc, res, arg);
}

void
accel_result_init(struct accel_result *res)
{
	res->bytes = res->resumed_from = 0;
	res->seconds = 0;
	res->errurl = NULL;
	res->errmsg[0] = res->name[0] = '\0';
	res->kept = res->conns_max = res->not_modified = 0;
}

void
accel_result_clear(struct accel_result *res)
{
	free(res->errurl);
	accel_result_init(res);
}

int
accel_start(struct accel_session *s, const struct accel_opts *opts,
	    struct accel_result *res, accel_done_cb *done, void *arg)
{
	struct accel *a = new_accel(s);
	struct accel_opts *o;
	int rc;

	accel_result_clear(res);
	if (a == NULL) {
		char host[BUDGET_HOST_MAX];

		if (opts->budget != NULL && opts->first_slot > 0 &&
		    opts->first_slot <= opts->nurls &&
		    budget_host(opts->urls[opts->first_slot - 1], host,
				sizeof(host)) == 0)
			budget_put(opts->budget, host);
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	a->opts = *opts;
	a->o = o = &a->opts;
	a->first_slot_held = o->budget != NULL && o->first_slot > 0 &&
			     o->first_slot <= o->nurls;
	if (o->max_conns == 0)
		o->max_conns = 16;
	if (o->timeout == 0)
		o->timeout = 10;
	if (o->retries == 0)
		o->retries = 5;
	a->res = res;
	a->sess = s;
	a->multi = s->multi;
	a->done = done;
	a->done_arg = arg;
	a->fd = -1;
	a->dirfd = -1;
	a->meta.size = -1;
	a->t0 = a->last_save = mtime_now();
	if (o->nurls < 1 || o->conns < 0 || o->max_conns < 1 ||
	    o->retries < 1 || o->timeout < 0 || o->path == NULL) {
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
			 strerror(EINVAL));
		release(a);
		return -EINVAL;
	}
	if ((rc = setup(a)) < 0) {
		res->seconds = mtime_now() - a->t0;
		release(a);
		return rc;
	}
	/* Each connection keeps its own socket; no more are opened. */
	s->nconns += a->nconns;
	curl_multi_setopt(s->multi, CURLMOPT_MAXCONNECTS, (long)s->nconns);
	a->next = s->runs;
	if (s->runs != NULL)
		s->runs->prev = a;
	s->runs = a;
	if (++s->nruns > s->peak && s->nruns <= SESSION_POOL)
		s->peak = s->nruns;
	return 0;
}

int
accel_session_busy(const struct accel_session *s)
{
	return s->nruns;
}

/* The earlier of two wake times (0: none). */
static double
sooner(double a, double b)
{
	return a <= 0 ? b : b <= 0 || a < b ? a : b;
}

void
accel_session_run(struct accel_session *s, double max_wait)
{
	struct accel *a, *next;
	double now = mtime_now(), wake = 0;
	int kick = 0, ms;

	for (a = s->runs; a != NULL; a = next) {
		double w = 0;

		next = a->next;
		if (ended(a, now)) {
			end(a);
			kick = 1;
			continue;
		}
		schedule(a, now, &w);
		wake = sooner(wake, w);
	}
	perform(s);
	now = mtime_now();
	for (a = s->runs; a != NULL; a = a->next) {
		double w = 0;

		tend(a, now, &w);
		wake = sooner(wake, w);
		kick |= a->kick || a->fatal;
		a->kick = 0;
	}
	/* Waits for the sockets, at most until the next timed thing (a
	 * backoff, the rate cap's refill) or max_wait; not at all after a
	 * change. */
	ms = kick ? 0 : (int)(max_wait * 1000);
	if (wake > now && (wake - now) * 1000 < ms)
		ms = (int)((wake - now) * 1000) + 1;
	/* After a change the next pass runs at once: a poll that may not
	 * wait is a system call for nothing (one a file of a list). */
	if (s->runs != NULL && ms > 0)
		curl_multi_poll(s->multi, NULL, 0, ms, NULL);
}

/* accel_done_cb for accel_run: keeps the code. */
static void
run_done(int rc, struct accel_result *res, void *arg)
{
	(void)res;
	*(int *)arg = rc;
}

int
accel_run(const struct accel_opts *opts, struct accel_result *res)
{
	struct accel_session *own = NULL, *s = opts->session;
	int rc = 1;

	if (s == NULL && (s = own = accel_session_new()) == NULL) {
		accel_result_clear(res);
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	if ((rc = accel_start(s, opts, res, run_done, &rc)) == 0) {
		rc = 1;
		while (rc == 1)
			accel_session_run(s, 0.1);
	}
	accel_session_free(own);
	return rc;
}

struct accel_session *
accel_session_new(void)
{
	struct accel_session *s = calloc(1, sizeof(*s));

	if (s != NULL && (s->multi = curl_multi_init()) == NULL) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void
accel_session_free(struct accel_session *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < s->npool; i++) {
		curl_easy_cleanup(s->pool[i].easy);
		free(s->pool[i].etag);
		free(s->pool[i].lastmod);
		free(s->pool[i].wbuf);
	}
	while (s->spare != NULL) {
		struct accel *a = s->spare;

		s->spare = a->next;
		free(a->conn_mem);
		free(a);
	}
	curl_multi_cleanup(s->multi);
	free(s);
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
