/* SPDX-License-Identifier: ISC */
/* fetch.h -- one URL into one file in a folder, over libcurl. */
#ifndef NT_FETCH_H
#define NT_FETCH_H

#include <stdatomic.h>

#include "reqopts.h"

/*
 * Connection reuse: a fetcher owns one curl easy handle and keeps it across
 * URLs, so its connection to a host stays open between files (keep-alive).
 * Each worker thread of a program owns one fetcher. The connection cache is
 * deliberately not shared between threads through a CURLSH: libcurl does not
 * support sharing connections between concurrent threads, and per-handle
 * caches give each worker its own warm connection with no lock on the hot
 * path. What a fetch_share shares is the DNS cache (and TLS sessions), which
 * libcurl does allow across threads with locks.
 */

struct fetcher;
struct fetch_share;

/* All zero means the defaults; a negative count means none. */
/* Called as body data arrives. */
typedef void fetch_data_cb(void *arg);
/* Whether name is spoken for by another download of the same run: 1 or
 * 0. Called from the thread running the fetch. */
typedef int fetch_taken_cb(const char *name, void *arg);

struct fetch_opts {
	long max_redirs;      /* redirects followed; 0: 10 */
	int retries;	      /* extra attempts after a retryable failure;
			       * 0: 3, negative: none */
	double backoff;	      /* first wait before a retry, seconds, doubling
			       * each time; 0: 0.5, negative: none */
	double max_wait;      /* cap on any single wait, including one asked
			       * for by Retry-After; 0: 30 */
	long connect_timeout; /* seconds; 0: 30 */
	long stall_timeout;   /* fail when no byte arrives for this long,
			       * seconds; 0: 60 */
	const atomic_int *cancel; /* when it turns non-zero the fetch stops
				   * (optional) */
	atomic_llong *received;	  /* body bytes written are added here, for
				   * progress displays (optional) */
	fetch_data_cb *on_data;	  /* called as data arrives (optional) */
	void *arg;
	const struct reqopts *req; /* what every request carries (headers,
				    * credentials, TLS, proxy); NULL: none;
				    * must outlive the fetcher */
	int disposition;	   /* save under the name the reply's
				    * Content-Disposition gives, if any;
				    * 0: always under the name asked for */
	fetch_taken_cb *taken;	   /* with disposition: names to pass over
				    * (optional) */
	void *taken_arg;
	int timestamping; /* ask If-Modified-Since the time of the file
			   * already at the name, and leave it when the
			   * server has nothing newer; 0: always fetch */
};

struct fetch_result {
	long long bytes;  /* bytes in the saved file */
	double seconds;	  /* wall time, retries and waits included */
	long status;	  /* last HTTP status seen, 0 if none */
	int attempts;	  /* 1 + retries made */
	char error[256];  /* why it failed, when it did */
	char name[256];	  /* the name it was saved under */
	int not_modified; /* timestamping: the file there is as new as the
			   * server's; nothing was fetched or changed */
};

/*
 * Initialises libcurl for the process. Call once from main before any
 * thread starts. Returns 0 or -EIO.
 */
int fetch_global_init(void);
/* The counterpart of fetch_global_init(), after every fetcher is freed. */
void fetch_global_cleanup(void);

/*
 * A DNS cache shared by fetchers in any threads. Returns it, or NULL with
 * errno set. fetch_share_free() after the last fetcher using it is freed;
 * NULL does nothing.
 */
struct fetch_share *fetch_share_new(void);
void fetch_share_free(struct fetch_share *s);

/*
 * A fetcher with options o (copied; NULL for defaults) and an optional
 * share. One thread at a time may use it. Returns it, or NULL with errno
 * set. fetch_free(NULL) does nothing.
 */
struct fetcher *fetch_new(const struct fetch_opts *o, struct fetch_share *s);
void fetch_free(struct fetcher *f);

