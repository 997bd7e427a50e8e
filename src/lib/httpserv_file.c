/* SPDX-License-Identifier: ISC */
/* httpserv_file.c -- one answer: a file, a range, an error, a fault. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "httpserv_int.h"
#include "sock.h"
#include "mtime.h"

static const char *
status_text(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 410:
		return "Gone";
	case 416:
		return "Range Not Satisfiable";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Status";
	}
}

static void
http_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static unsigned long long
mix64(unsigned long long x)
{
	/* splitmix64's finaliser: a cheap, well-spread hash of x. */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* ---- responses ---- */

/* The Connection header a response needs, if any. */
static const char *
conn_header(const struct httpserv_resp *rs)
{
	if (!rs->keep)
		return "Connection: close\r\n";
	return rs->minor == 0 ? "Connection: keep-alive\r\n" : "";
}

/* A short response without a file: an error, a redirect, a fault. */
int
httpserv__send_simple(struct httpserv_conn *c, const struct httpserv_req *r,
		      struct httpserv_resp *rs, int code, const char *extra)
{
	char date[64], head[1024], body[128];
	int hl, bl;

	http_date(time(NULL), date, sizeof(date));
	bl = snprintf(body, sizeof(body), "%d %s\n", code, status_text(code));
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\n"
		      "Date: %s\r\n"
		      "Server: netthreads-httpserv\r\n"
		      "Content-Type: text/plain\r\n"
		      "Content-Length: %d\r\n"
		      "%s%s\r\n",
		      code, status_text(code), date, bl, extra ? extra : "",
		      conn_header(rs));
	rs->status = code;
	if (hl < 0 || (size_t)hl >= sizeof(head))
		return -EOVERFLOW;
	if (r != NULL && strcmp(r->method, "HEAD") == 0)
		return sock_send_all(c->fd, head, (size_t)hl, 0);
	if (sock_send_all(c->fd, head, (size_t)hl, MSG_MORE) < 0)
		return -EPIPE;
	rs->sent = bl;
	return sock_send_all(c->fd, body, (size_t)bl, 0);
}

/* The body plan of one file response. */
struct httpserv_body {
	int fd;
	long long off, len;
	unsigned char xor ; /* changed-version bytes, or 0 */
	int chunked;
	long long cut;	    /* -1: none */
	long long stall_at; /* -1: none */
	double stall;
	unsigned long rate; /* paced by our writes; 0: not */
};

/* Sends n bytes at pos straight from the file. The bytes sent (0 when
 * interrupted: try again), or -errno. */
static ssize_t
send_direct(struct httpserv_conn *c, const struct httpserv_body *b,
	    long long pos, size_t n)
{
	off_t o = (off_t)(b->off + pos);
	ssize_t k = sendfile(c->fd, b->fd, &o, n);

	if (k < 0 && errno == EINTR)
		return 0;
	if (k <= 0)
		return k < 0 ? -errno : -EIO; /* file shrank */
	return k;
}

/* Sends n bytes at pos through buf, where they can be changed or framed
 * as a chunk. The bytes of the file sent, or -errno. */
static ssize_t
send_copied(struct httpserv_conn *c, const struct httpserv_body *b, char *buf,
	    long long pos, size_t n)
{
	ssize_t k = pread(b->fd, buf + 16, n, (off_t)(b->off + pos));
	int rc;

	if (k <= 0)
		return k < 0 ? -errno : -EIO;
	for (ssize_t i = 0; i < k && b->xor ; i++)
		buf[16 + i] ^= (char)b->xor ;
	if (b->chunked) {
		char h[16];
		int hl = snprintf(h, sizeof(h), "%zx\r\n", (size_t)k);

		/* The chunk header goes just before the data. */
		memcpy(buf + 16 - hl, h, (size_t)hl);
		memcpy(buf + 16 + k, "\r\n", 2);
		rc = sock_send_all(c->fd, buf + 16 - hl, (size_t)(hl + k + 2),
				   0);
	} else {
		rc = sock_send_all(c->fd, buf + 16, (size_t)k, 0);
	}
	return rc < 0 ? rc : k;
}

/* The bytes to send next from pos: a step, ending early at a cut or a
 * stall so that they happen at their byte. */
