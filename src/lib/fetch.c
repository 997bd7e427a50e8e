/* fetch.c -- downloads one URL into a temporary file and renames it in. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "fetch.h"

/* Bigger receive buffers mean fewer callbacks and write(2) calls per MiB. */
#define FETCH_BUFSIZE (128L * 1024)
#define TMP_TRIES 100

struct fetch_share {
	CURLSH *sh;
	/* One lock per kind of shared data, as libcurl asks. */
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

struct fetcher {
	CURL *curl;
	struct fetch_opts o;
	char errbuf[CURL_ERROR_SIZE];
	/* Per attempt: */
	int fd;
	int werrno;		/* errno of a failed write */
	int checked;		/* status looked at before the first write */
	int discard;		/* body is an error page: not written */
	long long written;
	double retry_after;	/* seconds from Retry-After, < 0 if none */
	char reason[96];	/* reason phrase of the last status line */
};

void
fetch_opts_default(struct fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_redirs = 10;
	o->retries = 3;
	o->backoff = 0.5;
	o->max_wait = 30;
	o->connect_timeout = 30;
	o->stall_timeout = 60;
}

int
fetch_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void
fetch_global_cleanup(void)
{
	curl_global_cleanup();
}

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct fetch_share *s = arg;

	(void)h;
	(void)access;
	pthread_mutex_lock(&s->locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct fetch_share *s = arg;

	(void)h;
	pthread_mutex_unlock(&s->locks[data]);
}

struct fetch_share *
fetch_share_new(void)
{
	struct fetch_share *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&s->locks[i], NULL);
	if ((s->sh = curl_share_init()) == NULL ||
	    curl_share_setopt(s->sh, CURLSHOPT_LOCKFUNC, share_lock) ||
	    curl_share_setopt(s->sh, CURLSHOPT_UNLOCKFUNC, share_unlock) ||
	    curl_share_setopt(s->sh, CURLSHOPT_USERDATA, s) ||
	    curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS)) {
		fetch_share_free(s);
		errno = ENOMEM;
		return NULL;
	}
	/* TLS session reuse is an optimisation; a build without it is fine. */
	curl_share_setopt(s->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return s;
}

void
fetch_share_free(struct fetch_share *s)
{
	if (s == NULL)
		return;
	if (s->sh != NULL)
		curl_share_cleanup(s->sh);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&s->locks[i]);
	free(s);
}

static int
cancelled(const struct fetcher *f)
{
	return f->o.cancel != NULL && atomic_load(f->o.cancel) != 0;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fetcher *f = arg;
	size_t len = size * n, off = 0;

	if (!f->checked) {
		long code = 0;

		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
		/* An error page is read (so the connection can be kept) but
		 * never saved. */
		f->discard = code < 200 || code >= 300;
		f->checked = 1;
	}
	if (f->discard)
		return len;
	while (off < len) {
		ssize_t w = write(f->fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			f->werrno = errno;
			return 0;	/* makes curl fail with WRITE_ERROR */
		}
		off += (size_t)w;
	}
	f->written += (long long)len;
	if (f->o.received != NULL)
		atomic_fetch_add(f->o.received, (long long)len);
	if (f->o.on_data != NULL)
		f->o.on_data(f->o.arg);
	return len;
}

static double
parse_retry_after(const char *v)
{
	char *end;
	long long secs;
	time_t when;

	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		secs = strtoll(v, &end, 10);
		return secs < 0 ? -1 : (double)secs;
	}
	/* An HTTP date. */
	if ((when = curl_getdate(v, NULL)) < 0)
		return -1;
	secs = (long long)(when - time(NULL));
	return secs < 0 ? 0 : (double)secs;
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct fetcher *f = arg;
	size_t len = size * n, l = len;
	char line[256];

	while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
		l--;
	if (l >= sizeof(line))
		l = sizeof(line) - 1;
	memcpy(line, data, l);
	line[l] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after a redirect or a 100): start over. */
		const char *p = strchr(line, ' ');

		f->retry_after = -1;
		f->reason[0] = '\0';
		if (p != NULL && (p = strchr(p + 1, ' ')) != NULL) {
			size_t i = 0;

			/* The reason goes into messages: printable only. */
			for (p++; *p != '\0' && i < sizeof(f->reason) - 1; p++)
				f->reason[i++] = isprint((unsigned char)*p) ?
					*p : '?';
			f->reason[i] = '\0';
		}
	} else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		f->retry_after = parse_retry_after(line + 12);
	}
	return len;
}

static int
on_xfer(void *arg, curl_off_t dltot, curl_off_t dlnow, curl_off_t ultot,
	curl_off_t ulnow)
{
	(void)dltot;
	(void)dlnow;
	(void)ultot;
	(void)ulnow;
	return cancelled(arg);
}

