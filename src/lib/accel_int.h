/* SPDX-License-Identifier: ISC */
/* accel_int.h -- what accel.c and accel_reply.c share; not for programs. */
#ifndef NT_ACCEL_INT_H
#define NT_ACCEL_INT_H

#include <stdint.h>

#include <curl/curl.h>

#include "accel.h"
#include "accel_plan.h"
#include "connctl.h"

#define MIN_PIECE (64 * 1024) /* smallest range worth a request */
/* libcurl's receive buffers: together about RECV_BUDGET, each between
 * RECV_MIN and RECV_MAX. Bigger buffers mean fewer, larger reads and
 * writes (a 1 GiB download over loopback costs a fifth less CPU with
 * 512 KiB than with 128 KiB); the budget keeps memory flat at N = 16. */
#define RECV_BUDGET (4 << 20)
#define RECV_MIN    (64 * 1024)
#define RECV_MAX    (512 * 1024)
#define SAVE_EVERY  1.0 /* seconds between state saves */
/* Each connection gathers what it receives (libcurl hands it over in
 * pieces of 16 KiB) into writes of up to this much. */
#define WBUF_SIZE (256 * 1024)
#define SLOT_WAIT 0.02 /* seconds before asking the budget again */
/* Files larger than this get a state file before their first byte. */
#define EARLY_STATE_MIN (1 << 20)
/* Files this large get their blocks reserved before the first byte. */
#define PREALLOC_MIN	(1 << 20)
#define PROGRESS_EVERY	0.2
#define BACKOFF_FIRST	0.25 /* doubles each failed try */
#define BACKOFF_MAX	8.0
#define RETRY_AFTER_MAX 120.0
#define SHOWN_URL	2048 /* longest URL in a message */

enum accel_mode { ACCEL_M_PROBE, ACCEL_M_RANGES, ACCEL_M_STREAM, ACCEL_M_DONE };
/* What a failed try means for the download. */
enum accel_fail { ACCEL_F_NONE, ACCEL_F_RETRY, ACCEL_F_CHANGED, ACCEL_F_FATAL };

/* What a connection keeps between downloads on one session. */
struct accel_handle {
	CURL *easy;
	char *etag, *lastmod, *wbuf;
};

/* A session keeps up to SESSION_POOL handles for later downloads, and
 * the memory of SESSION_SPARE ended ones, or of as many as ran at once
 * when that is more (up to SESSION_POOL). */
#define SESSION_POOL  64
#define SESSION_SPARE 8

struct accel_session {
	CURLM *multi;	    /* its connection cache outlives each download */
	struct accel *runs; /* the downloads in progress on it */
	int nconns;	    /* their connections, for CURLMOPT_MAXCONNECTS */
	/* Handles of downloads that ended, set up but for what belongs to
	 * one connection (setup_conn binds that): making one costs a
	 * libcurl handle and its receive buffer for every small file. */
	struct accel_handle pool[SESSION_POOL];
	int npool;
	/* Ended downloads, their memory reused by the next ones (linked by
	 * next): a file of a list then costs no allocation of 40 KB, which
	 * made malloc sweep its free lists once a file. */
	struct accel *spare;
	int nspare;
	int nruns, peak; /* downloads in progress, and the most at once */
};

struct accel_source {
	const char *url; /* as given */
	char *eff;	 /* after redirects, once known */
	int alive;
	int fails;		    /* failed tries in a row */
	int users;		    /* connections assigned to it */
	int served;		    /* a reply of it was accepted */
	char host[BUDGET_HOST_MAX]; /* its budget key (the URL as given) */
};

struct accel_conn {
	struct accel *a;
	CURL *easy;
	int src;
	int range;		    /* plan index, -1 for none */
	int busy;		    /* in the multi handle */
	int slot;		    /* holds a connection of the budget */
	int probe;		    /* this try is the probe */
	int64_t req_begin, req_end; /* asked [begin, end); end -1 open */
	int64_t pos;		    /* next offset to write */
	char *wbuf;		    /* bytes received, not yet written */
	size_t wlen;
	int64_t wpos; /* their offset in the file */
	int64_t got;  /* bytes written by this try */
	int checked;  /* response validated */
	int stopped;  /* cut on purpose at its range's end */
	int shed;     /* stopped mid-pass: the controller holds fewer */
	int paused;   /* held back by --max-speed */
	int slow;     /* abandoned below --min-speed */
	int refused;  /* answered 429/503, or the connect refused */
	double last_data;
	double win_start; /* --min-speed: this window's start */
	int64_t win_got;  /* and the bytes received in it */
	/* The current response's headers (reset at each status line). */
	int status;
	int has_cr;
	int64_t cr_begin, cr_end, cr_total; /* total -1 for "*" */
	int64_t clen;
	/* ETag and Last-Modified, ACCEL_VALIDATOR_MAX + 1 bytes each, made
	 * with the connection's handle. */
	char *etag;
	char *lastmod;
	double retry_after; /* seconds, -1 when absent */
	/* Set by the callbacks when they refuse the transfer. */
	enum accel_fail fail;
	/* The strings last: a download clears what comes before them, and
	 * only their first bytes (clear_conns). */
	char reason[128];
	char encoding[32]; /* Content-Encoding other than identity, or "" */
	char why[256];
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's own detail */
};

