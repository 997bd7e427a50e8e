/* SPDX-License-Identifier: ISC */
/* httpserv.h -- a small HTTP/1.1 static file server with paced connections.
 *
 * Serves the regular files under one folder to GET and HEAD: single byte
 * ranges (206, Content-Range, 416), Content-Length, ETag, Last-Modified,
 * If-Range, keep-alive with any number of requests per connection, one
 * thread per connection with a bound on how many run at once. Each accepted
 * socket can be paced by the kernel (SO_MAX_PACING_RATE), which caps every
 * connection's rate smoothly, the way an internet server that limits each
 * connection behaves. The cap can change once, a set time after the first
 * request (a server throttling harder mid-way): every open connection
 * takes the new one then, even one whose reply is all queued, and later
 * ones from their start. Lowering a cap takes effect at once; raising one
 * only as fast as the connection's window grows.
 *
 * A limit on connections per client address answers the one too many with
 * 503 and Retry-After, as servers that bound each client do. On loopback
 * every client is 127.0.0.1, so the limit is on all connections at once.
 *
 * Paths never leave the root: "..", NUL and symlinks that point outside are
 * refused (openat2 RESOLVE_BENEATH). A folder serves its index.html.
 *
 * Fault injection (only when httpserv_opts.faults is set): a path
 *
 *     /fault/SPEC/rest/of/path
 *
 * serves /rest/of/path with the faults named in SPEC, a comma-separated
 * list of items:
 *
 *   status=CODE   answer CODE (e.g. 503, 429, 404) instead of the file
 *   retry=S       with status: add "Retry-After: S"
 *   cut=K         close the connection after K bytes of the body
 *   cut=rand      close it at a pseudo-random point of the body
 *   rst           make the cut a reset (RST) instead of a close (FIN)
 *   seed=N        seed for cut=rand (default 1); each request draws anew
 *   stall=S       pause S seconds (decimal) in the middle of the body
 *   at=K          with stall: pause after K bytes instead of half the body
 *   norange       ignore Range: always 200 with the whole file
 *   badrange      answer a Range with the range one byte later than asked
 *                 (Content-Range and body agree with each other, not with
 *                 the request)
 *   change        every request sees a new version of the file: same size,
 *                 other bytes, other ETag and Last-Modified
 *   change=N      the first N requests see the file as it is on disk,
 *                 later ones a changed version
 *   nohead        HEAD is answered 405 Method Not Allowed
 *   chunked       200, Transfer-Encoding: chunked, no length, Range ignored
 *   redirect=N    302 to the same path with redirect=N-1 (N hops in all)
 *   rate=R        pace this response at R bytes/s (suffixes k, M)
 *   novalidator   send neither ETag nor Last-Modified
 *   etaglen=N     an ETag of N characters (3 to 1000), padded with 'x'
 *   close         close the connection after the response
 *   times=N       apply this SPEC to the first N requests that carry the
 *                 same SPEC text only; later ones are served normally
 *   id=WORD       ignored; makes a SPEC text (and so its count) unique
 *
 * e.g. /fault/status=503,retry=1,times=2/big.bin answers 503 twice, then
 * serves big.bin; /fault/cut=65536/big.bin drops every connection after
 * 64 KiB. An unknown item is answered 400.
 */
#ifndef NT_HTTPSERV_H
#define NT_HTTPSERV_H

/* One finished request, reported to the log callback. */
struct httpserv_logent {
	unsigned long conn; /* connection number, from 1 */
	const char *method; /* as received */
	const char *target; /* request target, as received */
	const char *range;  /* Range header, or NULL */
	int status;	    /* status code sent */
	long long sent;	    /* body bytes sent */
	int cut;	    /* the connection was cut by a fault */
};

/* Called from connection threads, possibly at the same time. */
typedef void httpserv_log_cb(const struct httpserv_logent *e, void *arg);

struct httpserv_opts {
	const char *root;	  /* folder served; required */
	const char *host;	  /* bind address; NULL means 127.0.0.1 */
	int port;		  /* 0: the kernel chooses */
	unsigned long rate;	  /* per-connection cap in bytes/s; 0: none */
	unsigned long link;	  /* one rate all connections share, bytes/s,
				   * as a link would; 0: none */
	double rate_after;	  /* seconds after the first request when the
				   * per-connection cap becomes rate_later;
				   * 0: never */
	unsigned long rate_later; /* that cap, bytes/s; 0: none */
	int max_conns;		  /* connections served at once; 0: 128 */
	int max_per_client;	  /* connections served at once to one client
				   * address; the one past it is answered 503
				   * with Retry-After: 1 and closed; 0: no
				   * limit */
	double idle_timeout;	  /* seconds a connection may idle; 0: 30 */
	int faults;		  /* nonzero: honour /fault/SPEC/ paths */
	httpserv_log_cb *log;	  /* may be NULL */
	void *log_arg;
};

struct httpserv_stats {
	unsigned long connections; /* accepted so far */
	unsigned long requests;	   /* answered so far */
	int live;		   /* connections open now */
};

/*
 * Opens the root and binds and listens (serving starts with
 * httpserv_start). Returns the server, or NULL with errno set (ENOENT or
 * ENOTDIR for the root, EADDRNOTAVAIL for a host that does not resolve).
 * The options are copied.
 */
struct httpserv *httpserv_new(const struct httpserv_opts *opts);

/* The port listened on. */
int httpserv_port(const struct httpserv *s);

/*
 * Starts accepting in a background thread. The server's threads block all
 * signals, so a program's signals go to its own threads. Returns 0 or
 * -errno.
 */
int httpserv_start(struct httpserv *s);

/*
 * Stops accepting, ends every connection (requests in flight are cut) and
 * joins every thread. Safe to call more than once; not from a signal
 * handler.
 */
void httpserv_stop(struct httpserv *s);

/* Counters so far. */
void httpserv_stats(struct httpserv *s, struct httpserv_stats *st);

/* Stops the server if needed and frees it. NULL does nothing. */
void httpserv_free(struct httpserv *s);

#endif
