/* SPDX-License-Identifier: ISC */
/* connctl.c -- the connection-count controller: grow while it pays, shed
 * what does not, stop where the CPU is, probe now and then, obey a
 * server's ceiling. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "connctl.h"

enum connctl_phase { CONNCTL_GROW, CONNCTL_HOLD, CONNCTL_TRY, CONNCTL_LESS };

/* A point in a measurement: the time, the bytes, the busy clock. */
struct connctl__mark {
	double t, busy;
	int64_t b;
};

struct connctl {
	struct connctl_opts o;
	enum connctl_phase phase;
	enum connctl_reason reason;
	int target, max_used, ceiling;
	double changed;			   /* when the target last changed */
	double first_settle, first_window; /* for the first measurement */
	int measuring; /* 0: settling, 1: first half, 2: second half */
	double opened; /* when this measurement began */
	struct connctl__mark w0, wm; /* its start and its middle */
	int cpu_bound;		     /* in the last window */
	int base_n;	  /* the count that paid last, 0 before any */
	int upper;	  /* the least count that did not fully pay since the
			   * last probe; 0: none */
	double base_rate; /* and its rate */
	int lower;	  /* shedding: the most connections seen not to
			   * hold the rate; 0: none */
	double held;	  /* holding: the rate, smoothed */
	int low;	  /* holding: windows in a row well below it */
	double next_probe, probe_wait;
	double ceiled;	/* when a server first refused one more; 0: never */
	double doubted; /* when one refused below the ceiling; 0: none */
	double resume;	/* after a doubted refusal: when to go back to
			 * resume_n connections; 0: not waiting */
	int resume_n;
};

/* A rate this far below the held one, twice in a row, is a change in the
 * path (a throttle, a loss), not noise. */
#define DROP_RATIO     0.7
#define PROBE_WAIT_MAX 64.0
/* Busy this share of a window: the caller's thread is the bottleneck. */
#define CPU_BOUND 0.9
/* Two halves of a window agree when they differ by at most this share;
 * a measurement that keeps failing that is taken after this many
 * windows all the same. */
#define STEADY	    0.25
#define MAX_WINDOWS 4
/* Shedding keeps the smaller count when the rate stays within this share
 * of what the larger one had. */
#define SHED_LOSS 0.15
/* The same, for a count halved because the thread was busy throughout
 * (why: cpu_halved()); a per-connection cap halves the rate with the
 * count. */
#define CPU_SHED_LOSS 0.3
/* Refusals this close to the first are of its burst: each lowers the
 * ceiling. Later, one below the ceiling may be the server still counting
 * a connection the client has just closed; only a second one, late enough
 * for the server to have seen the close but not too late, lowers it. */
#define REFUSAL_BURST 0.5
#define DOUBT_MIN     0.1
#define DOUBT_MAX     2.0
/* Added connections that bring less than this share of the average one
 * brought nothing worth a smaller step. */
#define PARTIAL 0.2

/* The shortest first settle and window a known round-trip time gives
 * (why: connctl.h). */
#define SETTLE_MIN 0.01
#define WINDOW_MIN 0.03

static double
clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The measurement's window and settle: the first one only sets the
 * baseline, and is as short as the path allows. */
static double
window_of(const struct connctl *c)
{
	return c->base_n == 0 ? c->first_window : c->o.window;
}

static double
settle_of(const struct connctl *c)
{
	return c->base_n == 0 ? c->first_settle : c->o.settle;
}

static int
limit(const struct connctl *c)
{
	return c->ceiling < c->o.max ? c->ceiling : c->o.max;
}

static void
set_target(struct connctl *c, double now, int n, enum connctl_reason why)
{
	if (n < 1)
		n = 1;
	if (n > limit(c))
		n = limit(c);
	c->reason = why;
	if (n == c->target)
		return;
	/* Connections stopped leave what they had in flight on the path
	 * (a queue, a link's reservations) to drain: wait a window more. */
	c->changed = n < c->target ? now + c->o.window : now;
	c->target = n;
	c->measuring = 0;
	if (n > c->max_used)
		c->max_used = n;
}

static void
defaults(struct connctl_opts *o)
{
	o->max = o->max > 0 ? o->max : 16;
	if (o->start <= 0)
		o->start = o->max < 8 ? o->max : 8;
	o->settle = o->settle > 0 ? o->settle : 0.05;
	o->window = o->window > 0 ? o->window : 0.15;
	o->gain = o->gain > 0 ? o->gain : 0.5;
	o->reprobe = o->reprobe > 0 ? o->reprobe : 4;
}