struct accel {
	const struct accel_opts *o; /* &opts */
	struct accel_opts opts;	    /* the caller's, defaults filled in */
	struct accel_result *res;
	struct accel_session *sess;
	struct accel *next, *prev; /* in sess->runs */
	accel_done_cb *done;
	void *done_arg;
	double last_save, last_report;
	CURLM *multi;
	struct accel_conn *conns;
	int nconns;
	int nused; /* conns[nused..] never took a slot or started: the
		    * loops over busy ones stop there (a small file uses 1) */
	int ninit; /* conns[ninit..] not yet cleared (conn_at) */
	struct accel_source *src;
	int nsrc;
	enum accel_mode mode;
	struct accel_plan *plan;
	struct accel_plan *saved; /* plan read from the state file */
	struct curl_slist *hdrs;  /* for every ranged request */
	struct curl_slist *probe_hdrs;
	int probe_shared;   /* probe_hdrs is the list all downloads share */
	char *part, *state; /* paths, for messages; part owns all five */
	int dirfd;	    /* the folder every file is opened in */
	char *part_name, *state_name, *final_name; /* in dirfd */
	char *cd_name;	/* the probe reply's Content-Disposition name */
	int ims;	/* the probe asks If-Modified-Since */
	int no_ranges;	/* a range came compressed: ask for the whole file */
	int fd;		/* NAME.part, locked */
	int part_mine;	/* this run created or emptied NAME.part */
	int part_empty; /* NAME.part was empty when locked */
	int part_sized; /* NAME.part has the file's size */
	int first_slot_held; /* o->first_slot not yet given to a conn */
	int state_stands;    /* a state file for NAME.part is on disk */
	int64_t probe_at;
	double probe_not_before;
	int probe_fails;
	int stream_done;
	int fatal;	/* -errno once the download has failed */
	int write_lost; /* a write failed after the plan counted its bytes:
			 * only a state saved before describes the disk */
	int kick;	/* something changed: loop again at once */
	struct budget *budget; /* o->budget, or own_budget */
	struct budget *own_budget;
	int demand; /* connections wanted more than held, as told to the
		     * budget */
	double t0;
	struct connctl *ctl; /* conns 0: decides how many connections */
	int told;	     /* the controller's target last reported */
	int sized;	     /* and the count the buffers are sized for */
	int64_t received;    /* body bytes written, for the controller */
	/* Cleared by a download but for its strings' first bytes (25 KB,
	 * almost all of it three strings of up to 8 KiB). */
	struct accel_meta meta;
	/* Not cleared: kept as the session reuses this memory. */
	struct accel_conn *conn_mem; /* room for conn_cap connections */
	int conn_cap;
};

/* Records the download's first fatal error (later ones are dropped). */
void accel__err(struct accel *a, int rc, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Marks the connection's try as failed, of kind f, and says why. */
void accel__why(struct accel_conn *c, enum accel_fail f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * accel_file.c: the download's files. Functions that record an error
 * (accel__err) return it, a negative errno, as a->fatal.
 */
/* A warning for the program, made printable. */
void accel__warn(struct accel *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Opens the folder of opts->path and names NAME.part and its state. */
int accel__open_folder(struct accel *a);
/* -c: reads the state file into a->saved (left NULL when there is none). */
int accel__load_state(struct accel *a);
/* Opens and locks NAME.part for a file of size bytes: a new (emptied)
 * one when fresh, else the one a state describes. Returns 0 or -errno
 * (-EBUSY: another download holds it; -ELOOP: a symlink; -EINVAL: not a
 * regular file; -ESTALE: its size is not size). */
int accel__open_part(struct accel *a, int64_t size, int fresh);
/* Writes what c gathered. Returns 0 or the error recorded. */
int accel__flush(struct accel *a, struct accel_conn *c);
/* Makes the bytes on disk durable, then stores the plan's state beside
 * them (a->state_stands on success). Returns 0 or -errno. */
int accel__save_state(struct accel *a);
/* The download is whole: checks it, makes it durable, renames it into
 * place. Returns 0 or the error. */
int accel__finish(struct accel *a);
/* A run that stopped short keeps NAME.part with its state (res->kept),
 * or removes what nothing could resume. */
void accel__keep_or_remove(struct accel *a);

/*
 * accel_reply.c: libcurl's header and body callbacks for one connection.
 * The first body bytes of a reply are checked (the probe's decide the
 * mode and plan, a range's must match the probe) before any is written.
 */
size_t accel__on_header(char *buf, size_t size, size_t nmemb, void *arg);
size_t accel__on_data(char *ptr, size_t size, size_t nmemb, void *arg);
/* accel.c: feeds the controller as bytes arrive; returns 1 when c is one
 * connection more than it holds, and has stopped (its range released). */
int accel__feed(struct accel *a, struct accel_conn *c, double now);
/* accel.c: the connections a download starts with: -n N's N, or the
 * count the controller starts at. */
int accel__start_count(const struct accel *a);
/* a->hdrs, the headers of every ranged request (If-Range from the probe's
 * validators): made when the first range after the probe starts, so a
 * file the probe fetches whole never makes it. Returns 0 or -ENOMEM. */
int accel__make_headers(struct accel *a);
/* The probe's reply: mode, size, plan, .part. Returns 0, -EPROTO with the
 * failure recorded on c, or the download's error (a->fatal). */
int accel__check_probe(struct accel *a, struct accel_conn *c);

#endif