/*
 * Downloads url into the file name inside the folder open as dirfd. The
 * body goes to an unnamed file in that folder (O_TMPFILE), linked in as
 * name only when complete, so no partial file is ever visible, even after
 * SIGKILL. Where O_TMPFILE or /proc is missing (or NT_FETCH_NAMED_TEMP is
 * set in the environment), a hidden temporary file created with
 * O_EXCL|O_NOFOLLOW relative to dirfd and renamed when complete. Either
 * way nothing planted in the folder is followed or reused, and whatever
 * was at name before (a file, or a symlink, never followed) is replaced in
 * one step. name must be a single path component.
 *
 * With opts.disposition, a reply whose Content-Disposition names the file
 * (urlname_from_disposition()) is saved under that name instead, which is
 * never given to a file that exists (nor to a symlink) and never to one
 * opts.taken claims: when it is taken, NAME.1, NAME.2, ... are tried in
 * turn, each created in one step that fails if the name exists, so two
 * downloads running at once never get one name. A reply naming name
 * itself is saved as any file under name is. r->name says which name was
 * used.
 *
 * A saved file gets the reply's Last-Modified time, when it has one.
 * With opts.timestamping, a regular file already at name makes the
 * request conditional (If-Modified-Since its time); a 304, or a reply
 * no newer than the file, leaves it as it is: the fetch returns 0 with
 * r->not_modified set.
 *
 * Redirects are followed
 * up to max_redirs (http and https only); a final status other than 2xx
 * is a failure. Connection errors, 5xx and 429 are retried with backoff,
 * honouring Retry-After. On any failure nothing is left in the folder.
 * Returns 0 when saved; -ECANCELED when stopped through opts.cancel;
 * another -errno on failure (-EIO for HTTP and transfer errors), with
 * r->error saying why. r is always filled.
 */
int fetch_url(struct fetcher *f, const char *url, int dirfd, const char *name,
	      struct fetch_result *r);

/*
 * A fetch_multi runs up to `slots` fetches at once on the calling thread,
 * through one libcurl multi handle: the event-driven counterpart of one
 * fetcher per thread, with the same options, files, retries and results
 * as fetch_url(). One thread at a time may use it. Returns it, or NULL
 * with errno set. Freeing it stops and removes what is still running;
 * fetch_multi_free(NULL) does nothing.
 */
struct fetch_multi;
typedef void fetch_done_cb(void *cookie, int rc, void *arg);

struct fetch_multi *fetch_multi_new(const struct fetch_opts *o,
				    struct fetch_share *s, unsigned slots);
void fetch_multi_free(struct fetch_multi *fm);

/* Free slots, and slots with a fetch in progress (running or waiting to
 * retry). */
unsigned fetch_multi_idle(const struct fetch_multi *fm);
unsigned fetch_multi_busy(const struct fetch_multi *fm);

/*
 * Starts fetching url into name in dirfd, as fetch_url() would, in a free
 * slot; r must stay valid until the fetch ends, when done() receives
 * cookie. Returns 0 when started; -EBUSY when no slot is free; or the
 * -errno fetch_url() would return at once (bad name, no temporary file),
 * with r filled, and then done() is not called.
 */
int fetch_multi_add(struct fetch_multi *fm, const char *url, int dirfd,
		    const char *name, struct fetch_result *r, void *cookie);

/*
 * Waits at most timeout_ms (-1: as long as the transfers need) for
 * progress, moves every transfer on, starts retries that are due, and
 * calls done(arg, cookie, rc) for each fetch that ended, rc as
 * fetch_url() returns it. Once opts.cancel is set every fetch ends with
 * -ECANCELED. Returns the number of fetches still in progress, or -errno
 * when the multi handle failed (every fetch then ended with an error).
 */
int fetch_multi_run(struct fetch_multi *fm, int timeout_ms, fetch_done_cb *done,
		    void *arg);

/*
 * Checks that files can be created in the folder open as dirfd by creating
 * and removing a temporary file. Returns 0 or -errno.
 */
int fetch_probe_dir(int dirfd);

#endif
