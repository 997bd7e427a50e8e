/* SPDX-License-Identifier: ISC */
/* httpserv_file.c -- answering one request: a file, a range, an error, a fault. */
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
	case 200: return "OK";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 410: return "Gone";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Status";
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
httpserv__send_simple(struct httpserv_conn *c, const struct httpserv_req *r, struct httpserv_resp *rs,
		      int code, const char *extra)
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
	unsigned char xor;	/* changed-version bytes, or 0 */
	int chunked;
	long long cut;		/* -1: none */
	long long stall_at;	/* -1: none */
	double stall;
	unsigned long rate;	/* paced by our writes; 0: not */
};

/* Sends b->len bytes from b->off. 0 when sent, 1 when cut by a fault,
 * -errno on failure. */
static int
send_body(struct httpserv_conn *c, const struct httpserv_body *b, struct httpserv_resp *rs)
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
	for (;;) {
		long long stop = b->len;
		size_t n;

		if (b->stall_at >= 0 && pos == b->stall_at && !stalled) {
			stalled = 1;
			if (httpserv__wait_or_stop(c->srv, (int)(b->stall * 1000))) {
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
		if (b->cut > pos && b->cut < stop)
			stop = b->cut;
		if (b->stall_at > pos && b->stall_at < stop)
			stop = b->stall_at;
		n = (size_t)(stop - pos < (long long)step ? stop - pos
							  : (long long)step);
		if (b->rate != 0) {
			double due = t0 + (double)pos / (double)b->rate;
			double wait = due - mtime_now();

			if (wait > 0 && httpserv__wait_or_stop(c->srv, (int)(wait * 1000))) {
				rc = -ECANCELED;
				break;
			}
		}
		if (buf == NULL) {
			off_t o = (off_t)(b->off + pos);
			ssize_t k = sendfile(c->fd, b->fd, &o, n);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				rc = k < 0 ? -errno : -EIO; /* file shrank */
				break;
			}
			pos += k;
			rs->sent += k;
			continue;
		}
		ssize_t k = pread(b->fd, buf + 16, n, (off_t)(b->off + pos));
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;
			break;
		}
		for (ssize_t i = 0; i < k && b->xor; i++)
			buf[16 + i] ^= (char)b->xor;
		if (b->chunked) {
			char h[16];
			int hl = snprintf(h, sizeof(h), "%zx\r\n", (size_t)k);

			/* The chunk header goes just before the data. */
			memcpy(buf + 16 - hl, h, (size_t)hl);
			memcpy(buf + 16 + k, "\r\n", 2);
			rc = sock_send_all(c->fd, buf + 16 - hl,
					   (size_t)(hl + k + 2), 0);
		} else {
			rc = sock_send_all(c->fd, buf + 16, (size_t)k, 0);
		}
		if (rc < 0)
			break;
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
		fd = openat(s->rootfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
						     O_NONBLOCK);
		if (fd >= 0 && !fd_beneath(s, fd)) {
			close(fd);
			errno = EXDEV;
			fd = -1;
		}
	}
	return fd < 0 ? -errno : fd;
}


