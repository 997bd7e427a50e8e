/* SPDX-License-Identifier: ISC */
/* accel_int.h -- what accel.c and accel_reply.c share; not for programs. */
#ifndef NT_ACCEL_INT_H
#define NT_ACCEL_INT_H

#include <stdint.h>

#include <curl/curl.h>

#include "accel.h"

#define MIN_PIECE	(64 * 1024)	/* smallest range worth a request */
/* libcurl's receive buffers: together about RECV_BUDGET, each between
 * RECV_MIN and RECV_MAX. Bigger buffers mean fewer, larger reads and
 * writes (a 1 GiB download over loopback costs a fifth less CPU with
 * 512 KiB than with 128 KiB); the budget keeps memory flat at N = 16. */
#define RECV_BUDGET	(4 << 20)
#define RECV_MIN	(64 * 1024)
#define RECV_MAX	(512 * 1024)
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
	int kick;		/* something changed: loop again at once */
	double tokens;		/* --max-speed: bytes that may arrive now */
	double last_refill;
	double t0;
};

/* Records the download's first fatal error (later ones are dropped). */
void accel__err(struct accel *a, int rc, const char *url, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
/* Marks the connection's try as failed, of kind f, and says why. */
void accel__why(struct conn *c, enum fail f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * accel_reply.c: libcurl's header and body callbacks for one connection.
 * The first body bytes of a reply are checked (the probe's decide the
 * mode and plan, a range's must match the probe) before any is written.
 */
size_t accel__on_header(char *buf, size_t size, size_t nmemb, void *arg);
size_t accel__on_data(char *ptr, size_t size, size_t nmemb, void *arg);
/* The probe's reply: mode, size, plan, .part. Returns 0, or -1 with the
 * failure recorded on c or a. */
int accel__check_probe(struct accel *a, struct conn *c);

#endif