struct fetcher *
fetch_new(const struct fetch_opts *o, struct fetch_share *s)
{
	struct fetcher *f;
	CURL *c;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if (o != NULL)
		f->o = *o;
	else
		fetch_opts_default(&f->o);
	f->fd = -1;
	if ((c = f->curl = curl_easy_init()) == NULL) {
		free(f);
		errno = ENOMEM;
		return NULL;
	}
	/* Worker threads must not get SIGALRM from curl's resolver timeouts. */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, f->o.max_redirs);
	/* A list from an untrusted source must not reach file:// or other
	 * protocols, neither directly nor through a redirect. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, f->o.connect_timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, f->o.stall_timeout);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, FETCH_BUFSIZE);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "netthreads/" NT_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, f);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xfer);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, f);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	if (s != NULL)
		curl_easy_setopt(c, CURLOPT_SHARE, s->sh);
	return f;
}

void
fetch_free(struct fetcher *f)
{
	if (f == NULL)
		return;
	curl_easy_cleanup(f->curl);
	free(f);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps secs, waking early when cancelled. Returns 0, or -ECANCELED. */
static int
wait_for(const struct fetcher *f, double secs)
{
	double end = now() + secs;

	while (!cancelled(f)) {
		double left = end - now();
		struct timespec ts;

		if (left <= 0)
			return 0;
		if (left > 0.05)
			left = 0.05;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
	}
	return -ECANCELED;
}

/*
 * Creates a hidden, unique temporary file next to name. O_EXCL|O_NOFOLLOW
 * mean an existing entry, a symlink above all, is never opened; we simply
 * try another name. Returns the descriptor, with the name in tmp.
 */
static int
open_temp(int dirfd, const char *name, char *tmp, size_t tmpsize)
{
	for (int i = 0; i < TMP_TRIES; i++) {
		unsigned int rnd;
		int fd;

		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (unsigned)rand() ^ (unsigned)getpid();
		if ((size_t)snprintf(tmp, tmpsize, ".%s.%08x.part", name, rnd) >=
		    tmpsize)
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
			    O_NOFOLLOW | O_CLOEXEC, 0666);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int
fetch_probe_dir(int dirfd)
{
	char tmp[64];
	int fd;

	if ((fd = open_temp(dirfd, "probe", tmp, sizeof(tmp))) < 0)
		return fd;
	close(fd);
	unlinkat(dirfd, tmp, 0);
	return 0;
}

static int
retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

int
fetch_url(struct fetcher *f, const char *url, int dirfd, const char *name,
	  struct fetch_result *r)
{
	char tmp[512];
	double start = now(), wait = f->o.backoff;
	int fd, ret = -EIO, retries = f->o.retries < 0 ? 0 : f->o.retries;

	memset(r, 0, sizeof(*r));
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(r->error, sizeof(r->error), "unsafe file name");
		return -EINVAL;
	}
	if ((fd = open_temp(dirfd, name, tmp, sizeof(tmp))) < 0) {
		snprintf(r->error, sizeof(r->error), "temporary file: %s",
			 strerror(-fd));
		return fd;
	}
	f->fd = fd;
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	for (;;) {
		CURLcode rc;
		long code = 0;
		int again = 0;

		r->attempts++;
		f->checked = f->discard = 0;
		f->werrno = 0;
		f->written = 0;
		f->retry_after = -1;
		f->reason[0] = '\0';
		f->errbuf[0] = '\0';
		if (r->attempts > 1 &&
		    (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)) {
			ret = -errno;
			snprintf(r->error, sizeof(r->error), "temporary file: %s",
				 strerror(errno));
			break;
		}
		rc = curl_easy_perform(f->curl);
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
		r->status = code;
		if (rc == CURLE_OK && code >= 200 && code < 300) {
			ret = 0;
			break;
		}
		if (rc == CURLE_ABORTED_BY_CALLBACK || cancelled(f)) {
			ret = -ECANCELED;
			snprintf(r->error, sizeof(r->error), "interrupted");
			break;
		}
		if (rc == CURLE_WRITE_ERROR && f->werrno != 0) {
			ret = -f->werrno;
			snprintf(r->error, sizeof(r->error), "writing %s: %s",
				 name, strerror(f->werrno));
			break;
		}
		if (rc == CURLE_OK) {
			snprintf(r->error, sizeof(r->error), "HTTP %ld%s%s",
				 code, f->reason[0] != '\0' ? " " : "",
				 f->reason);
			again = code >= 500 || code == 429;
		} else {
			snprintf(r->error, sizeof(r->error), "%s",
				 f->errbuf[0] != '\0' ? f->errbuf :
				 curl_easy_strerror(rc));
			again = retryable_curl(rc);
		}
		ret = -EIO;
		if (!again || r->attempts > retries)
			break;
		{
			double w = wait;

			if (f->retry_after > w)
				w = f->retry_after;
			if (w > f->o.max_wait)
				w = f->o.max_wait;
			if (wait_for(f, w) < 0) {
				ret = -ECANCELED;
				snprintf(r->error, sizeof(r->error),
					 "interrupted");
				break;
			}
			wait *= 2;
		}
	}
	f->fd = -1;
	if (ret == 0) {
		r->bytes = f->written;
		if (close(fd) < 0) {
			ret = -errno;
			snprintf(r->error, sizeof(r->error), "writing %s: %s",
				 name, strerror(errno));
		} else if (renameat(dirfd, tmp, dirfd, name) < 0) {
			ret = -errno;
			snprintf(r->error, sizeof(r->error), "renaming to %s: %s",
				 name, strerror(errno));
		}
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	if (ret != 0)
		unlinkat(dirfd, tmp, 0);
	r->seconds = now() - start;
	return ret;
}