int
connctl_start_count(int max)
{
	struct connctl_opts o = {.max = max};

	defaults(&o);
	return o.start;
}

struct connctl *
connctl_new(const struct connctl_opts *opts, double now)
{
	struct connctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (opts != NULL)
		c->o = *opts;
	defaults(&c->o);
	if (c->o.max < c->o.start) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	c->ceiling = c->o.max;
	c->first_settle = c->o.settle;
	c->first_window = c->o.window;
	if (c->o.rtt > 0) {
		c->first_settle = clamp(4 * c->o.rtt, SETTLE_MIN, c->o.settle);
		c->first_window = clamp(16 * c->o.rtt, WINDOW_MIN, c->o.window);
	}
	c->probe_wait = c->o.reprobe;
	c->target = c->max_used = c->o.start;
	c->changed = now;
	c->reason = CONNCTL_START;
	c->phase = CONNCTL_GROW;
	return c;
}

void
connctl_free(struct connctl *c)
{
	free(c);
}

static void
hold(struct connctl *c, double now, double rate)
{
	c->phase = CONNCTL_HOLD;
	c->held = rate;
	c->low = 0;
	c->next_probe = now + c->probe_wait;
}

/* Holding: step more connections (one for a probe, more after a drop), to
 * see whether they pay now. */
static void
probe(struct connctl *c, double now, double rate, int step,
      enum connctl_reason why)
{
	if (c->target >= limit(c) || c->cpu_bound) {
		c->next_probe = now + c->probe_wait;
		return;
	}
	c->base_n = c->target;
	c->base_rate = rate;
	c->upper = 0; /* conditions may have changed since */
	c->phase = CONNCTL_TRY;
	set_target(c, now, c->target + step, why);
}

/*
 * Sheds to half of base_n, the count that paid. Why says whether the
 * caller's thread was the limit (CONNCTL_CPU): then more would not pay,
 * and fewer may carry as much for less work; half is tried once
 * (cpu_halved()). Otherwise shedding goes on while the rate holds.
 */
static void
halve(struct connctl *c, double now, enum connctl_reason why)
{
	c->phase = CONNCTL_LESS;
	c->lower = 0;
	set_target(c, now, c->base_n / 2, why);
}

/* The added connections brought nothing: back to the count that paid,
 * and after a first search, try fewer than that (half, when the thread
 * was busy throughout). */
static void
plateau(struct connctl *c, double now)
{
	if (c->phase == CONNCTL_TRY && c->probe_wait < PROBE_WAIT_MAX)
		c->probe_wait *= 2;
	if (c->phase == CONNCTL_GROW && c->base_n > 1) {
		halve(c, now, c->cpu_bound ? CONNCTL_CPU : CONNCTL_SHED);
		return;
	}
	set_target(c, now, c->base_n, CONNCTL_PLATEAU);
	hold(c, now, c->base_rate);
}

/* The next count after a step that paid: gains near the whole share
 * quadruple it, strong ones double it, weaker ones add one; never again
 * to a count already seen not to pay. */
static int
next_count(const struct connctl *c, double per, double share)
{
	int n = c->target;
	int next = per >= 0.9 * share ? 4 * n :
		   per >= 0.8 * share ? 2 * n :
					n + 1;

	if (c->upper > 0 && next >= c->upper)
		next = c->upper - 1;
	return next;
}

/*
 * Growing or probing: did the connections added since base_n pay? Each
 * must bring a clear share (o.gain) of what the average one brought at
 * base_n. A step that paid only in part tries half the step, so the
 * plateau is found in a few windows.
 */
static void
judge(struct connctl *c, double now, double rate)
{
	int n = c->target, added = n - c->base_n, next;
	double share = c->base_rate / c->base_n;
	double per = (rate - c->base_rate) / added;

	if (per >= c->o.gain * share) {
		c->base_n = n;
		c->base_rate = rate;
		c->phase = CONNCTL_GROW;
		c->probe_wait = c->o.reprobe;
		next = next_count(c, per, share);
		if (next <= n || n >= limit(c) || c->cpu_bound) {
			c->reason = c->cpu_bound ? CONNCTL_CPU : c->reason;
			hold(c, now, rate);
			return;
		}
		set_target(c, now, next, CONNCTL_GROWING);
		return;
	}
	c->upper = n;
	if (added > 1 && per >= PARTIAL * share && !c->cpu_bound) {
		set_target(c, now, c->base_n + added / 2, CONNCTL_GROWING);
		return;
	}
	plateau(c, now);
}

