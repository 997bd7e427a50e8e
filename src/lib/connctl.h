/* SPDX-License-Identifier: ISC */
/* connctl.h -- how many connections a download should hold, decided from
 * the rate it measures. */
#ifndef NT_CONNCTL_H
#define NT_CONNCTL_H

#include <stdint.h>

/*
 * The controller opens connections while each one added raises the
 * aggregate rate by a clear share of what one connection brought before
 * (a server that caps each connection: parallel pays), and closes the
 * ones that add nothing (a link all connections share: it does not). It
 * measures over windows long enough to see past a new connection's
 * start, holds what it found, and probes again now and then, or at once
 * when the rate falls, so a server that throttles harder mid-way gets
 * more connections. A probe that fails makes the next one wait twice as
 * long, so a steady link never sees a cycle of open and close.
 *
 * It is a pure state machine: the caller feeds it the time and the bytes
 * received so far, opens or closes connections to reach connctl_target(),
 * and tells it when a server refuses one more. It is unit-tested on
 * synthetic rate traces.
 */

/*
 * All zero means the defaults. Why these: a new connection on loopback or
 * a LAN is through its handshake and slow start well inside 0.15 s, and
 * a window of 0.35 s spans some seventeen of a paced server's writes (50
 * a second), so one window's rate is steady to a few per cent; together
 * they take a download from 2 to 16 connections in about 1.5 s. A share
 * of one half tells "each added connection brought its own cap" (a gain
 * near 1) from "they shared a link" (near 0) with room for noise either
 * side.
 */
struct connctl_opts {
	int start;	/* connections at first; 0: 2 */
	int max;	/* never more; 0: 16 */
	double settle;	/* seconds after a change before measuring; 0: 0.15 */
	double window;	/* seconds a measurement lasts; 0: 0.35 */
	double gain;	/* an added connection must bring this share of
			 * the average one's rate; 0: 0.5 */
	double reprobe; /* seconds between probes while holding; 0: 4,
			 * doubling after each probe that fails */
};

/* Why the target changed last. */
enum connctl_reason {
	CONNCTL_START,	 /* the first target */
	CONNCTL_GROWING, /* the last connections added paid */
	CONNCTL_PLATEAU, /* they did not: back to the count that did */
	CONNCTL_PROBE,	 /* holding, trying one more */
	CONNCTL_DROP,	 /* the rate fell: trying one more at once */
	CONNCTL_CEILING, /* the server refused one more connection */
};

struct connctl;

/* A controller at time now. Returns it (caller frees with
 * connctl_free()), or NULL with errno ENOMEM or EINVAL (max < start). */
struct connctl *connctl_new(const struct connctl_opts *opts, double now);
void connctl_free(struct connctl *c);

/*
 * Feeds the bytes received in all so far (never decreasing) at time now.
 * Returns the number of connections to hold from now on.
 */
int connctl_update(struct connctl *c, double now, int64_t bytes);

/* A server answered 429/503 or refused a connection while live were
 * working: no more than that (at least 1) for the rest of the download.
 * Returns the new target. */
int connctl_refused(struct connctl *c, double now, int live);

int connctl_target(const struct connctl *c);
/* The largest target so far. */
int connctl_max_used(const struct connctl *c);
enum connctl_reason connctl_reason(const struct connctl *c);
/* The reason as a word ("growing", "plateau", ...). */
const char *connctl_reason_str(enum connctl_reason r);

#endif
