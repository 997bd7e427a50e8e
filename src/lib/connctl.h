/* SPDX-License-Identifier: ISC */
/* connctl.h -- how many connections a download should hold, decided from
 * the rate it measures. */
#ifndef NT_CONNCTL_H
#define NT_CONNCTL_H

#include <stdint.h>

/*
 * The controller starts with several connections and measures what they
 * bring. It opens more while each one added raises the aggregate rate by
 * a clear share of what one connection brought before (a server that caps
 * each connection: parallel pays), and when the added ones bring nothing
 * (a link all connections share) it goes back and sheds connections below
 * the start for as long as the rate holds. A thread of the caller's that
 * is busy the whole window (a CPU-bound download) stops the search: more
 * connections would cost CPU and bring nothing, and half as many is tried
 * once, kept unless it loses more than noise. It holds what
 * it found and probes again now and then, or at once when the rate falls,
 * so a server that throttles harder mid-way gets more connections. A probe
 * that fails makes the next one wait twice as long, so a steady link never
 * sees a cycle of open and close.
 *
 * It is a pure state machine: the caller feeds it the time and the bytes
 * received so far (and, through opts.busy, how busy its thread is), opens
 * or closes connections to reach connctl_target(), and tells it when a
 * server refuses one more. It is unit-tested on synthetic rate traces.
 */

/* Seconds the caller's thread has run or waited to run so far, a clock
 * that advances as fast as time while the thread is CPU-bound. */
typedef double connctl_busy_cb(void *arg);

/*
 * All zero means the defaults. Why these: eight connections are what a
 * server capping each connection needs to come near its best at once, and
 * few enough that a link they share loses nothing while they are shed. A
 * new connection on loopback or a LAN is through its handshake and slow
 * start well inside 0.05 s. A window is two halves, and a rate counts only
 * when its halves agree (or after four windows of trying): a kernel-paced
 * connection is steady within 0.15 s, while a slower path, still ramping
 * up, shows as halves that differ and is measured for longer. The first
 * window only sets the baseline the first step is judged against, and
 * every download pays for it at the start count: with the path's
 * round-trip time known it lasts sixteen round trips (eight a half, so
 * that TCP's delivery in round-trip bursts averages out) after four (a
 * new connection's handshake and first flights), never under 0.03 s and
 * 0.01 s, where the loop's own timing and the kernel's scheduling would
 * show as rate, nor over the others. Later windows, which judge steps and
 * shed, keep their length: on 0.04 s windows a link the test server
 * shares out in 10 ms slices read as loss, and was shed to four, not one.
 * A share of one half tells "each added connection brought its own cap"
 * (a gain near 1) from "they shared a link" (near 0) with room for noise
 * either side.
 */
struct connctl_opts {
	int start;	       /* connections at first; 0: 8, or max if less */
	int max;	       /* never more; 0: 16 */
	double settle;	       /* seconds after a change before measuring;
				* 0: 0.05 */
	double window;	       /* seconds a measurement lasts at least;
				* 0: 0.15 */
	double rtt;	       /* the path's round-trip time, seconds, for
				* the first window; 0: not known */
	double gain;	       /* an added connection must bring this share of
				* the average one's rate; 0: 0.5 */
	double reprobe;	       /* seconds between probes while holding; 0: 4,
				* doubling after each probe that fails */
	connctl_busy_cb *busy; /* NULL: never CPU-bound */
	void *arg;	       /* for busy */
};

/* Why the target changed last. */
enum connctl_reason {
	CONNCTL_START,	 /* the first target */
	CONNCTL_GROWING, /* the last connections added paid */
	CONNCTL_PLATEAU, /* they did not: back to the count that did */
	CONNCTL_PROBE,	 /* holding, trying one more */
	CONNCTL_DROP,	 /* the rate fell: trying one more at once */
	CONNCTL_CEILING, /* the server refused one more connection */
	CONNCTL_SHED,	 /* fewer connections did as well */
	CONNCTL_CPU,	 /* the caller's thread is busy: no more */
};

struct connctl;

/* Seconds a refusal the controller doubts holds the count at the live
 * one before it goes back. */
#define CONNCTL_DOUBT_HOLD 0.1

/* A controller at time now. Returns it (caller frees with
 * connctl_free()), or NULL with errno ENOMEM or EINVAL (max < start). */
struct connctl *connctl_new(const struct connctl_opts *opts, double now);
/* The count a controller of at most max connections (0: the default)
 * starts at when not told. */
int connctl_start_count(int max);
void connctl_free(struct connctl *c);

/*
 * Feeds the bytes received in all so far (never decreasing) at time now.
 * Returns the number of connections to hold from now on.
 */
int connctl_update(struct connctl *c, double now, int64_t bytes);

/* A server answered 429/503 or refused a connection while live were
 * working: no more than that (at least 1) for the rest of the download.
 * A refusal below a ceiling already set may be the server still counting
 * a connection just closed: it lowers the ceiling only when a second one
 * confirms it, 0.1 to 2 s later. Returns the new target. */
int connctl_refused(struct connctl *c, double now, int live);

int connctl_target(const struct connctl *c);
/* The most a server has allowed (o.max before any refusal): above the
 * live count just refused while that refusal is doubted. */
int connctl_ceiling(const struct connctl *c);
/* The largest target so far. */
int connctl_max_used(const struct connctl *c);
enum connctl_reason connctl_reason(const struct connctl *c);
/* The reason as a word ("growing", "plateau", ...). */
const char *connctl_reason_str(enum connctl_reason r);

/* A connctl_busy_cb for the calling thread (arg unused), from
 * /proc/thread-self/schedstat, or its CPU time where that is missing. */
double connctl_thread_busy(void *arg);

#endif