static size_t
next_step(const struct httpserv_body *b, long long pos, size_t step)
{
	long long stop = b->len;

	if (b->cut > pos && b->cut < stop)
		stop = b->cut;
	if (b->stall_at > pos && b->stall_at < stop)
		stop = b->stall_at;
	return (size_t)(stop - pos < (long long)step ? stop - pos :
						       (long long)step);
}

/* Has the client closed its side? A connection it gave up on must not
 * hold a share of the link (opts.link) any longer. */
static int
peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* Waits secs seconds for the link; -ECANCELED when the server stops. */
static int
link_wait(struct httpserv_conn *c, double secs)
{
	if (secs <= 0)
		return 0;
	return httpserv__wait_or_stop(c->srv, (int)(secs * 1000) + 1) ?
		       -ECANCELED :
		       0;
}

/* Sends b->len bytes from b->off. 0 when sent, 1 when cut by a fault,
 * -errno on failure. */
static int
send_body(struct httpserv_conn *c, const struct httpserv_body *b,
	  struct httpserv_resp *rs)
{
	char *buf = NULL;
	long long pos = 0;
	int rc = 0, stalled = 0;
	double t0 = mtime_now();
	size_t step = IO_CHUNK;

	if (b->xor != 0 || b->chunked) {
		if ((buf = malloc(IO_CHUNK + 32)) == NULL)
			return -ENOMEM;
	}
	if (b->rate != 0) {
		/* Fifty writes a second: smooth, without a timer per packet. */
		step = b->rate / 50;
		step = step < 1448 ? 1448 : step > IO_CHUNK ? IO_CHUNK : step;
	}
	if (c->srv->o.link != 0 && c->srv->o.link / 100 < step) {
		/* Small enough that connections take turns on the link. */
		step = c->srv->o.link / 100;
		step = step < 1448 ? 1448 : step;
	}
	for (;;) {
		size_t n;
		ssize_t k;

		if (b->stall_at >= 0 && pos == b->stall_at && !stalled) {
			stalled = 1;
			if (httpserv__wait_or_stop(c->srv,
						   (int)(b->stall * 1000))) {
				rc = -ECANCELED;
				break;
			}
		}
		if (b->cut >= 0 && pos == b->cut) {
			rc = 1;
			break;
		}
		if (pos >= b->len)
			break;
		n = next_step(b, pos, step);
		if (b->rate == 0)
			httpserv__pace(c); /* a cap that changed mid-way */
		if (b->rate != 0) {
			double due = t0 + (double)pos / (double)b->rate;
			double wait = due - mtime_now();

			if (wait > 0 && httpserv__wait_or_stop(
						c->srv, (int)(wait * 1000))) {
				rc = -ECANCELED;
				break;
			}
		}
		if (c->srv->o.link != 0 && peer_gone(c->fd)) {
			rc = -EPIPE;
			break;
		}
		if (c->srv->o.link != 0 &&
		    link_wait(c, httpserv__link_take(c->srv, n)) < 0) {
			rc = -ECANCELED;
			break;
		}
		if (buf == NULL)
			k = send_direct(c, b, pos, n);
		else
			k = send_copied(c, b, buf, pos, n);
		if (k < 0) {
			rc = (int)k;
			break;
		}
		pos += k;
		rs->sent += k;
	}
	if (rc == 0 && b->chunked)
		rc = sock_send_all(c->fd, "0\r\n\r\n", 5, 0);
	free(buf);
	return rc;
}

/* Is the open descriptor fd a file beneath the root? (By its name in
 * /proc, for when openat2 is not there.) */
static int
fd_beneath(struct httpserv *s, int fd)
{
	char link[64], real[PATH_MAX];
	size_t rl = strlen(s->realroot);
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, real, sizeof(real) - 1);
	if (n < 0)
		return 0;
	real[n] = '\0';
	if (strcmp(s->realroot, "/") == 0)
		return 1;
	return strncmp(real, s->realroot, rl) == 0 &&
	       (real[rl] == '/' || real[rl] == '\0');
}

