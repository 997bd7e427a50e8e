/* SPDX-License-Identifier: ISC */
/* accel.h -- one file over several parallel ranged HTTP connections; the
 * ranges themselves are accel_plan.h's. */
#ifndef NT_ACCEL_H
#define NT_ACCEL_H

#include <signal.h>
#include <stdint.h>

#include "budget.h"
#include "reqopts.h"

struct accel_session;

struct accel_stats {
	int64_t done;	/* bytes on disk */
	int64_t total;	/* file size, -1 while unknown */
	int conns;	/* connections receiving data now */
	double elapsed; /* seconds since the start */
	/* -n auto: the count the controller holds, and why it last changed
	 * ("start", "growing", ...); 0 and NULL with a fixed count. A
	 * change is reported at once, not at the next tick. */
	int target;
	const char *why;
};

typedef void accel_progress_cb(const struct accel_stats *st, void *arg);
/* Whether name, in the file's folder, is promised to another download. */
typedef int accel_taken_cb(const char *name, void *arg);
/* A warning the program may show (a mirror dropped, a resume refused). */
typedef void accel_warn_cb(const char *msg, void *arg);

/* Zero in a field means its default. */
struct accel_opts {
	const char *const *urls; /* urls[0] the primary, then mirrors */
	int nurls;
	const char *path; /* final name; NAME.part and NAME.part.state */
	/* path's folder, open: the download works in it and never closes
	 * it; 0: opened from path (a folder is never standard input). */
	int folder_fd;
	/* The caller saw no NAME.part.state: a fresh download need not
	 * remove one, and leaves alone a NAME.part found with one (an
	 * earlier run's, come since the caller looked): it fails with
	 * -EEXIST, the partial file kept for a resume. */
	int no_old_state;
	int disposition;       /* name the file as the first reply's
				* Content-Disposition says, if it does, in
				* path's folder (NAME.part keeps path's
				* name); 0: path */
	accel_taken_cb *taken; /* with disposition: names passed over
				* besides the files there; NULL: none */
	void *taken_arg;
	int conns;	     /* parallel connections; 0: as many as pay
			      * (connctl.h) */
	int max_conns;	     /* with conns 0, never more; 0: 16 */
	int resume;	     /* continue from NAME.part and its state */
	int timestamping;    /* with a regular file at path, ask only for
			      * a newer one (If-Modified-Since its time);
			      * 0: always fetch */
	double timeout;	     /* abandon a connection silent this long,
			      * seconds; 0: 10 */
	long long min_speed; /* bytes/s: abandon a connection slower
			      * than this for timeout seconds; 0: no */
	int retries;	     /* failed tries of one range before giving
			      * up; 0: 5 */
	double backoff;	     /* seconds before the first retry, doubling
			      * for each (a Retry-After wins); 0: 0.25 */
	long long max_speed; /* total bytes per second, 0 for no cap;
			      * ignored with a budget */
	int max_per_host;    /* connections to one host at once, 0 for
			      * no cap; ignored with a budget */
	/* Connections kept from the thread's downloads before; NULL: none
	 * kept. */
	struct accel_session *session;
	/* Shared with the other downloads of a run: connections in all and
	 * per host, and the rate; NULL: this download's own, from
	 * max_per_host and max_speed. */
	struct budget *budget;
	/* With a budget, K + 1: the caller took a connection to the host of
	 * urls[K] for the first request, and the download owns it from
	 * accel_start() on (gives it back when it ends or fails to start);
	 * 0: none taken. */
	int first_slot;
	const unsigned char *sha256; /* 32 bytes to verify, or NULL */
	/* What every request carries (headers, credentials, TLS, proxy);
	 * NULL: none. */
	const struct reqopts *req;
	volatile sig_atomic_t *stop; /* set by a signal handler (with an
				      * atomic store, as cli_record_stop
				      * does): stop; read atomically */
	accel_progress_cb *progress; /* called a few times a second */
	accel_warn_cb *warn;
	void *arg; /* for progress and warn */
};

struct accel_result {
	int64_t bytes;	      /* file size */
	int64_t resumed_from; /* bytes already on disk at the start */
	double seconds;	      /* wall time */
	char *errurl;	      /* on failure: the URL concerned, or NULL
			       * (malloc'd: accel_result_clear frees it) */
	char errmsg[256];     /* on failure: why, e.g. "HTTP 404 Not Found" */
	int kept;	      /* not done: NAME.part and its state stand,
			       * for a resume with -c */
	int conns_max;	      /* most connections receiving at once */
	char name[256];	      /* done: the name in path's folder */
	int not_modified;     /* timestamping: the server's file is no
			       * newer; nothing was fetched or changed */
};

/* Sets res, fresh memory, to the result of nothing yet: numbers zero,
 * strings empty (only their first bytes are written: a list keeps a
 * result a file, and the rest of their room stays untouched until a
 * message needs it). accel_result_clear() does the same to a result used
 * before, and frees its errurl. */
void accel_result_init(struct accel_result *res);
void accel_result_clear(struct accel_result *res);

/*
 * Downloads opts->urls[0] to opts->path, into res (made by
 * accel_result_init(), and cleared here). Blocks until done, failed or
 * stopped. Returns 0 when the file stands complete (and verified) under
 * its final name; -EINTR when *opts->stop was set; another -errno on
 * failure, with res->errurl and res->errmsg saying what happened (both
 * printable, without a password). Never leaves a partial file under the
 * final name. A run that stops short keeps NAME.part with a state file
 * that describes it (res->kept) or removes the NAME.part it made; a run
 * that finds another download writing NAME.part changes nothing. Every
 * file is opened relative to the folder, never through a symlink. A name
 * from Content-Disposition (opts->disposition) is never given to a file
 * that exists: NAME.1, NAME.2, ... are tried in turn, each made in one
 * step that fails when the name exists. The file gets the server's
 * Last-Modified time when it sent one. With opts->timestamping, a 304
 * to the first request returns 0 with res->not_modified set.
 */
int accel_run(const struct accel_opts *opts, struct accel_result *res);

/*
 * What the downloads one thread runs one after another keep between them:
 * their open connections, so that the next file from the same server
 * needs no new one. One thread at a time may use a session. Returns it,
 * or NULL with errno set. accel_session_free(NULL) does nothing.
 */
struct accel_session *accel_session_new(void);
void accel_session_free(struct accel_session *s);

/*
 * The stepping form of accel_run(), for one thread driving several
 * downloads at once over one session's connections.
 *
 * accel_start() begins a download of opts on s, its result in res (both
 * must stay valid until it ends; opts is copied, the strings it points
 * to are not). Returns 0, or -errno when it could not begin (res says
 * why, as accel_run() would, and done is never called).
 *
 * accel_session_run() moves every download of s on: it waits for their
 * sockets at most max_wait seconds (less when one of them needs time
 * sooner), and for each download that ends calls done with what
 * accel_run() would have returned, its result filled in. done must not
 * start or run downloads on s; do that after accel_session_run()
 * returns. accel_session_busy() is how many downloads s is running.
 */
typedef void accel_done_cb(int rc, struct accel_result *res, void *arg);
int accel_start(struct accel_session *s, const struct accel_opts *opts,
		struct accel_result *res, accel_done_cb *done, void *arg);
void accel_session_run(struct accel_session *s, double max_wait);
int accel_session_busy(const struct accel_session *s);

/* Call once before any thread starts (libcurl's global init). */
int accel_global_init(void);
void accel_global_cleanup(void);

#endif
