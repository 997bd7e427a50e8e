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

/* The faults one request asks for (see httpserv.h). */
struct fault {
	int status, retry;
	long long cut;		/* -1: none */
	int cut_rand, rst;
	unsigned long long seed;
	double stall;
	long long stall_at;	/* -1: half the body */
	int norange, badrange, nohead, chunked, novalidator, close;
	int change;		/* 0 none, 1 every request, 2 after N */
	long long change_after;
	long long redirect;	/* -1: none */
	unsigned long rate;
	long long times;	/* -1: always */
};

struct req {
	char *method, *target, *range, *if_range, *connection;
	int minor, host, body;
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

/* ---- request parsing ---- */

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

/* Does the comma-separated header value v hold token t? */
static int
has_token(const char *v, const char *t)
{
	size_t tl = strlen(t);

	while (v != NULL && *v != '\0') {
		while (*v == ' ' || *v == '\t' || *v == ',')
			v++;
		if (strncasecmp(v, t, tl) == 0 &&
		    (v[tl] == '\0' || v[tl] == ',' || v[tl] == ' ' ||
		     v[tl] == '\t'))
			return 1;
		v = strchr(v, ',');
	}
	return 0;
}

/* Splits the head (NUL-terminated, in place) into r. 0 or -1 if bad. */
static int
parse_head(char *head, struct req *r)
{
	char *line, *next, *sp;

	memset(r, 0, sizeof(*r));
	line = head;
	next = strchr(line, '\n');
	if (next == NULL)
		return -1;
	*next++ = '\0';
	if (next - line >= 2 && next[-2] == '\r')
		next[-2] = '\0';
	/* METHOD SP TARGET SP HTTP/1.x */
	r->method = line;
	if ((sp = strchr(line, ' ')) == NULL)
		return -1;
	*sp++ = '\0';
	r->target = sp;
	if ((sp = strchr(sp, ' ')) == NULL)
		return -1;
	*sp++ = '\0';
	if (strncmp(sp, "HTTP/1.", 7) != 0 || (sp[7] != '0' && sp[7] != '1') ||
	    sp[8] != '\0' || r->method[0] == '\0' || r->target[0] == '\0')
		return -1;
	r->minor = sp[7] - '0';
	for (const char *m = r->method; *m; m++)
		if (!isupper((unsigned char)*m))
			return -1;

	for (line = next; line != NULL && *line != '\0'; line = next) {
		char *colon, *v, *e;

		next = strchr(line, '\n');
		if (next != NULL) {
			*next++ = '\0';
			if (next - line >= 2 && next[-2] == '\r')
				next[-2] = '\0';
		}
		if (*line == '\0')
			break;
		if (*line == ' ' || *line == '\t')
			return -1; /* obsolete line folding */
		if ((colon = strchr(line, ':')) == NULL || colon == line)
			return -1;
		*colon = '\0';
		for (const char *k = line; *k; k++)
			if (*k == ' ' || *k == '\t')
				return -1;
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		e = v + strlen(v);
		while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (strcasecmp(line, "Host") == 0)
			r->host = 1;
		else if (strcasecmp(line, "Range") == 0)
			r->range = v;
		else if (strcasecmp(line, "If-Range") == 0)
			r->if_range = v;
		else if (strcasecmp(line, "Connection") == 0)
			r->connection = v;
		else if (strcasecmp(line, "Transfer-Encoding") == 0)
			r->body = 1;
		else if (strcasecmp(line, "Content-Length") == 0 &&
			 strcmp(v, "0") != 0)
			r->body = 1;
	}
	return 0;
}

/* Parses a decimal count; -1 if it is not one. */
static long long
parse_count(const char *p, const char **end)
{
	long long v = 0;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	*end = p;
	return v;
}

enum { RANGE_NONE, RANGE_OK, RANGE_UNSAT };

/*
 * Reads a Range value against a file of size bytes. Anything but one
 * well-formed byte range is ignored (RANGE_NONE: the whole file), as RFC
 * 9110 allows; a well-formed range outside the file is RANGE_UNSAT.
 */
static int
parse_range(const char *v, long long size, long long *first, long long *last)
{
	const char *p;
	long long a = -1, b = -1;

	if (strncasecmp(v, "bytes", 5) != 0)
		return RANGE_NONE;
	p = v + 5;
	while (*p == ' ')
		p++;
	if (*p++ != '=')
		return RANGE_NONE;
	while (*p == ' ')
		p++;
	if (strchr(p, ',') != NULL)
		return RANGE_NONE; /* several ranges: the whole file instead */
	if (*p == '-') {
		p++;
		if ((b = parse_count(p, &p)) < 0)
			return RANGE_NONE;
		while (*p == ' ')
			p++;
		if (*p != '\0')
			return RANGE_NONE;
		if (b == 0 || size == 0)
			return RANGE_UNSAT;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return RANGE_OK;
	}
	if ((a = parse_count(p, &p)) < 0 || *p++ != '-')
		return RANGE_NONE;
	if (*p != '\0' && *p != ' ') {
		if ((b = parse_count(p, &p)) < 0 || b < a)
			return RANGE_NONE;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return RANGE_NONE;
	if (a >= size)
		return RANGE_UNSAT;
	*first = a;
	*last = (b < 0 || b >= size) ? size - 1 : b;
	return RANGE_OK;
}

/* Decodes %XX escapes of a path into out (size len). 0 or -1 if bad. */
static int
path_decode(const char *in, size_t inlen, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		int ch = (unsigned char)in[i];

		if (ch == '%') {
			char hex[3] = {0};

			if (i + 2 >= inlen)
				return -1;
			hex[0] = in[i + 1];
			hex[1] = in[i + 2];
			if (!isxdigit((unsigned char)hex[0]) ||
			    !isxdigit((unsigned char)hex[1]))
				return -1;
			ch = (int)strtol(hex, NULL, 16);
			i += 2;
		}
		if (ch == 0 || o + 1 >= len)
			return -1;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return 0;
}

/* Does the decoded path hold a ".." segment? */
static int
path_escapes(const char *p)
{
	for (const char *seg = p; seg != NULL; seg = strchr(seg, '/')) {
		if (*seg == '/')
			seg++;
		if (seg[0] == '.' && seg[1] == '.' &&
		    (seg[2] == '/' || seg[2] == '\0'))
			return 1;
	}
	return 0;
}

/* ---- faults ---- */

static int
parse_rate(const char *v, unsigned long *out)
{
	char *end;
	double r;

	errno = 0;
	r = strtod(v, &end);
	if (end == v || errno != 0 || r <= 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		r *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		r *= 1024.0 * 1024, end++;
	if (*end != '\0' || r > 4e9)
		return -1;
	*out = (unsigned long)r;
	return 0;
}

/* No fault at all. */
static void
fault_init(struct fault *f)
{
	memset(f, 0, sizeof(*f));
	f->retry = -1;
	f->cut = -1;
	f->stall_at = -1;
	f->redirect = -1;
	f->times = -1;
	f->seed = 1;
}

/* Parses a SPEC (not NUL-terminated: len bytes) into f. 0 or -1. */
static int
fault_parse(const char *spec, size_t len, struct fault *f)
{
	char buf[512], *item, *save = NULL;

	fault_init(f);
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, spec, len);
	buf[len] = '\0';
	for (item = strtok_r(buf, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		char *v = strchr(item, '=');
		const char *end = "";
		long long n = 0;

		if (v != NULL) {
			*v++ = '\0';
			n = parse_count(v, &end);
		}
		/* Items whose value is a plain count. */
#define COUNT_ITEM(name, field)                                              \
	if (strcmp(item, name) == 0) {                                       \
		if (v == NULL || n < 0 || *end != '\0')                      \
			return -1;                                           \
		field = n;                                                   \
		continue;                                                    \
	}
		COUNT_ITEM("retry", f->retry)
		COUNT_ITEM("at", f->stall_at)
		COUNT_ITEM("redirect", f->redirect)
		COUNT_ITEM("times", f->times)
#undef COUNT_ITEM
		if (strcmp(item, "status") == 0) {
			if (v == NULL || n < 100 || n > 599 || *end != '\0')
				return -1;
			f->status = (int)n;
		} else if (strcmp(item, "cut") == 0) {
			if (v != NULL && strcmp(v, "rand") == 0)
				f->cut_rand = 1;
			else if (v == NULL || n < 0 || *end != '\0')
				return -1;
			else
				f->cut = n;
		} else if (strcmp(item, "seed") == 0) {
			if (v == NULL || n < 0 || *end != '\0')
				return -1;
			f->seed = (unsigned long long)n;
		} else if (strcmp(item, "stall") == 0) {
			char *e;

			if (v == NULL)
				return -1;
			f->stall = strtod(v, &e);
			if (e == v || *e != '\0' || !(f->stall > 0) ||
			    f->stall > 3600)
				return -1;
		} else if (strcmp(item, "change") == 0) {
			if (v == NULL) {
				f->change = 1;
			} else {
				if (n < 0 || *end != '\0')
					return -1;
				f->change = 2;
				f->change_after = n;
			}
		} else if (strcmp(item, "rate") == 0) {
			if (v == NULL || parse_rate(v, &f->rate) < 0)
				return -1;
		} else if (strcmp(item, "id") == 0) {
			if (v == NULL)
				return -1;
		} else if (v != NULL) {
			return -1;
		} else if (strcmp(item, "rst") == 0) {
			f->rst = 1;
		} else if (strcmp(item, "norange") == 0) {
			f->norange = 1;
		} else if (strcmp(item, "badrange") == 0) {
			f->badrange = 1;
		} else if (strcmp(item, "nohead") == 0) {
			f->nohead = 1;
		} else if (strcmp(item, "chunked") == 0) {
			f->chunked = 1;
		} else if (strcmp(item, "novalidator") == 0) {
			f->novalidator = 1;
		} else if (strcmp(item, "close") == 0) {
			f->close = 1;
		} else {
			return -1;
		}
	}
	return 0;
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

/* Builds the Location of the next hop of a redirect=N spec. */
static void
redirect_location(const char *spec, size_t slen, long long left,
		  const char *rest, char *out, size_t len)
{
	char buf[512], *item, *save = NULL;
	size_t o = 0;

	memcpy(buf, spec, slen);
	buf[slen] = '\0';
	out[0] = '\0';
	for (item = strtok_r(buf, ",", &save); item != NULL;
	     item = strtok_r(NULL, ",", &save)) {
		if (strncmp(item, "redirect=", 9) == 0)
			continue;
		o += (size_t)snprintf(out + o, len - o, "%s%s",
				      o == 0 ? "/fault/" : ",", item);
		if (o >= len)
			return;
	}
	if (left > 0)
		o += (size_t)snprintf(out + o, len - o, "%sredirect=%lld",
				      o == 0 ? "/fault/" : ",", left);
	if (o < len)
		snprintf(out + o, len - o, "%s", rest);
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

	fault_init(&f);
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
		if (fault_parse(spec, speclen, &f) < 0)
			return send_simple(c, r, rs, 400, NULL);
		n = fault_count(s, spec, speclen);
		if (n == 0)
			return send_simple(c, r, rs, 500, NULL);
		if (f.times >= 0 && (long long)n > f.times)
			fault_init(&f);
		plen -= (size_t)(end - p);
		p = end;
	}
	if (f.close)
		rs->keep = 0;
	if (f.redirect > 0) {
		char loc[1100];

		redirect_location(spec, speclen, f.redirect - 1, p, loc,
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

	if (path_decode(p + 1, plen - 1, path, sizeof(path) - 16) < 0)
		return send_simple(c, r, rs, 400, NULL);
	if (path_escapes(path))
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
			range = parse_range(r->range, size, &first, &last);
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
	if (parse_head(head, &r) < 0 || (r.minor == 1 && !r.host) || r.body) {
		/* Unsure where this request ends: answer and close. */
		rs.keep = 0;
		rc = send_simple(c, NULL, &rs, 400, NULL);
	} else {
		rs.minor = r.minor;
		if (r.minor == 1)
			rs.keep = !has_token(r.connection, "close");
		else
			rs.keep = has_token(r.connection, "keep-alive");
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