/* Opens path (relative to the root) for reading, never outside the root. */
static int
open_beneath(struct httpserv *s, const char *path)
{
	struct open_how how;
	int fd;

	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, s->rootfd, path, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		/* Kernels before 5.6, and valgrind: open, then check where
		 * the file really is. */
		fd = openat(s->rootfd, path,
			    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd >= 0 && !fd_beneath(s, fd)) {
			close(fd);
			errno = EXDEV;
			fd = -1;
		}
	}
	return fd < 0 ? -errno : fd;
}

/* ---- one answer ---- */

/* What one answer needs, gathered as it is decided, step by step. */
struct httpserv_answer {
	struct httpserv_conn *c;
	struct httpserv_req *r;
	struct httpserv_resp *rs;
	struct httpserv_fault f;
	const char *p; /* the path, past any /fault/SPEC */
	size_t plen;
	const char *spec; /* NULL: no fault prefix */
	size_t speclen;
	unsigned long n; /* the request's number for its SPEC */
	int head_only;
	int fd; /* the file; -1: none */
	struct stat st;
	long long size;
	unsigned char xor ; /* changed-version bytes, or 0 */
	char lastmod[64], etag[ETAG_MAX + 1];
	int range; /* HTTPSERV_RANGE_* */
	long long first, last;
	char extra[1200]; /* headers of a short answer */
};

/* The /fault/SPEC prefix taken off the path and counted, as the faults
 * apply only to their first "times" requests. 0, or the status of a
 * short answer. */
static int
take_fault(struct httpserv_answer *a)
{
	const char *end;

	if (!a->c->srv->o.faults || strncmp(a->p, "/fault/", 7) != 0)
		return 0;
	a->spec = a->p + 7;
	end = memchr(a->spec, '/', a->plen - 7);
	if (end == NULL)
		return 400;
	a->speclen = (size_t)(end - a->spec);
	if (httpserv__fault_parse(a->spec, a->speclen, &a->f) < 0)
		return 400;
	a->n = httpserv__fault_count(a->c->srv, a->spec, a->speclen);
	if (a->n == 0)
		return 500;
	if (a->f.times >= 0 && (long long)a->n > a->f.times)
		httpserv__fault_init(&a->f);
	a->plen -= (size_t)(end - a->p);
	a->p = end;
	return 0;
}

/* The answers a fault gives before any file is looked at: a redirect, a
 * status, no HEAD; "close" only marks the connection. 0, or the status
 * of a short answer. */
static int
fault_answer(struct httpserv_answer *a)
{
	const struct httpserv_fault *f = &a->f;

	if (f->close)
		a->rs->keep = 0;
	if (f->redirect > 0) {
		char loc[1100];

		httpserv__redirect_location(a->spec, a->speclen,
					    f->redirect - 1, a->p, loc,
					    sizeof(loc));
		snprintf(a->extra, sizeof(a->extra), "Location: %s\r\n", loc);
		return 302;
	}
	if (f->status != 0) {
		if (f->retry >= 0)
			snprintf(a->extra, sizeof(a->extra),
				 "Retry-After: %d\r\n", f->retry);
		return f->status;
	}
	if (a->head_only && f->nohead) {
		snprintf(a->extra, sizeof(a->extra), "Allow: GET\r\n");
		return 405;
	}
	return 0;
}

/* Opens path beneath the root and reads what it is into st. The
 * descriptor, or -errno. */