/* The next count to shed to: half, or halfway to the most seen not to
 * hold the rate; base_n itself when there is none between. */
static int
shed_next(const struct connctl *c)
{
	return c->lower > 0 ? (c->lower + c->base_n + 1) / 2 : c->base_n / 2;
}

/* Halved because the thread was the limit: half stays, unless it lost
 * more than the noise of the rate it is compared with (the first
 * window's, when the count was halved after it: the shortest, and the
 * one that drained the socket buffers filled at the start). */
static void
cpu_halved(struct connctl *c, double now, double rate)
{
	if (rate >= (1 - CPU_SHED_LOSS) * c->base_rate) {
		c->base_n = c->target;
		c->base_rate = rate;
		hold(c, now, rate);
		return;
	}
	set_target(c, now, c->base_n, CONNCTL_PLATEAU);
	hold(c, now, c->base_rate);
}

/* Shedding: did the rate hold with fewer? Then fewer still, down to one
 * or to the count seen not to hold it; else halfway back. */
static void
shed(struct connctl *c, double now, double rate)
{
	int next;

	if (c->reason == CONNCTL_CPU) {
		cpu_halved(c, now, rate);
		return;
	}
	if (rate >= (1 - SHED_LOSS) * c->base_rate) {
		c->base_n = c->target;
		c->base_rate = rate;
	} else {
		c->lower = c->target;
	}
	next = shed_next(c);
	if (next >= c->base_n || next <= c->lower || next < 1 || c->cpu_bound) {
		set_target(c, now, c->base_n, CONNCTL_PLATEAU);
		hold(c, now, c->base_rate);
		return;
	}
	set_target(c, now, next, CONNCTL_SHED);
}

/* The first window, at the start count. */
static void
first(struct connctl *c, double now, double rate)
{
	c->base_n = c->target;
	c->base_rate = rate;
	if (c->cpu_bound && c->target > 1) {
		halve(c, now, CONNCTL_CPU);
	} else if (c->cpu_bound) {
		c->reason = CONNCTL_CPU;
		hold(c, now, rate);
	} else if (c->target < limit(c)) {
		set_target(c, now, 4 * c->target, CONNCTL_GROWING);
	} else {
		hold(c, now, rate);
	}
}

/* Holding: a rate that fell twice in a row (a throttle) asks at once for
 * as many more connections as would make up the fall. */
static void
holding(struct connctl *c, double now, double rate)
{
	c->low = rate < DROP_RATIO * c->held ? c->low + 1 : 0;
	if (c->low >= 2) {
		int step = (int)(c->target * (c->held / rate - 1) + 0.5);

		c->probe_wait = c->o.reprobe;
		probe(c, now, rate, step > 1 ? step : 1, CONNCTL_DROP);
		return;
	}
	c->held = 0.8 * c->held + 0.2 * rate;
	if (now >= c->next_probe)
		probe(c, now, c->held, 1, CONNCTL_PROBE);
}

static void
measured(struct connctl *c, double now, double rate)
{
	if (c->phase == CONNCTL_HOLD)
		holding(c, now, rate);
	else if (c->phase == CONNCTL_LESS)
		shed(c, now, rate);
	else if (c->base_n == 0)
		first(c, now, rate);
	else
		judge(c, now, rate);
}

static void
mark(const struct connctl *c, struct connctl__mark *m, double now,
     int64_t bytes)
{
	m->t = now;
	m->b = bytes;
	m->busy = c->o.busy != NULL ? c->o.busy(c->o.arg) : 0;
}

static double
rate_between(const struct connctl__mark *a, const struct connctl__mark *b)
{
	return b->t > a->t ? (double)(b->b - a->b) / (b->t - a->t) : 0;
}

/* Do the two halves of the window agree? */
static int
steady(double r1, double r2)
{
	double hi = r1 > r2 ? r1 : r2, lo = r1 > r2 ? r2 : r1;

	return hi <= 0 || hi - lo <= STEADY * hi;
}

/* The window is over: its rate counts when its halves agree, or when it
 * has been tried for long enough; else it slides by half. */
