/* fetch.h -- one URL into one file in a folder, over libcurl. */
#ifndef NT_FETCH_H
#define NT_FETCH_H

#include <stdatomic.h>

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

struct fetch_opts {
	long max_redirs;	/* redirects followed; default 10 */
	int retries;		/* extra attempts after a retryable failure;
				 * default 3 (negative means 0) */
	double backoff;		/* first wait before a retry, seconds, doubling
				 * each time; default 0.5 */
	double max_wait;	/* cap on any single wait, including one asked
				 * for by Retry-After; default 30 */
	long connect_timeout;	/* seconds; default 30 */
	long stall_timeout;	/* fail when no byte arrives for this long,
				 * seconds; default 60 */
	const atomic_int *cancel; /* when it turns non-zero the fetch stops
				 * (optional) */
	atomic_llong *received;	/* body bytes written are added here, for
				 * progress displays (optional) */
	void (*on_data)(void *arg); /* called as data arrives (optional) */
	void *arg;
};

/* Fills o with the defaults above. */
void fetch_opts_default(struct fetch_opts *o);

struct fetch_result {
	long long bytes;	/* bytes in the saved file */
	double seconds;		/* wall time, retries and waits included */
	long status;		/* last HTTP status seen, 0 if none */
	int attempts;		/* 1 + retries made */
	char error[256];	/* why it failed, when it did */
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
 * body goes to a new hidden temporary file created in that folder with
 * O_EXCL|O_NOFOLLOW (so nothing planted there is followed or reused) and
 * is renamed to name only when complete; whatever was at name before (a
 * file or a symlink, never followed) is replaced. name must be a single
 * path component. Redirects are followed up to max_redirs; a final status
 * other than 2xx is a failure. Connection errors, 5xx and 429 are retried
 * with backoff, honouring Retry-After. On any failure nothing is left in
 * the folder.
 * Returns 0 when saved; -ECANCELED when stopped through opts.cancel;
 * another -errno on failure (-EIO for HTTP and transfer errors), with
 * r->error saying why. r is always filled.
 */
int fetch_url(struct fetcher *f, const char *url, int dirfd, const char *name,
	      struct fetch_result *r);

/*
 * Checks that files can be created in the folder open as dirfd by creating
 * and removing a temporary file. Returns 0 or -errno.
 */
int fetch_probe_dir(int dirfd);

#endif