static int
open_stat(struct httpserv *s, const char *path, struct stat *st)
{
	int fd, rc;

	if ((fd = open_beneath(s, path)) < 0)
		return fd;
	if (fstat(fd, st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* The file the path names, opened beneath the root: a directory gives
 * its index.html, and only regular files are served. 0, or the status
 * of a short answer. */
static int
open_file(struct httpserv_answer *a)
{
	struct httpserv *s = a->c->srv;
	char path[4096];
	int fd;

	/* Room kept for "/index.html". */
	if (httpserv__path_decode(a->p + 1, a->plen - 1, path,
				  sizeof(path) - 16) < 0)
		return 400;
	if (httpserv__path_escapes(path))
		return 403;
	if (path[0] == '\0')
		strcpy(path, ".");
	fd = open_stat(s, path, &a->st);
	if (fd >= 0 && S_ISDIR(a->st.st_mode)) {
		close(fd);
		strcat(path, "/index.html");
		fd = open_stat(s, path, &a->st);
	}
	if (fd == -ENOENT || fd == -ENOTDIR || fd == -ENAMETOOLONG)
		return 404;
	/* EXDEV: a symlink leading out of the root; EACCES, ELOOP. */
	if (fd < 0)
		return 403;
	a->fd = fd;
	if (!S_ISREG(a->st.st_mode))
		return 403;
	a->size = (long long)a->st.st_size;
	return 0;
}

/* The validators, ETag and Last-Modified. A changed version gets other
 * bytes and validators; etaglen pads the ETag inside its quotes. */
static void
make_validators(struct httpserv_answer *a)
{
	const struct httpserv_fault *f = &a->f;
	const struct stat *st = &a->st;
	size_t len = sizeof(a->etag);
	unsigned long v = 0;
	time_t mtime = st->st_mtime;
	int el;

	if (f->change == 1)
		v = a->n;
	else if (f->change == 2)
		v = (long long)a->n > f->change_after;
	if (v != 0)
		a->xor = (unsigned char)(v % 255 + 1);
	mtime += (time_t)v;
	http_date(mtime, a->lastmod, sizeof(a->lastmod));
	el = snprintf(a->etag, len, "\"%jx-%llx-%jx", (uintmax_t)st->st_ino,
		      a->size,
		      (uintmax_t)st->st_mtim.tv_sec * 1000000000u +
			      (uintmax_t)st->st_mtim.tv_nsec);
	if (v != 0)
		snprintf(a->etag + el, len - (size_t)el, "-v%lu\"", v);
	else
		snprintf(a->etag + el, len - (size_t)el, "\"");
	el = (int)strlen(a->etag);
	if (f->etaglen > el) {
		memset(a->etag + el - 1, 'x', (size_t)(f->etaglen - el));
		strcpy(a->etag + f->etaglen - 1, "\"");
	}
}

/* The bytes to send: a range when asked for, If-Range agrees and no
 * fault forbids it; badrange shifts it by one. 0, or 416. */
static int
decide_range(struct httpserv_answer *a)
{
	const struct httpserv_req *r = a->r;
	const struct httpserv_fault *f = &a->f;
	int ok;

	a->range = HTTPSERV_RANGE_NONE;
	if (r->range != NULL && !f->norange && !f->chunked) {
		if (r->if_range == NULL)
			ok = 1;
		else if (f->novalidator)
			ok = 0;
		else if (r->if_range[0] == '"')
			ok = strcmp(r->if_range, a->etag) == 0;
		else if (strncmp(r->if_range, "W/", 2) == 0)
			ok = 0; /* weak tags never match for ranges */
		else
			ok = strcmp(r->if_range, a->lastmod) == 0;
		if (ok)
			a->range = httpserv__parse_range(r->range, a->size,
							 &a->first, &a->last);
	}
	if (a->range == HTTPSERV_RANGE_UNSAT) {
		snprintf(a->extra, sizeof(a->extra),
			 "Content-Range: bytes */%lld\r\n", a->size);
		return 416;
	}
	if (a->range == HTTPSERV_RANGE_OK && f->badrange) {
		if (a->last + 1 < a->size)
			a->first++, a->last++;
		else if (a->first > 0)
			a->first--, a->last--;
	}
	if (a->range != HTTPSERV_RANGE_OK) {
		a->first = 0;
		a->last = a->size - 1;
	}
	return 0;
}

/* The head of a file answer built and sent; MSG_MORE when a body
 * follows. 0 or -errno. */
static int
send_head(struct httpserv_answer *a)
{
	struct httpserv_resp *rs = a->rs;
	char head[2048], date[64], valid[1200];
	size_t len = sizeof(head);
	int hl;

	http_date(time(NULL), date, sizeof(date));
	valid[0] = '\0';
	if (!a->f.novalidator)
		snprintf(valid, sizeof(valid),
			 "ETag: %s\r\nLast-Modified: %s\r\n", a->etag,
			 a->lastmod);
	rs->status = a->range == HTTPSERV_RANGE_OK ? 206 : 200;
	hl = snprintf(head, len,
		      "HTTP/1.1 %d %s\r\n"
		      "Date: %s\r\n"
		      "Server: netthreads-httpserv\r\n"
		      "Content-Type: application/octet-stream\r\n"
		      "%s",
		      rs->status, status_text(rs->status), date, valid);
	if (a->f.chunked)
		hl += snprintf(head + hl, len - (size_t)hl,
			       "Transfer-Encoding: chunked\r\n");
	else
		hl += snprintf(head + hl, len - (size_t)hl,
			       "Accept-Ranges: bytes\r\n"
			       "Content-Length: %lld\r\n",
			       a->last - a->first + 1);
	if (a->range == HTTPSERV_RANGE_OK)
		hl += snprintf(head + hl, len - (size_t)hl,
			       "Content-Range: bytes %lld-%lld/%lld\r\n",
			       a->first, a->last, a->size);
	hl += snprintf(head + hl, len - (size_t)hl, "%s\r\n", conn_header(rs));
	return sock_send_all(a->c->fd, head, (size_t)hl,
			     a->head_only ? 0 : MSG_MORE);
}

/* The body planned from the faults (cut, stall, rate) and sent; a cut
 * closes the connection, with a reset for rst. 0 or -errno. */
static int
send_file_body(struct httpserv_answer *a)
{
	const struct httpserv_fault *f = &a->f;
	struct httpserv_conn *c = a->c;
	struct httpserv_body b;
	int rc;

	memset(&b, 0, sizeof(b));
	b.fd = a->fd;
	b.off = a->first;
	b.len = a->last - a->first + 1;
	b.xor = a->xor ;
	b.chunked = f->chunked;
	b.cut = -1;
	b.stall_at = -1;
	if (f->cut_rand && b.len > 0)
		b.cut = (long long)(mix64(f->seed * 0x100000001b3ULL + a->n) %
				    (unsigned long long)b.len);
	else if (f->cut >= 0 && f->cut < b.len)
		b.cut = f->cut;
	if (f->stall > 0) {
		b.stall = f->stall;
		b.stall_at = f->stall_at >= 0 ? f->stall_at : b.len / 2;
		if (b.stall_at > b.len)
			b.stall_at = b.len;
	}
	/*
	 * A per-response rate is kept by the writes themselves: raising the
	 * kernel's cap mid-connection takes effect only gradually.
	 */
	b.rate = f->rate;
	if (f->rate != 0 && c->paced != 0)
		sock_set_pacing(c->fd, ~0UL);
	rc = send_body(c, &b, a->rs);
	if (f->rate != 0 && c->paced != 0)
		sock_set_pacing(c->fd, c->paced);
	if (rc == 1) {
		struct linger l = {.l_onoff = 1, .l_linger = 0};

		a->rs->cut = 1;
		a->rs->keep = 0;
		if (f->rst)
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		rc = 0;
	}
	return rc;
}

/* Answers one parsed request with its file, an error or its faults.
 * 0, or -errno when the connection must close. */
int
httpserv__serve(struct httpserv_conn *c, struct httpserv_req *r,
		struct httpserv_resp *rs)
{
	struct httpserv_answer a;
	int code, rc;

	memset(&a, 0, sizeof(a));
	a.c = c;
	a.r = r;
	a.rs = rs;
	a.p = r->target;
	a.fd = -1;
	a.head_only = strcmp(r->method, "HEAD") == 0;
	httpserv__fault_init(&a.f);
	if (strcmp(r->method, "GET") != 0 && !a.head_only)
		return httpserv__send_simple(c, r, rs, 405,
					     "Allow: GET, HEAD\r\n");
	if (*a.p != '/')
		return httpserv__send_simple(c, r, rs, 400, NULL);
	a.plen = strcspn(a.p, "?#");
	if ((code = take_fault(&a)) == 0 && (code = fault_answer(&a)) == 0 &&
	    (code = open_file(&a)) == 0) {
		make_validators(&a);
		code = decide_range(&a);
	}
	if (code != 0)
		rc = httpserv__send_simple(c, r, rs, code, a.extra);
	else if ((rc = send_head(&a)) >= 0 && !a.head_only)
		rc = send_file_body(&a);
	if (a.fd >= 0)
		close(a.fd);
	return rc;
}
