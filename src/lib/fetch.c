/* SPDX-License-Identifier: ISC */
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

#include "display.h"
#include "fetch.h"
#include "fetch_int.h"
#include "fsutil.h"
#include "mtime.h"
#include "urlname.h"

/*
 * Bigger receive buffers mean fewer callbacks and write(2) calls per MiB.
 * Kept under glibc's 128 KiB mmap threshold: libcurl allocates the buffer
 * anew for each transfer in a multi handle, and a buffer above it would
 * be mapped, and its pages faulted in, fresh every time.
 */
#define FETCH_BUFSIZE (120L * 1024)
/*
 * libcurl hands the body over in pieces of at most 16 KiB; they are
 * gathered into writes of this size, a quarter of the write(2) calls
 * (measured: 13,200 writes for 20 files of 10 MiB become 3,300).
 */
#define FETCH_WBUF (64 * 1024)
#define TMP_TRIES  100

struct fetch_share {
	CURLSH *sh;
	/* One lock per kind of shared data, as libcurl asks. */
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

struct fetcher {
	CURL *curl;
	struct fetch_opts o;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hdrs; /* the request options' headers */
	/* Per fetch: */
	int dirfd;
	const char *name;
	struct fetch_result *r;
	double start;
	double backoff; /* the next wait before a retry */
	char tmp[512];	/* the temporary entry's name, "" for none */
	/* In a fetch_multi: */
	enum { SLOT_IDLE, SLOT_RUNNING, SLOT_WAITING } state;
	double due; /* SLOT_WAITING: when the retry starts */
	void *cookie;
	char *wbuf; /* body bytes not yet written, FETCH_WBUF */
	size_t wlen;
	/* Per attempt: */
	int fd;
	int werrno;  /* errno of a failed write */
	int checked; /* status looked at before the first write */
	int discard; /* body is an error page: not written */
	long long written;
	double retry_after; /* seconds from Retry-After, < 0 if none */
	char reason[96];    /* reason phrase of the last status line */
	char *cd_name;	    /* the final reply's Content-Disposition name */
};

/* The options with every zero made its default (fetch.h). */
static void
fill_defaults(struct fetch_opts *o)
{
	if (o->max_redirs == 0)
		o->max_redirs = 10;
	else if (o->max_redirs < 0)
		o->max_redirs = 0;
	if (o->retries == 0)
		o->retries = 3;
	if (o->backoff == 0)
		o->backoff = 0.5;
	else if (o->backoff < 0)
		o->backoff = 0;
	if (o->max_wait <= 0)
		o->max_wait = 30;
	if (o->connect_timeout <= 0)
		o->connect_timeout = 30;
	if (o->stall_timeout <= 0)
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

/* Writes len bytes into the body file. Returns 0 or -errno, which is
 * also kept in f->werrno: libcurl only learns that the write failed. */
static int
write_body(struct fetcher *f, const char *p, size_t len)
{
	int rc = fsutil_write_all(f->fd, p, len, -1);

	if (rc < 0)
		f->werrno = -rc;
	return rc;
}

/* Writes out what the body buffer holds. Returns 0 or -errno. */
static int
flush_body(struct fetcher *f)
{
	int rc = write_body(f, f->wbuf, f->wlen);

	f->wlen = 0;
	return rc;
}

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct fetcher *f = arg;
	size_t len = size * n;

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
	if (f->wbuf == NULL)
		f->wbuf = malloc(FETCH_WBUF); /* without it, unbuffered */
	if (f->wlen + len > FETCH_WBUF && f->wlen > 0 && flush_body(f) < 0)
		return 0; /* makes curl fail with WRITE_ERROR */
	if (f->wbuf == NULL || len > FETCH_WBUF) {
		if (write_body(f, data, len) < 0)
			return 0;
	} else {
		memcpy(f->wbuf + f->wlen, data, len);
		f->wlen += len;
		if (f->wlen == FETCH_WBUF && flush_body(f) < 0)
			return 0;
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

void
fetch__parse_header(const char *data, size_t len, double *retry_after,
		    char *reason, size_t reasonsize)
{
	size_t l = len;
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

		*retry_after = -1;
		reason[0] = '\0';
		/* The reason goes into messages: printable only. */
		if (p != NULL && (p = strchr(p + 1, ' ')) != NULL)
			display_text(p + 1, reason, reasonsize);
	} else if (strncasecmp(line, "Retry-After:", 12) == 0) {
		*retry_after = parse_retry_after(line + 12);
	}
}

/* Content-Disposition's name, from the header line of len bytes. */
static void
parse_disposition(struct fetcher *f, const char *data, size_t len)
{
	static const char cd[] = "Content-Disposition:";

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(f->cd_name);
		f->cd_name = NULL;
		return;
	}
	if (len < sizeof(cd) - 1 || strncasecmp(data, cd, sizeof(cd) - 1) != 0)
		return;
	/* NULL (no name, no memory): the name asked for will do. */
	free(f->cd_name);
	f->cd_name = urlname_from_header(data + sizeof(cd) - 1,
					 len - sizeof(cd) + 1);
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct fetcher *f = arg;

	fetch__parse_header(data, size * n, &f->retry_after, f->reason,
			    sizeof(f->reason));
	if (f->o.disposition)
		parse_disposition(f, data, size * n);
	return size * n;
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
	fill_defaults(&f->o);
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
	curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
	/* Asks for no encoding, and decodes one sent all the same: a file is
	 * never saved compressed under its plain name. */
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "identity");
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
	if (reqopts_apply(f->o.req, c) < 0 ||
	    reqopts_headers(f->o.req, &f->hdrs) < 0) {
		fetch_free(f);
		errno = EINVAL;
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, f->hdrs);
	return f;
}

