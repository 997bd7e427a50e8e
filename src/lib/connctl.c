/* SPDX-License-Identifier: ISC */
/* connctl.c -- the connection-count controller: grow while it pays, fall
 * back at the plateau, probe now and then, obey a server's ceiling. */
#include <errno.h>
#include <stdlib.h>

#include "connctl.h"

enum connctl_phase { CONNCTL_GROW, CONNCTL_HOLD, CONNCTL_TRY };

struct connctl {
	struct connctl_opts o;
	enum connctl_phase phase;
	enum connctl_reason reason;
	int target, max_used, ceiling;
	double changed; /* when the target last changed */
	int measuring;	/* a window is open */
	double win_t0;	/* and its start */
	int64_t win_b0;
	int base_n;	  /* the count that paid last, 0 before any */
	int upper;	  /* the least count that did not fully pay since the
			   * last probe; 0: none */
	double base_rate; /* and its rate */
	double held;	  /* holding: the rate, smoothed */
	int low;	  /* holding: windows in a row well below it */
	double next_probe, probe_wait;
};

/* A rate this far below the held one, twice in a row, is a change in the
 * path (a throttle, a loss), not noise. */
#define DROP_RATIO     0.7
#define PROBE_WAIT_MAX 64.0

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
	c->target = n;
	c->changed = now;
	c->measuring = 0;
	if (n > c->max_used)
		c->max_used = n;
}

struct connctl *
connctl_new(const struct connctl_opts *opts, double now)
{
	struct connctl *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (opts != NULL)
		c->o = *opts;
	c->o.start = c->o.start > 0 ? c->o.start : 2;
	c->o.max = c->o.max > 0 ? c->o.max : 16;
	c->o.settle = c->o.settle > 0 ? c->o.settle : 0.15;
	c->o.window = c->o.window > 0 ? c->o.window : 0.35;
	c->o.gain = c->o.gain > 0 ? c->o.gain : 0.5;
	c->o.reprobe = c->o.reprobe > 0 ? c->o.reprobe : 4;
	if (c->o.max < c->o.start) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	c->ceiling = c->o.max;
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

/* Holding: one more connection, to see whether it pays now. */
static void
probe(struct connctl *c, double now, double rate, enum connctl_reason why)
{
	if (c->target >= limit(c)) {
		c->next_probe = now + c->probe_wait;
		return;
	}
	c->base_n = c->target;
	c->base_rate = rate;
	c->upper = 0; /* conditions may have changed since */
	c->phase = CONNCTL_TRY;
	set_target(c, now, c->target + 1, why);
}

/*
 * Growing or probing: did the connections added since base_n pay? Each
 * must bring a clear share (o.gain) of what the average one brought at
 * base_n. Gains near the whole share quadruple the count, strong ones
 * double it, weaker ones add one; a step that paid only in part tries
 * half the step, and no count seen not to pay is tried again until the
 * next probe, so the plateau is found in a few windows.
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
		next = per >= 0.9 * share ? 4 * n :
		       per >= 0.8 * share ? 2 * n :
					    n + 1;
		/* Never again to a count already seen not to pay. */
		if (c->upper > 0 && next >= c->upper)
			next = c->upper - 1;
		if (next <= n || n >= limit(c)) {
			hold(c, now, rate);
			return;
		}
		set_target(c, now, next, CONNCTL_GROWING);
		return;
	}
	c->upper = n;
	if (added > 1 && per > 0) {
		set_target(c, now, c->base_n + added / 2, CONNCTL_GROWING);
		return;
	}
	/* They add nothing: a bottleneck all connections share. */
	if (c->phase == CONNCTL_TRY && c->probe_wait < PROBE_WAIT_MAX)
		c->probe_wait *= 2;
	set_target(c, now, c->base_n, CONNCTL_PLATEAU);
	hold(c, now, c->base_rate);
}

static void
measured(struct connctl *c, double now, double rate)
{
	if (c->phase != CONNCTL_HOLD) {
		if (c->base_n == 0) {
			c->base_n = c->target;
			c->base_rate = rate;
			if (c->target < limit(c))
				set_target(c, now, 2 * c->target,
					   CONNCTL_GROWING);
			else
				hold(c, now, rate);
			return;
		}
		judge(c, now, rate);
		return;
	}
	c->low = rate < DROP_RATIO * c->held ? c->low + 1 : 0;
	if (c->low >= 2) {
		c->probe_wait = c->o.reprobe;
		probe(c, now, rate, CONNCTL_DROP);
		return;
	}
	c->held = 0.8 * c->held + 0.2 * rate;
	if (now >= c->next_probe)
		probe(c, now, c->held, CONNCTL_PROBE);
}

int
connctl_update(struct connctl *c, double now, int64_t bytes)
{
	double rate;

	/* A new connection's first moments (handshake, slow start) say
	 * nothing about what it will bring. */
	if (now - c->changed < c->o.settle)
		return c->target;
	if (!c->measuring) {
		c->measuring = 1;
		c->win_t0 = now;
		c->win_b0 = bytes;
		return c->target;
	}
	if (now - c->win_t0 < c->o.window)
		return c->target;
	rate = (double)(bytes - c->win_b0) / (now - c->win_t0);
	c->win_t0 = now;
	c->win_b0 = bytes;
	measured(c, now, rate);
	return c->target;
}

int
connctl_refused(struct connctl *c, double now, int live)
{
	c->ceiling = live > 1 ? live : 1;
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
	}
	return "?";
}
