/* SPDX-License-Identifier: ISC */
/* httpserv_int.h -- what the files of the httpserv module share. */
#ifndef NT_HTTPSERV_INT_H
#define NT_HTTPSERV_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "httpserv.h"

#define REQ_MAX	 8192  /* request head, bytes */
#define ETAG_MAX 1000  /* longest ETag (etaglen=N fault) */
#define IO_CHUNK 65536 /* one read or send of body bytes */

enum { SLOT_FREE, SLOT_RUN, SLOT_DONE };

struct httpserv_conn {
	struct httpserv *srv;
	pthread_t thread;
	int fd;	   /* -1 once closed; under srv->lock */
	int state; /* SLOT_*; under srv->lock */
	int cut;   /* a fault cut the connection */
	int over;  /* one past max_per_client: answered 503 */
	unsigned long id;
	unsigned long paced; /* the cap set on the socket; 0: none */
	struct sockaddr_storage peer;
};

struct httpserv_fault_count {
	struct httpserv_fault_count *next;
	unsigned long n;
	char spec[];
};

/*
 * Locking: srv->lock guards the slots' fd and state, the counters and the
 * fault counts. A connection thread takes it only briefly and never while
 * blocked on its socket; httpserv_stop() never holds it while joining.
 */
struct httpserv {
	struct httpserv_opts o;
	char *root, *realroot;
	int rootfd, lfd, port;
	int stopfd[2]; /* written once by stop: wakes every poll */
	atomic_int stopping;
	int started;
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a slot was freed, or stopping */
	struct httpserv_conn *conns;
	int live;
	unsigned long nconns, nreqs;
	struct httpserv_fault_count *faults;
	int nfaults;
	double first_req; /* when the first request came; 0: none yet */
	/* The link cap: the time until which the link is taken by what
	 * was sent before. Guarded by link_lock, held only to reserve. */
	pthread_mutex_t link_lock;
	double link_free;
};

/* The state of one response being made. */
struct httpserv_resp {
	int minor; /* the request's HTTP/1.x */
	int status;
	long long sent;
	int cut;
	int keep;
};

/* The faults one request asks for (see httpserv.h). */
struct httpserv_fault {
	int status, retry;
	long long cut; /* -1: none */
	int cut_rand, rst;
	unsigned long long seed;
	double stall;
	long long stall_at; /* -1: half the body */
	int norange, badrange, nohead, chunked, novalidator, close;
	int change; /* 0 none, 1 every request, 2 after N */
	long long change_after;
	long long redirect; /* -1: none */
	unsigned long rate;
	long long times; /* -1: always */
	int etaglen;	 /* 0: the ETag as made; else padded to it */
};

struct httpserv_req {
	char *method, *target, *range, *if_range, *connection;
	int minor, host, body;
};

enum { HTTPSERV_RANGE_NONE, HTTPSERV_RANGE_OK, HTTPSERV_RANGE_UNSAT };

/* httpserv_parse.c: requests. */

/* Reads a decimal count at p, setting *end past it; -1 if there is none
 * or it overflows. */
long long httpserv__parse_count(const char *p, const char **end);

/* Does the comma-separated header value v hold token t? */
int httpserv__has_token(const char *v, const char *t);

/* Splits a request head (NUL-terminated, parsed in place: r points into
 * it) into r. 0, or -EINVAL when it is not a well-formed HTTP/1.x head. */
int httpserv__parse_head(char *head, struct httpserv_req *r);

/*
 * Reads a Range value against a file of size bytes: HTTPSERV_RANGE_OK with the
 * first and last byte, HTTPSERV_RANGE_UNSAT for a well-formed range outside the
 * file, HTTPSERV_RANGE_NONE for anything else (serve the whole file).
 */
int httpserv__parse_range(const char *v, long long size, long long *first,
			  long long *last);

/* Decodes %XX escapes of inlen bytes of a path into out (size len,
 * NUL-terminated). 0, or -EINVAL for a bad escape, a NUL or no room. */
int httpserv__path_decode(const char *in, size_t inlen, char *out, size_t len);

/* 1 when the decoded path holds a ".." segment. */
int httpserv__path_escapes(const char *p);

/* httpserv_fault.c: the /fault/SPEC/ paths. */

/* No fault at all. */
void httpserv__fault_init(struct httpserv_fault *f);

/* Parses SPEC (len bytes, not NUL-terminated) into f. 0, or -EINVAL for an
 * unknown item or a bad value. */
int httpserv__fault_parse(const char *spec, size_t len,
			  struct httpserv_fault *f);

/* The Location of the next hop of a redirect: /fault/SPEC/rest with
 * redirect=left (dropped at 0), into out (size len). */
void httpserv__redirect_location(const char *spec, size_t slen, long long left,
				 const char *rest, char *out, size_t len);

/* httpserv_fault.c also: waits and counts the faults need. */

/* Waits up to ms milliseconds unless the server stops. 1 if stopping. */
int httpserv__wait_or_stop(struct httpserv *s, int ms);

/* Counts one more request carrying spec; its number from 1, or 0 when too
 * many distinct specs are counted. */
unsigned long httpserv__fault_count(struct httpserv *s, const char *spec,
				    size_t len);

/* Reserves the shared link (opts.link) for n bytes: returns how many
 * seconds to wait before sending them (0: now). */
double httpserv__link_take(struct httpserv *s, size_t n);

/* The per-connection cap in force now (opts.rate, or opts.rate_later
 * once it is due), bytes/s; 0: none. */
unsigned long httpserv__rate(struct httpserv *s);

/* Sets c's socket to the cap in force now, if it changed. */
void httpserv__pace(struct httpserv_conn *c);

/* httpserv_file.c: answers. */

/* A short answer with a text body (an error, a redirect, a fault); r may
 * be NULL when the request could not be parsed. 0 or -errno. */
int httpserv__send_simple(struct httpserv_conn *c, const struct httpserv_req *r,
			  struct httpserv_resp *rs, int code,
			  const char *extra);

/* Answers one parsed request with its file, an error or its faults.
 * 0, or -errno when the connection must close. */
int httpserv__serve(struct httpserv_conn *c, struct httpserv_req *r,
		    struct httpserv_resp *rs);

#endif