static void
window_end(struct connctl *c, double now, int64_t bytes)
{
	struct connctl__mark e;
	double rate;

	mark(c, &e, now, bytes);
	c->cpu_bound = c->o.busy != NULL &&
		       e.busy - c->w0.busy >= CPU_BOUND * (now - c->w0.t);
	/* A window the thread was busy throughout is taken as it is: halves
	 * that differ tell a path still ramping up, and this one waits on
	 * no path; each window more at a count that costs CPU costs the
	 * download. */
	if (!c->cpu_bound &&
	    !steady(rate_between(&c->w0, &c->wm), rate_between(&c->wm, &e)) &&
	    now - c->opened < MAX_WINDOWS * window_of(c)) {
		c->w0 = c->wm;
		c->wm = e;
		return;
	}
	rate = rate_between(&c->w0, &e);
	/* The next window begins here, unless the target changes. */
	c->w0 = e;
	c->opened = now;
	c->measuring = 1;
	measured(c, now, rate);
}

int
connctl_update(struct connctl *c, double now, int64_t bytes)
{
	if (c->resume > 0 && now >= c->resume) {
		c->resume = 0;
		set_target(c, now, c->resume_n, CONNCTL_CEILING);
	}
	/* A new connection's first moments (handshake, slow start) say
	 * nothing about what it will bring. */
	if (now - c->changed < settle_of(c))
		return c->target;
	if (c->measuring == 0) {
		mark(c, &c->w0, now, bytes);
		c->opened = now;
		c->measuring = 1;
	} else if (c->measuring == 1) {
		if (now - c->w0.t >= window_of(c) / 2) {
			mark(c, &c->wm, now, bytes);
			c->measuring = 2;
		}
	} else if (now - c->w0.t >= window_of(c)) {
		window_end(c, now, bytes);
	}
	return c->target;
}

/* Is a refusal with live working proof of a ceiling at live? */
static int
ceiling_proven(struct connctl *c, double now, int live)
{
	if (c->ceiled == 0)
		c->ceiled = now;
	if (now - c->ceiled < REFUSAL_BURST || live >= c->ceiling)
		return 1;
	if (c->doubted > 0 && now - c->doubted >= DOUBT_MIN &&
	    now - c->doubted <= DOUBT_MAX) {
		c->doubted = 0;
		return 1;
	}
	if (c->doubted == 0 || now - c->doubted > DOUBT_MAX)
		c->doubted = now;
	return 0;
}

int
connctl_refused(struct connctl *c, double now, int live)
{
	live = live > 1 ? live : 1;
	if (!ceiling_proven(c, now, live)) {
		/* Not another try at once, which the server (seeing the
		 * closed connection only now) would refuse too, and another,
		 * each a range sent to wait: live for a moment, then back. */
		if (c->target > live && c->resume == 0) {
			c->resume = now + CONNCTL_DOUBT_HOLD;
			c->resume_n = c->target;
			set_target(c, now, live, CONNCTL_CEILING);
		}
		return c->target;
	}
	c->resume = 0;
	c->ceiling = live;
	if (c->target > c->ceiling) {
		set_target(c, now, c->ceiling, CONNCTL_CEILING);
		hold(c, now, c->base_rate);
	}
	return c->target;
}

int
connctl_target(const struct connctl *c)
{
	return c->target;
}

int
connctl_ceiling(const struct connctl *c)
{
	return c->ceiling;
}

int
connctl_max_used(const struct connctl *c)
{
	return c->max_used;
}

enum connctl_reason
connctl_reason(const struct connctl *c)
{
	return c->reason;
}

const char *
connctl_reason_str(enum connctl_reason r)
{
	switch (r) {
	case CONNCTL_START:
		return "start";
	case CONNCTL_GROWING:
		return "growing";
	case CONNCTL_PLATEAU:
		return "plateau";
	case CONNCTL_PROBE:
		return "probe";
	case CONNCTL_DROP:
		return "rate dropped";
	case CONNCTL_CEILING:
		return "server ceiling";
	case CONNCTL_SHED:
		return "shedding";
	case CONNCTL_CPU:
		return "CPU-bound";
	}
	return "?";
}

double
connctl_thread_busy(void *arg)
{
	unsigned long long run, wait;
	struct timespec ts;
	FILE *f;
	int n;

	(void)arg;
	/* Time on the CPU and time waiting for it: a thread that always
	 * has work is busy even on a machine too loaded to run it. */
	if ((f = fopen("/proc/thread-self/schedstat", "re")) != NULL) {
		n = fscanf(f, "%llu %llu", &run, &wait);
		fclose(f);
		if (n == 2)
			return (double)(run + wait) / 1e9;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