int
httpserv__serve(struct httpserv_conn *c, struct httpserv_req *r, struct httpserv_resp *rs)
{
	struct httpserv *s = c->srv;
	struct httpserv_fault f;
	struct httpserv_body b;
	struct stat st;
	char path[4096], date[64], lastmod[64], etag[ETAG_MAX + 1];
	char head[2048];
	char extra[1200];
	const char *p = r->target, *spec = NULL, *end;
	size_t speclen = 0, plen;
	long long first = 0, last = -1, size;
	int head_only = strcmp(r->method, "HEAD") == 0, fd = -1, rc, hl;
	int range = HTTPSERV_RANGE_NONE;
	unsigned long n = 0;
	unsigned char xor = 0;

	httpserv__fault_init(&f);
	if (strcmp(r->method, "GET") != 0 && !head_only)
		return httpserv__send_simple(c, r, rs, 405, "Allow: GET, HEAD\r\n");
	if (*p != '/')
		return httpserv__send_simple(c, r, rs, 400, NULL);
	plen = strcspn(p, "?#");

	if (s->o.faults && strncmp(p, "/fault/", 7) == 0) {
		spec = p + 7;
		end = memchr(spec, '/', plen - 7);
		if (end == NULL)
			return httpserv__send_simple(c, r, rs, 400, NULL);
		speclen = (size_t)(end - spec);
		if (httpserv__fault_parse(spec, speclen, &f) < 0)
			return httpserv__send_simple(c, r, rs, 400, NULL);
		n = httpserv__fault_count(s, spec, speclen);
		if (n == 0)
			return httpserv__send_simple(c, r, rs, 500, NULL);
		if (f.times >= 0 && (long long)n > f.times)
			httpserv__fault_init(&f);
		plen -= (size_t)(end - p);
		p = end;
	}
	if (f.close)
		rs->keep = 0;
	if (f.redirect > 0) {
		char loc[1100];

		httpserv__redirect_location(spec, speclen, f.redirect - 1, p, loc,
				  sizeof(loc));
		snprintf(extra, sizeof(extra), "Location: %s\r\n", loc);
		return httpserv__send_simple(c, r, rs, 302, extra);
	}
	if (f.status != 0) {
		extra[0] = '\0';
		if (f.retry >= 0)
			snprintf(extra, sizeof(extra), "Retry-After: %d\r\n",
				 f.retry);
		return httpserv__send_simple(c, r, rs, f.status, extra);
	}
	if (head_only && f.nohead)
		return httpserv__send_simple(c, r, rs, 405, "Allow: GET\r\n");

	if (httpserv__path_decode(p + 1, plen - 1, path, sizeof(path) - 16) < 0)
		return httpserv__send_simple(c, r, rs, 400, NULL);
	if (httpserv__path_escapes(path))
		return httpserv__send_simple(c, r, rs, 403, NULL);
	if (path[0] == '\0')
		strcpy(path, ".");
	if ((fd = open_beneath(s, path)) < 0)
		goto open_failed;
	if (fstat(fd, &st) < 0)
		goto open_failed_errno;
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		strcat(path, "/index.html");
		if ((fd = open_beneath(s, path)) < 0)
			goto open_failed;
		if (fstat(fd, &st) < 0)
			goto open_failed_errno;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return httpserv__send_simple(c, r, rs, 403, NULL);
	}
	size = (long long)st.st_size;

	/* Validators; a changed version gets other bytes and validators. */
	{
		unsigned long v = 0;
		time_t mtime = st.st_mtime;

		if (f.change == 1)
			v = n;
		else if (f.change == 2)
			v = (long long)n > f.change_after;
		if (v != 0)
			xor = (unsigned char)(v % 255 + 1);
		mtime += (time_t)v;
		http_date(mtime, lastmod, sizeof(lastmod));
		int el = snprintf(etag, sizeof(etag), "\"%jx-%llx-%jx",
				  (uintmax_t)st.st_ino, size,
				  (uintmax_t)st.st_mtim.tv_sec * 1000000000u +
					  (uintmax_t)st.st_mtim.tv_nsec);
		if (v != 0)
			snprintf(etag + el, sizeof(etag) - (size_t)el,
				 "-v%lu\"", v);
		else
			snprintf(etag + el, sizeof(etag) - (size_t)el, "\"");
		/* A long ETag, padded inside its quotes. */
		el = (int)strlen(etag);
		if (f.etaglen > el) {
			memset(etag + el - 1, 'x', (size_t)(f.etaglen - el));
			strcpy(etag + f.etaglen - 1, "\"");
		}
	}

	if (r->range != NULL && !f.norange && !f.chunked) {
		int ok = 1;

		if (r->if_range != NULL) {
			if (f.novalidator)
				ok = 0;
			else if (r->if_range[0] == '"')
				ok = strcmp(r->if_range, etag) == 0;
			else if (strncmp(r->if_range, "W/", 2) == 0)
				ok = 0; /* weak tags never match for ranges */
			else
				ok = strcmp(r->if_range, lastmod) == 0;
		}
		if (ok)
			range = httpserv__parse_range(r->range, size, &first, &last);
	}
	if (range == HTTPSERV_RANGE_UNSAT) {
		close(fd);
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%lld\r\n",
			 size);
		return httpserv__send_simple(c, r, rs, 416, extra);
	}
	if (range == HTTPSERV_RANGE_OK && f.badrange) {
		if (last + 1 < size)
			first++, last++;
		else if (first > 0)
			first--, last--;
	}
	if (range != HTTPSERV_RANGE_OK) {
		first = 0;
		last = size - 1;
	}

	http_date(time(NULL), date, sizeof(date));
	extra[0] = '\0';
	if (!f.novalidator)
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nLast-Modified: %s\r\n", etag, lastmod);
	rs->status = range == HTTPSERV_RANGE_OK ? 206 : 200;
	hl = snprintf(head, sizeof(head),
		      "HTTP/1.1 %d %s\r\n"
		      "Date: %s\r\n"
		      "Server: netthreads-httpserv\r\n"
		      "Content-Type: application/octet-stream\r\n"
		      "%s",
		      rs->status, status_text(rs->status), date, extra);
	if (f.chunked)
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl,
			       "Transfer-Encoding: chunked\r\n");
	else
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl,
			       "Accept-Ranges: bytes\r\n"
			       "Content-Length: %lld\r\n",
			       last - first + 1);
	if (range == HTTPSERV_RANGE_OK)
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl,
			       "Content-Range: bytes %lld-%lld/%lld\r\n",
			       first, last, size);
	hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "%s\r\n",
		       conn_header(rs));
	rc = sock_send_all(c->fd, head, (size_t)hl, head_only ? 0 : MSG_MORE);
	if (rc < 0 || head_only)
		goto out;

	memset(&b, 0, sizeof(b));
	b.fd = fd;
	b.off = first;
	b.len = last - first + 1;
	b.xor = xor;
	b.chunked = f.chunked;
	b.cut = -1;
	b.stall_at = -1;
	if (f.cut_rand && b.len > 0)
		b.cut = (long long)(mix64(f.seed * 0x100000001b3ULL + n) %
				    (unsigned long long)b.len);
	else if (f.cut >= 0 && f.cut < b.len)
		b.cut = f.cut;
	if (f.stall > 0) {
		b.stall = f.stall;
		b.stall_at = f.stall_at >= 0 ? f.stall_at : b.len / 2;
		if (b.stall_at > b.len)
			b.stall_at = b.len;
	}
	/*
	 * A per-response rate is kept by the writes themselves: raising the
	 * kernel's cap mid-connection takes effect only gradually.
	 */
	b.rate = f.rate;
	if (f.rate != 0 && s->o.rate != 0)
		sock_set_pacing(c->fd, ~0UL);
	rc = send_body(c, &b, rs);
	if (f.rate != 0 && s->o.rate != 0)
		sock_set_pacing(c->fd, s->o.rate);
	if (rc == 1) {
		rs->cut = 1;
		rs->keep = 0;
		if (f.rst) {
			struct linger l = {.l_onoff = 1, .l_linger = 0};

			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
		rc = 0;
	}
out:
	close(fd);
	return rc;

open_failed_errno:
	rc = -errno;
	close(fd);
	fd = rc;
open_failed:
	switch (-fd) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return httpserv__send_simple(c, r, rs, 404, NULL);
	default:
		/* EXDEV: a symlink leading out of the root; EACCES, ELOOP. */
		return httpserv__send_simple(c, r, rs, 403, NULL);
	}
}

/* Answers one request head. Returns 1 to keep the connection, else 0. */
