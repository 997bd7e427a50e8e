/* httpserv.c -- HTTP/1.1 static files with ranges, pacing and test faults. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include "httpserv.h"
#include "httpserv_int.h"
#include "sock.h"

#define REQ_MAX	      8192	/* request head, bytes */
#define IO_CHUNK      65536	/* one read or send of body bytes */
#define FAULT_SPECS   4096	/* distinct SPEC texts counted */
#define CONN_STACK    (256 * 1024)
#define DEFAULT_CONNS 128
#define PACED_MSS     1448

enum { SLOT_FREE, SLOT_RUN, SLOT_DONE };

struct conn {
	struct httpserv *srv;
	pthread_t thread;
	int fd;		   /* -1 once closed; under srv->lock */
	int state;	   /* SLOT_*; under srv->lock */
	int cut;	   /* a fault cut the connection */
	unsigned long id;
};

struct fault_count {
	struct fault_count *next;
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
	int stopfd[2];		/* written once by stop: wakes every poll */
	atomic_int stopping;
	int started;
	pthread_t acceptor;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* a slot was freed, or stopping */
	struct conn *conns;
	int live;
	unsigned long nconns, nreqs;
	struct fault_count *faults;
	int nfaults;
};


/* The state of one response being made. */
struct resp {
	int minor;		/* the request's HTTP/1.x */
	int status;
	long long sent;
	int cut;
	int keep;
};

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

/* Sends all of buf (MSG_MORE when more follows). 0 or -errno. */
static int
send_all(int fd, const char *buf, size_t len, int more)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len,
				 MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Waits up to ms milliseconds unless the server stops. 1 if stopping. */