void
fetch_free(struct fetcher *f)
{
	if (f == NULL)
		return;
	curl_easy_cleanup(f->curl);
	curl_slist_free_all(f->hdrs);
	free(f->wbuf);
	free(f->cd_name);
	free(f);
}

/* Sleeps secs, waking early when cancelled. Returns 0, or -ECANCELED. */
static int
wait_for(const struct fetcher *f, double secs)
{
	double end = mtime_now() + secs;

	while (!cancelled(f)) {
		double left = end - mtime_now();
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

/* A fresh hidden name for a temporary entry beside name. */
static int
temp_name(const char *name, char *tmp, size_t tmpsize)
{
	unsigned int rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (unsigned)rand() ^ (unsigned)getpid();
	if ((size_t)snprintf(tmp, tmpsize, ".%s.%08x.part", name, rnd) >=
	    tmpsize)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Creates a hidden, unique temporary file next to name. O_EXCL|O_NOFOLLOW
 * mean an existing entry, a symlink above all, is never opened; we simply
 * try another name. Returns the descriptor, with the name in tmp.
 */
static int
open_named_temp(int dirfd, const char *name, char *tmp, size_t tmpsize)
{
	for (int i = 0; i < TMP_TRIES; i++) {
		int fd, rc;

		if ((rc = temp_name(name, tmp, tmpsize)) < 0)
			return rc;
		fd = openat(dirfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0666);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Whether /proc/self/fd works, which naming an O_TMPFILE file needs
 * (linkat with AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH). */
static int
proc_fd_ok(void)
{
	static atomic_int ok = -1;
	int v = atomic_load(&ok);

	if (v < 0) {
		/* NT_FETCH_NAMED_TEMP lets the tests take the fallback path. */
		const char *e = getenv("NT_FETCH_NAMED_TEMP");

		v = access("/proc/self/fd", X_OK) == 0 &&
		    (e == NULL || *e == '\0');
		atomic_store(&ok, v);
	}
	return v;
}

/*
 * Opens the file a body is written to. First choice: an unnamed file in
 * the folder (O_TMPFILE). It has no name until it is complete, so nothing
 * partial is ever visible, not even after SIGKILL, and creating it does
 * not take the folder's lock, which many workers creating files in one
 * folder otherwise queue (and spin) on. Where the file system lacks
 * O_TMPFILE, a named hidden temporary file. tmp is "" for an unnamed
 * file, else its name. Returns the descriptor or -errno.
 */
static int
open_body_file(int dirfd, const char *name, char *tmp, size_t tmpsize)
{
	int fd;

	if (proc_fd_ok() &&
	    (fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666)) >=
		    0) {
		tmp[0] = '\0';
		return fd;
	}
	return open_named_temp(dirfd, name, tmp, tmpsize);
}

/*
 * Gives the complete file open as fd its name, replacing in one step
 * whatever had that name (a symlink is replaced, never followed). On
 * return tmp names an entry to remove only if the caller made it. Returns
 * 0 or -errno.
 */
static int
temp_commit(int dirfd, int fd, const char *name, char *tmp, size_t tmpsize)
{
	char proc[64];
	int rc;

	if (tmp[0] != '\0')
		return renameat(dirfd, tmp, dirfd, name) < 0 ? -errno : 0;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	/* The name is taken (by an earlier run, or a planted symlink): link
	 * under a fresh hidden name, then rename that over it. */
	for (int i = 0; i < TMP_TRIES; i++) {
		if ((rc = temp_name(name, tmp, tmpsize)) < 0)
			break;
		if (linkat(AT_FDCWD, proc, dirfd, tmp, AT_SYMLINK_FOLLOW) < 0) {
			rc = -errno;
			if (rc == -EEXIST)
				continue;
			break;
		}
		rc = renameat(dirfd, tmp, dirfd, name) < 0 ? -errno : 0;
		if (rc < 0)
			unlinkat(dirfd, tmp, 0);
		break;
	}
	tmp[0] = '\0';
	return rc;
}

/*
 * Gives the complete file open as fd the name base, or the first of
 * base.1, base.2, ... that no file has and f->o.taken does not claim,
 * into f->r->name. Nothing is replaced: each name is made by a link that
 * fails when the name exists. Returns 0 or -errno.
 */
static int
commit_new(struct fetcher *f, int fd, const char *base)
{
	char proc[64], *cand = f->r->name;
	size_t size = sizeof(f->r->name);
	int rc = -EEXIST;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	for (unsigned long k = 0; k < 1000 && rc == -EEXIST; k++) {
		if (k == 0)
			snprintf(cand, size, "%s", base);
		else
			snprintf(cand, size, "%s.%lu", base, k);
		if (f->o.taken != NULL && f->o.taken(cand, f->o.taken_arg))
			continue;
		if (f->tmp[0] != '\0')
			rc = linkat(f->dirfd, f->tmp, f->dirfd, cand, 0);
		else
			rc = linkat(AT_FDCWD, proc, f->dirfd, cand,
				    AT_SYMLINK_FOLLOW);
		rc = rc < 0 ? -errno : 0;
	}
	if (rc == 0 && f->tmp[0] != '\0') {
		unlinkat(f->dirfd, f->tmp, 0);
		f->tmp[0] = '\0';
	}
	if (rc < 0)
		cand[0] = '\0';
	return rc;
}

int
fetch_probe_dir(int dirfd)
{
	char tmp[64];
	int fd;

	if ((fd = open_named_temp(dirfd, "probe", tmp, sizeof(tmp))) < 0)
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

/*
 * A fetch is begun once, then runs one or more attempts (each one
 * transfer, by curl_easy_perform() or inside a multi handle), then ends.
 * These steps are shared by fetch_url(), which runs the attempts itself,
 * and fetch_multi, which runs many fetches' attempts at once.
 */

/* -N: the request asks for the file only when it is newer than the one
 * at the name; no file there (or no -N), no condition. */
static void
set_condition(struct fetcher *f)
{
	struct stat st;

	if (f->o.timestamping &&
	    fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(st.st_mode)) {
		curl_easy_setopt(f->curl, CURLOPT_TIMECONDITION,
				 (long)CURL_TIMECOND_IFMODSINCE);
		curl_easy_setopt(f->curl, CURLOPT_TIMEVALUE_LARGE,
				 (curl_off_t)st.st_mtime);
	} else {
		curl_easy_setopt(f->curl, CURLOPT_TIMECONDITION,
				 (long)CURL_TIMECOND_NONE);
	}
}

/* Checks the name and opens the temporary file. Returns 0 or -errno, with
 * r->error saying why. */
static int
fetch_begin(struct fetcher *f, const char *url, int dirfd, const char *name,
	    struct fetch_result *r)
{
	int fd;

	memset(r, 0, sizeof(*r));
	f->r = r;
	f->dirfd = dirfd;
	f->name = name;
	f->start = mtime_now();
	f->backoff = f->o.backoff;
	f->tmp[0] = '\0';
	if (name[0] == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(r->error, sizeof(r->error), "unsafe file name");
		return -EINVAL;
	}
	if ((fd = open_body_file(dirfd, name, f->tmp, sizeof(f->tmp))) < 0) {
		snprintf(r->error, sizeof(r->error), "temporary file: %s",
			 strerror(-fd));
		return fd;
	}
	f->fd = fd;
	curl_easy_setopt(f->curl, CURLOPT_URL, url);
	set_condition(f);
	return 0;
}

/* Readies the next attempt: state reset, the file emptied. Returns 0 or
 * -errno. */
static int
attempt_begin(struct fetcher *f)
{
	struct fetch_result *r = f->r;

	r->attempts++;
	f->checked = f->discard = 0;
	f->werrno = 0;
	f->written = 0;
	f->wlen = 0;
	f->retry_after = -1;
	f->reason[0] = '\0';
	f->errbuf[0] = '\0';
	free(f->cd_name);
	f->cd_name = NULL;
	if (r->attempts > 1 &&
	    (ftruncate(f->fd, 0) < 0 || lseek(f->fd, 0, SEEK_SET) < 0)) {
		int e = errno;

		snprintf(r->error, sizeof(r->error), "temporary file: %s",
			 strerror(e));
		return -e;
	}
	return 0;
}

/*
 * Judges a finished transfer. Returns 0 when the body is complete, 1 when
 * it should be retried after *delay seconds, or -errno (-ECANCELED,
 * -EIO, a write error) with r->error saying why.
 */
static int
attempt_end(struct fetcher *f, CURLcode rc, double *delay)
{
	struct fetch_result *r = f->r;
	int retries = f->o.retries < 0 ? 0 : f->o.retries, again;
	long code = 0;
	double w;

	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &code);
	r->status = code;
	/* The rest of a complete body goes out; a failed one is dropped
	 * (its file is emptied before any retry). */
	if (rc == CURLE_OK && f->wlen > 0 && flush_body(f) < 0)
		rc = CURLE_WRITE_ERROR;
	f->wlen = 0;
	if (rc == CURLE_OK && f->o.timestamping) {
		long unmet = 0;

		curl_easy_getinfo(f->curl, CURLINFO_CONDITION_UNMET, &unmet);
		if (code == 304 || unmet) {
			r->not_modified = 1;
			return 0;
		}
	}
	if (rc == CURLE_OK && code >= 200 && code < 300)
		return 0;
	if (rc == CURLE_ABORTED_BY_CALLBACK || cancelled(f)) {
		snprintf(r->error, sizeof(r->error), "interrupted");
		return -ECANCELED;
	}
	if (rc == CURLE_WRITE_ERROR && f->werrno != 0) {
		snprintf(r->error, sizeof(r->error), "writing %s: %s", f->name,
			 strerror(f->werrno));
		return -f->werrno;
	}
	if (rc == CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "HTTP %ld%s%s", code,
			 f->reason[0] != '\0' ? " " : "", f->reason);
		again = code >= 500 || code == 429;
	} else {
		snprintf(r->error, sizeof(r->error), "%s",
			 f->errbuf[0] != '\0' ? f->errbuf :
						curl_easy_strerror(rc));
		again = retryable_curl(rc);
	}
	if (!again || r->attempts > retries)
		return -EIO;
	w = f->backoff;
	if (f->retry_after > w)
		w = f->retry_after;
	if (w > f->o.max_wait)
		w = f->o.max_wait;
	f->backoff *= 2;
	*delay = w;
	return 1;
}

/* The file open as fd gets the reply's Last-Modified time, if any (as
 * wget does): a mirror keeps the server's dates, and -N compares them. */
static void
set_mtime(struct fetcher *f, int fd)
{
	curl_off_t t = -1;
	struct timespec ts[2];

	if (curl_easy_getinfo(f->curl, CURLINFO_FILETIME_T, &t) != CURLE_OK ||
	    t < 0)
		return;
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = (time_t)t;
	ts[1].tv_nsec = 0;
	futimens(fd, ts);
}

/* Ends a fetch whose outcome is ret: the file named when ret is 0,
 * everything temporary removed. Returns the final outcome. */
static int
fetch_end(struct fetcher *f, int ret)
{
	struct fetch_result *r = f->r;
	int fd = f->fd;

	f->fd = -1;
	if (ret == 0 && r->not_modified) {
		snprintf(r->name, sizeof(r->name), "%s", f->name);
		ret = 1; /* nothing to name: the temporary file goes */
	}
	if (ret == 0) {
		r->bytes = f->written;
		set_mtime(f, fd);
		snprintf(r->name, sizeof(r->name), "%s", f->name);
		if (f->cd_name != NULL && strcmp(f->cd_name, f->name) != 0)
			ret = commit_new(f, fd, f->cd_name);
		else
			ret = temp_commit(f->dirfd, fd, f->name, f->tmp,
					  sizeof(f->tmp));
		if (ret < 0) {
			snprintf(r->error, sizeof(r->error), "naming %s: %s",
				 f->name, strerror(-ret));
		} else if (close(fd) < 0) {
			/* A late write error (NFS): the file is not whole. */
			ret = -errno;
			snprintf(r->error, sizeof(r->error), "writing %s: %s",
				 f->name, strerror(errno));
			unlinkat(f->dirfd, r->name, 0);
			f->tmp[0] = '\0';
		}
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	if (ret != 0 && f->tmp[0] != '\0')
		unlinkat(f->dirfd, f->tmp, 0);
	r->seconds = mtime_now() - f->start;
	return ret == 1 ? 0 : ret;
}

int
fetch_url(struct fetcher *f, const char *url, int dirfd, const char *name,
	  struct fetch_result *r)
{
	double delay = 0;
	int ret;

	if ((ret = fetch_begin(f, url, dirfd, name, r)) < 0)
		return ret;
	for (;;) {
		if ((ret = attempt_begin(f)) < 0)
			break;
		ret = attempt_end(f, curl_easy_perform(f->curl), &delay);
		if (ret != 1)
			break;
		if (wait_for(f, delay) < 0) {
			snprintf(r->error, sizeof(r->error), "interrupted");
			ret = -ECANCELED;
			break;
		}
	}
	return fetch_end(f, ret);
}

/*
 * fetch_multi: many fetches at once on one thread, through one libcurl
 * multi handle. Each slot is a fetcher (its own easy handle, reused from
 * fetch to fetch); the connections live in the multi handle's cache, so
 * any slot reuses a connection another slot left open to the same host.
 * A retry does not block the thread: the slot waits with a due time and
 * the next fetch_multi_run() after it restarts the transfer.
 */
struct fetch_multi {
	CURLM *m;
	const atomic_int *cancel;
	unsigned nslots, busy;
	struct fetcher **slots;
};

void
fetch_multi_free(struct fetch_multi *fm)
{
	if (fm == NULL)
		return;
	for (unsigned i = 0; i < fm->nslots; i++) {
		struct fetcher *f = fm->slots[i];

		if (f == NULL)
			continue;
		if (f->state == SLOT_RUNNING)
			curl_multi_remove_handle(fm->m, f->curl);
		if (f->state != SLOT_IDLE)
			fetch_end(f, -ECANCELED);
		fetch_free(f);
	}
	free(fm->slots);
	if (fm->m != NULL)
		curl_multi_cleanup(fm->m);
	free(fm);
}

struct fetch_multi *
fetch_multi_new(const struct fetch_opts *o, struct fetch_share *s,
		unsigned slots)
{
	struct fetch_multi *fm;

	if (slots < 1) {
		errno = EINVAL;
		return NULL;
	}
	if ((fm = calloc(1, sizeof(*fm))) == NULL ||
	    (fm->slots = calloc(slots, sizeof(*fm->slots))) == NULL ||
	    (fm->m = curl_multi_init()) == NULL)
		goto fail;
	fm->nslots = slots;
	for (unsigned i = 0; i < slots; i++) {
		if ((fm->slots[i] = fetch_new(o, s)) == NULL)
			goto fail;
		curl_easy_setopt(fm->slots[i]->curl, CURLOPT_PRIVATE,
				 fm->slots[i]);
	}
	fm->cancel = fm->slots[0]->o.cancel;
	return fm;
fail:
	fetch_multi_free(fm);
	errno = ENOMEM;
	return NULL;
}

unsigned
fetch_multi_idle(const struct fetch_multi *fm)
{
	return fm->nslots - fm->busy;
}

unsigned
fetch_multi_busy(const struct fetch_multi *fm)
{
	return fm->busy;
}

/* Ends the fetch in slot f with outcome ret and frees the slot. */
static void
slot_end(struct fetch_multi *fm, struct fetcher *f, int ret,
	 fetch_done_cb *done, void *arg)
{
	ret = fetch_end(f, ret);
	f->state = SLOT_IDLE;
	fm->busy--;
	if (done != NULL)
		done(f->cookie, ret, arg);
}

/* Starts the next attempt of the fetch in slot f. Returns 0 or -errno
 * (r->error set). */
static int
slot_start(struct fetch_multi *fm, struct fetcher *f)
{
	CURLMcode mc;
	int rc;

	if ((rc = attempt_begin(f)) < 0)
		return rc;
	if ((mc = curl_multi_add_handle(fm->m, f->curl)) != CURLM_OK) {
		snprintf(f->r->error, sizeof(f->r->error), "%s",
			 curl_multi_strerror(mc));
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	f->state = SLOT_RUNNING;
	return 0;
}

int
fetch_multi_add(struct fetch_multi *fm, const char *url, int dirfd,
		const char *name, struct fetch_result *r, void *cookie)
{
	struct fetcher *f = NULL;
	int rc;

	for (unsigned i = 0; i < fm->nslots && f == NULL; i++)
		if (fm->slots[i]->state == SLOT_IDLE)
			f = fm->slots[i];
	if (f == NULL)
		return -EBUSY;
	f->cookie = cookie;
	if ((rc = fetch_begin(f, url, dirfd, name, r)) < 0)
		return rc;
	if ((rc = slot_start(fm, f)) < 0)
		return fetch_end(f, rc);
	fm->busy++;
	return 0;
}

/* Waits in poll at most this long while a cancel flag is watched, so
 * that setting it takes effect promptly without a wake-up call. */
#define MULTI_CANCEL_POLL_MS 50

/* Retries that are due start; after a cancel, nothing does and every
 * slot ends. Returns the wait, in ms, until the next retry is due (no
 * later than timeout_ms; -1 for none). */
static int
multi_start_due(struct fetch_multi *fm, int timeout_ms, fetch_done_cb *done,
		void *arg)
{
	int stop = fm->cancel != NULL && atomic_load(fm->cancel) != 0, rc;
	double t = mtime_now(), ms;

	for (unsigned i = 0; i < fm->nslots; i++) {
		struct fetcher *f = fm->slots[i];

		if (f->state == SLOT_RUNNING && stop) {
			curl_multi_remove_handle(fm->m, f->curl);
			snprintf(f->r->error, sizeof(f->r->error),
				 "interrupted");
			slot_end(fm, f, -ECANCELED, done, arg);
			continue;
		}
		if (f->state != SLOT_WAITING)
			continue;
		if (stop) {
			snprintf(f->r->error, sizeof(f->r->error),
				 "interrupted");
			slot_end(fm, f, -ECANCELED, done, arg);
		} else if (f->due <= t) {
			if ((rc = slot_start(fm, f)) < 0)
				slot_end(fm, f, rc, done, arg);
		} else {
			ms = (f->due - t) * 1000 + 1;
			if (ms < timeout_ms || timeout_ms < 0)
				timeout_ms = (int)ms;
		}
	}
	return timeout_ms;
}

/* The multi handle itself failed (out of memory): every transfer in it
 * ends with that error. Returns it. */
static int
multi_failed(struct fetch_multi *fm, CURLMcode mc, fetch_done_cb *done,
	     void *arg)
{
	for (unsigned i = 0; i < fm->nslots; i++) {
		struct fetcher *f = fm->slots[i];

		if (f->state == SLOT_IDLE)
			continue;
		if (f->state == SLOT_RUNNING)
			curl_multi_remove_handle(fm->m, f->curl);
		snprintf(f->r->error, sizeof(f->r->error), "%s",
			 curl_multi_strerror(mc));
		slot_end(fm, f, -EIO, done, arg);
	}
	return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
}

int
fetch_multi_run(struct fetch_multi *fm, int timeout_ms, fetch_done_cb *done,
		void *arg)
{
	long curl_ms = -1;
	int running, left, rc = 0;
	CURLMcode mc;
	CURLMsg *msg;

	timeout_ms = multi_start_due(fm, timeout_ms, done, arg);
	if (fm->busy == 0)
		return 0;
	if (curl_multi_timeout(fm->m, &curl_ms) == CURLM_OK && curl_ms >= 0 &&
	    (timeout_ms < 0 || curl_ms < timeout_ms))
		timeout_ms = (int)curl_ms;
	if (fm->cancel != NULL &&
	    (timeout_ms < 0 || timeout_ms > MULTI_CANCEL_POLL_MS))
		timeout_ms = MULTI_CANCEL_POLL_MS;
	if (timeout_ms < 0)
		timeout_ms = 1000;
	mc = curl_multi_poll(fm->m, NULL, 0, timeout_ms, NULL);
	if (mc == CURLM_OK)
		mc = curl_multi_perform(fm->m, &running);
	if (mc != CURLM_OK)
		return multi_failed(fm, mc, done, arg);
	while ((msg = curl_multi_info_read(fm->m, &left)) != NULL) {
		struct fetcher *f = NULL;
		CURLcode res = msg->data.result;
		double delay = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&f);
		curl_multi_remove_handle(fm->m, f->curl);
		if ((rc = attempt_end(f, res, &delay)) == 1) {
			f->state = SLOT_WAITING;
			f->due = mtime_now() + delay;
			continue;
		}
		slot_end(fm, f, rc, done, arg);
	}
	return (int)fm->busy;
}