static int
wait_or_stop(struct httpserv *s, int ms)
{
	struct pollfd p = {.fd = s->stopfd[0], .events = POLLIN};

	return poll(&p, 1, ms) > 0;
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

/* ---- requests ---- */

/* Reads until a whole request head is in buf. Returns its length, 0 when
 * the connection ends (EOF, idle, stop) or -1 when the head is too long. */
static long
read_head(struct conn *c, char *buf, size_t *have)
{
	struct httpserv *s = c->srv;
	int idle_ms = (int)(s->o.idle_timeout * 1000);

	for (;;) {
		struct pollfd p[2] = {
			{.fd = c->fd, .events = POLLIN},
			{.fd = s->stopfd[0], .events = POLLIN},
		};
		char *end;
		ssize_t n;

		buf[*have] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			return end + 4 - buf;
		if ((end = strstr(buf, "\n\n")) != NULL)
			return end + 2 - buf;
		if (*have >= REQ_MAX)
			return -1;
		if (strlen(buf) != *have)
			return -1; /* a NUL inside the head: not HTTP */
		n = poll(p, 2, idle_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (p[1].revents & POLLIN))
			return 0;
		n = recv(c->fd, buf + *have, REQ_MAX - *have, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		*have += (size_t)n;
	}
}


/* Counts one more request carrying spec; returns its number (from 1), or
 * 0 when too many distinct specs are being counted. */
static unsigned long
fault_count(struct httpserv *s, const char *spec, size_t len)
{
	struct fault_count *fc;
	unsigned long n = 0;

	pthread_mutex_lock(&s->lock);
	for (fc = s->faults; fc != NULL; fc = fc->next)
		if (strlen(fc->spec) == len && memcmp(fc->spec, spec, len) == 0)
			break;
	if (fc == NULL && s->nfaults < FAULT_SPECS &&
	    (fc = malloc(sizeof(*fc) + len + 1)) != NULL) {
		memcpy(fc->spec, spec, len);
		fc->spec[len] = '\0';
		fc->n = 0;
		fc->next = s->faults;
		s->faults = fc;
		s->nfaults++;
	}
	if (fc != NULL)
		n = ++fc->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* ---- responses ---- */

/* The Connection header a response needs, if any. */
static const char *
conn_header(const struct resp *rs)
{
	if (!rs->keep)
		return "Connection: close\r\n";
	return rs->minor == 0 ? "Connection: keep-alive\r\n" : "";
}

/* A short response without a file: an error, a redirect, a fault. */
static int
send_simple(struct conn *c, const struct req *r, struct resp *rs, int code,
	    const char *extra)
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
		return send_all(c->fd, head, (size_t)hl, 0);
	if (send_all(c->fd, head, (size_t)hl, 1) < 0)
		return -EPIPE;
	rs->sent = bl;
	return send_all(c->fd, body, (size_t)bl, 0);
}

/* The body plan of one file response. */
struct body {
	int fd;
	long long off, len;
	unsigned char xor;	/* changed-version bytes, or 0 */
	int chunked;
	long long cut;		/* -1: none */
	long long stall_at;	/* -1: none */
	double stall;
	unsigned long rate;	/* paced by our writes; 0: not */
};

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends b->len bytes from b->off. 0 when sent, 1 when cut by a fault,
 * -errno on failure. */
static int
send_body(struct conn *c, const struct body *b, struct resp *rs)
{
	char *buf = NULL;
	long long pos = 0;
	int rc = 0, stalled = 0;
	double t0 = now_mono();
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
			if (wait_or_stop(c->srv, (int)(b->stall * 1000))) {
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
			double wait = due - now_mono();

			if (wait > 0 && wait_or_stop(c->srv, (int)(wait * 1000))) {
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
			rc = send_all(c->fd, buf + 16 - hl, (size_t)(hl + k + 2),
				      0);
		} else {
			rc = send_all(c->fd, buf + 16, (size_t)k, 0);
		}
		if (rc < 0)
			break;
		pos += k;
		rs->sent += k;
	}
	if (rc == 0 && b->chunked)
		rc = send_all(c->fd, "0\r\n\r\n", 5, 0);
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


static int
serve(struct conn *c, struct req *r, struct resp *rs)
{
	struct httpserv *s = c->srv;
	struct fault f;
	struct body b;
	struct stat st;
	char path[4096], date[64], lastmod[64], etag[96], head[2048];
	char extra[1200];
	const char *p = r->target, *spec = NULL, *end;
	size_t speclen = 0, plen;
	long long first = 0, last = -1, size;
	int head_only = strcmp(r->method, "HEAD") == 0, fd = -1, rc, hl;
	int range = RANGE_NONE;
	unsigned long n = 0;
	unsigned char xor = 0;

	httpserv__fault_init(&f);
	if (strcmp(r->method, "GET") != 0 && !head_only)
		return send_simple(c, r, rs, 405, "Allow: GET, HEAD\r\n");
	if (*p != '/')
		return send_simple(c, r, rs, 400, NULL);
	plen = strcspn(p, "?#");

	if (s->o.faults && strncmp(p, "/fault/", 7) == 0) {
		spec = p + 7;
		end = memchr(spec, '/', plen - 7);
		if (end == NULL)
			return send_simple(c, r, rs, 400, NULL);
		speclen = (size_t)(end - spec);
		if (httpserv__fault_parse(spec, speclen, &f) < 0)
			return send_simple(c, r, rs, 400, NULL);
		n = fault_count(s, spec, speclen);
		if (n == 0)
			return send_simple(c, r, rs, 500, NULL);
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
		return send_simple(c, r, rs, 302, extra);
	}
	if (f.status != 0) {
		extra[0] = '\0';
		if (f.retry >= 0)
			snprintf(extra, sizeof(extra), "Retry-After: %d\r\n",
				 f.retry);
		return send_simple(c, r, rs, f.status, extra);
	}
	if (head_only && f.nohead)
		return send_simple(c, r, rs, 405, "Allow: GET\r\n");

	if (httpserv__path_decode(p + 1, plen - 1, path, sizeof(path) - 16) < 0)
		return send_simple(c, r, rs, 400, NULL);
	if (httpserv__path_escapes(path))
		return send_simple(c, r, rs, 403, NULL);
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
		return send_simple(c, r, rs, 403, NULL);
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
	if (range == RANGE_UNSAT) {
		close(fd);
		snprintf(extra, sizeof(extra), "Content-Range: bytes */%lld\r\n",
			 size);
		return send_simple(c, r, rs, 416, extra);
	}
	if (range == RANGE_OK && f.badrange) {
		if (last + 1 < size)
			first++, last++;
		else if (first > 0)
			first--, last--;
	}
	if (range != RANGE_OK) {
		first = 0;
		last = size - 1;
	}

	http_date(time(NULL), date, sizeof(date));
	extra[0] = '\0';
	if (!f.novalidator)
		snprintf(extra, sizeof(extra),
			 "ETag: %s\r\nLast-Modified: %s\r\n", etag, lastmod);
	rs->status = range == RANGE_OK ? 206 : 200;
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
	if (range == RANGE_OK)
		hl += snprintf(head + hl, sizeof(head) - (size_t)hl,
			       "Content-Range: bytes %lld-%lld/%lld\r\n",
			       first, last, size);
	hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "%s\r\n",
		       conn_header(rs));
	rc = send_all(c->fd, head, (size_t)hl, !head_only);
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
		return send_simple(c, r, rs, 404, NULL);
	default:
		/* EXDEV: a symlink leading out of the root; EACCES, ELOOP. */
		return send_simple(c, r, rs, 403, NULL);
	}
}

/* Answers one request head. Returns 1 to keep the connection, else 0. */
static int
handle(struct conn *c, char *head, long len)
{
	struct httpserv *s = c->srv;
	struct req r;
	struct resp rs = {.status = 0, .keep = 1};
	int rc;

	head[len] = '\0';
	if (httpserv__parse_head(head, &r) < 0 || (r.minor == 1 && !r.host) || r.body) {
		/* Unsure where this request ends: answer and close. */
		rs.keep = 0;
		rc = send_simple(c, NULL, &rs, 400, NULL);
	} else {
		rs.minor = r.minor;
		if (r.minor == 1)
			rs.keep = !httpserv__has_token(r.connection, "close");
		else
			rs.keep = httpserv__has_token(r.connection, "keep-alive");
		rc = serve(c, &r, &rs);
	}
	c->cut = rs.cut;
	pthread_mutex_lock(&s->lock);
	s->nreqs++;
	pthread_mutex_unlock(&s->lock);
	if (s->o.log != NULL) {
		struct httpserv_logent e = {
			.conn = c->id,
			.method = r.method ? r.method : "?",
			.target = r.target ? r.target : "?",
			.range = r.range,
			.status = rs.status,
			.sent = rs.sent,
			.cut = rs.cut,
		};
		s->o.log(s->o.log_arg, &e);
	}
	return rc == 0 && rs.keep;
}

/*
 * Closing a socket with unread input makes the kernel send a reset, which
 * can destroy the response before the client reads it (after a 400 to a
 * pipelined batch, say). So half-close, then read and drop what the
 * client still sends, for a bounded time.
 */
static void
linger_close(struct conn *c, char *buf)
{
	double end = now_mono() + 1.0;
	long total = 0;

	shutdown(c->fd, SHUT_WR);
	while (total < 1024 * 1024) {
		struct pollfd p[2] = {
			{.fd = c->fd, .events = POLLIN},
			{.fd = c->srv->stopfd[0], .events = POLLIN},
		};
		double left = end - now_mono();
		ssize_t n;

		if (left <= 0 || poll(p, 2, (int)(left * 1000) + 1) <= 0 ||
		    (p[1].revents & POLLIN))
			break;
		n = recv(c->fd, buf, REQ_MAX, MSG_DONTWAIT);
		if (n <= 0 && !(n < 0 && errno == EAGAIN))
			break;
		total += n > 0 ? n : 0;
	}
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct httpserv *s = c->srv;
	char *buf = malloc(REQ_MAX + 1);
	size_t have = 0;

	while (buf != NULL && !atomic_load(&s->stopping)) {
		long len = read_head(c, buf, &have);
		int keep;

		if (len == 0)
			break;
		if (len < 0) {
			struct resp rs = {.keep = 0};

			send_simple(c, NULL, &rs, 431, NULL);
			break;
		}
		/* The head is parsed in place; keep what follows it. */
		{
			char next = buf[len];

			keep = handle(c, buf, len);
			buf[len] = next;
		}
		memmove(buf, buf + len, have - (size_t)len);
		have -= (size_t)len;
		if (!keep)
			break;
	}
	if (buf != NULL && !c->cut && !atomic_load(&s->stopping))
		linger_close(c, buf);
	free(buf);
	pthread_mutex_lock(&s->lock);
	close(c->fd);
	c->fd = -1;
	c->state = SLOT_DONE;
	s->live--;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Joins finished connection threads. Called with s->lock held; those
 * threads have left their last critical section, so the join is short. */
static void
reap_locked(struct httpserv *s)
{
	for (int i = 0; i < s->o.max_conns; i++) {
		if (s->conns[i].state == SLOT_DONE) {
			pthread_join(s->conns[i].thread, NULL);
			s->conns[i].state = SLOT_FREE;
		}
	}
}

static void *
accept_main(void *arg)
{
	struct httpserv *s = arg;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, CONN_STACK);
	for (;;) {
		struct pollfd p[2] = {
			{.fd = s->lfd, .events = POLLIN},
			{.fd = s->stopfd[0], .events = POLLIN},
		};
		struct conn *c = NULL;
		int fd;

		/* Past the bound, new clients wait in the listen backlog. */
		pthread_mutex_lock(&s->lock);
		while (!atomic_load(&s->stopping) && s->live >= s->o.max_conns)
			pthread_cond_wait(&s->cond, &s->lock);
		reap_locked(s);
		pthread_mutex_unlock(&s->lock);
		if (atomic_load(&s->stopping))
			break;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = sock_accept(s->lfd, 0, NULL);
		if (fd < 0) {
			/* Out of descriptors, say: let some connections end. */
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM ||
			    fd == -ENOBUFS)
				wait_or_stop(s, 50);
			continue;
		}
		if (s->o.rate != 0)
			sock_set_pacing(fd, s->o.rate);
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->o.max_conns; i++) {
			if (s->conns[i].state == SLOT_FREE) {
				c = &s->conns[i];
				break;
			}
		}
		/* live < max_conns and reaped: a free slot exists. */
		c->fd = fd;
		c->state = SLOT_RUN;
		c->id = ++s->nconns;
		s->live++;
		if (pthread_create(&c->thread, &attr, conn_main, c) != 0) {
			close(fd);
			c->fd = -1;
			c->state = SLOT_FREE;
			s->live--;
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

struct httpserv *
httpserv_new(const struct httpserv_opts *opts)
{
	struct httpserv *s;
	int rc, e;

	if (opts == NULL || opts->root == NULL || opts->max_conns < 0 ||
	    opts->idle_timeout < 0) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->o = *opts;
	s->rootfd = s->lfd = s->stopfd[0] = s->stopfd[1] = -1;
	if (s->o.max_conns == 0)
		s->o.max_conns = DEFAULT_CONNS;
	if (s->o.idle_timeout == 0)
		s->o.idle_timeout = 30;
	if (s->o.idle_timeout > 86400)
		s->o.idle_timeout = 86400;
	s->o.root = NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	atomic_init(&s->stopping, 0);
	if ((s->root = strdup(opts->root)) == NULL)
		goto fail;
	if ((s->realroot = realpath(s->root, NULL)) == NULL)
		goto fail;
	s->rootfd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->rootfd < 0)
		goto fail;
	s->conns = calloc((size_t)s->o.max_conns, sizeof(*s->conns));
	if (s->conns == NULL)
		goto fail;
	for (int i = 0; i < s->o.max_conns; i++) {
		s->conns[i].srv = s;
		s->conns[i].fd = -1;
	}
	if (pipe2(s->stopfd, O_CLOEXEC) < 0)
		goto fail;
	rc = sock_listen(s->o.host ? s->o.host : "127.0.0.1", s->o.port, 511,
			 0);
	if (rc < 0) {
		errno = rc <= SOCK_ERESOLVE + 100 ? EADDRNOTAVAIL : -rc;
		goto fail;
	}
	s->lfd = rc;
	if (s->o.rate != 0) {
		/*
		 * The kernel sends a connection's first 10 segments unpaced.
		 * Loopback's 64 KiB segments would make that 640 KiB free of
		 * the cap; an Ethernet-sized MSS (inherited by accepted
		 * sockets) keeps it to 14 KiB, as on the internet.
		 */
		int mss = PACED_MSS;

		setsockopt(s->lfd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
	}
	s->port = sock_local_port(s->lfd);
	s->o.host = NULL;
	return s;
fail:
	e = errno;
	httpserv_free(s);
	errno = e;
	return NULL;
}

int
httpserv_port(const struct httpserv *s)
{
	return s->port;
}

int
httpserv_start(struct httpserv *s)
{
	sigset_t all, old;
	int rc;

	if (s->started)
		return -EALREADY;
	/* Threads inherit the mask: the server's threads take no signals
	 * (and a write to a closed peer is EPIPE, never SIGPIPE). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->acceptor, NULL, accept_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
	s->started = 1;
	return 0;
}

void
httpserv_stop(struct httpserv *s)
{
	struct conn *busy[64];
	int nb;

	if (s == NULL || !s->started)
		return;
	s->started = 0;
	atomic_store(&s->stopping, 1);
	if (write(s->stopfd[1], "x", 1) < 0) {
		/* A pipe with room for one byte cannot fail here. */
	}
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->acceptor, NULL);
	/* Wake connections blocked in a send, then join them all. */
	do {
		nb = 0;
		pthread_mutex_lock(&s->lock);
		for (int i = 0; i < s->o.max_conns && nb < 64; i++) {
			struct conn *c = &s->conns[i];

			if (c->state == SLOT_FREE)
				continue;
			if (c->fd >= 0)
				shutdown(c->fd, SHUT_RDWR);
			busy[nb++] = c;
		}
		pthread_mutex_unlock(&s->lock);
		for (int i = 0; i < nb; i++) {
			pthread_join(busy[i]->thread, NULL);
			pthread_mutex_lock(&s->lock);
			busy[i]->state = SLOT_FREE;
			pthread_mutex_unlock(&s->lock);
		}
	} while (nb > 0);
}

void
httpserv_stats(struct httpserv *s, struct httpserv_stats *st)
{
	pthread_mutex_lock(&s->lock);
	st->connections = s->nconns;
	st->requests = s->nreqs;
	st->live = s->live;
	pthread_mutex_unlock(&s->lock);
}

void
httpserv_free(struct httpserv *s)
{
	struct fault_count *fc, *next;

	if (s == NULL)
		return;
	httpserv_stop(s);
	for (fc = s->faults; fc != NULL; fc = next) {
		next = fc->next;
		free(fc);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->rootfd >= 0)
		close(s->rootfd);
	if (s->stopfd[0] >= 0)
		close(s->stopfd[0]);
	if (s->stopfd[1] >= 0)
		close(s->stopfd[1]);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->conns);
	free(s->root);
	free(s->realroot);
	free(s);
}
