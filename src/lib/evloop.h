/* SPDX-License-Identifier: ISC */
/* evloop.h -- single-threaded event loop: descriptor readiness and timers. */
#ifndef NT_EVLOOP_H
#define NT_EVLOOP_H

#include <stddef.h>
#include <stdint.h>

/*
 * One loop per thread; nothing here is thread-safe except that separate
 * loops share nothing. Callbacks run on the loop's thread and may add,
 * change or remove any descriptor or timer, including their own.
 *
 * Backends: "poll" (portable, O(n) per wait in the kernel) and "epoll"
 * (O(ready) per wait). Both sit behind the static interface in
 * evloop/evloop_int.h, which speaks readiness: "set the interest of fd to these
 * events" and "wait, then report (fd, events) pairs".
 *
 * How a completion backend (io_uring) would fit this interface:
 * docs/design/evloop.md.
 */

#define EVLOOP_READ  0x01
#define EVLOOP_WRITE 0x02
/* Reported only: the peer hung up or the descriptor has an error. A callback
 * seeing it should still read, to learn which (EOF or which errno). */
#define EVLOOP_ERROR 0x04

struct evloop;
struct evloop_timer;

/* fd became ready for the events given (a subset of the interest, plus
 * possibly EVLOOP_ERROR). */
typedef void evloop_io_cb(struct evloop *el, int fd, int events, void *arg);
typedef void evloop_timer_cb(struct evloop *el, struct evloop_timer *t,
			     void *arg);

/*
 * A timer is a small caller-allocated value (one inside each client, so a
 * client costs no extra allocation). Timers live in a binary min-heap:
 * start and stop are O(log n), finding the next deadline O(1).
 * Initialise with evloop_timer_init() before any other use; stop it before
 * freeing the memory it lives in.
 */
struct evloop_timer {
	uint64_t when; /* deadline, ms on the loop's monotonic clock */
	size_t slot;   /* index in the heap + 1; 0 when not armed */
	evloop_timer_cb *cb;
	void *arg;
};

/*
 * Creates a loop for descriptors 0 .. setsize-1 with the named backend
 * ("poll", "epoll"; NULL means epoll). Returns NULL and sets errno
 * (EINVAL for an unknown backend name).
 */
struct evloop *evloop_new(const char *backend, int setsize);

/* Frees the loop (not the descriptors in it). NULL does nothing. */
void evloop_free(struct evloop *el);

/* The backend's name ("poll" or "epoll"). */
const char *evloop_backend(const struct evloop *el);

/*
 * Watches fd for events (EVLOOP_READ | EVLOOP_WRITE, or 0 to keep it
 * registered but quiet) and calls cb(el, fd, events, arg) when it is
 * ready. Replaces any earlier watch of fd. Returns 0 or -errno (-ERANGE
 * when fd >= setsize).
 */
int evloop_add(struct evloop *el, int fd, int events, evloop_io_cb *cb,
	       void *arg);

/* Changes the interest of a watched fd. O(1). Returns 0 or -errno. */
int evloop_set(struct evloop *el, int fd, int events);

/* The interest of fd, or -1 when fd is not watched. */
int evloop_events(const struct evloop *el, int fd);

/* Stops watching fd (call before closing it). Returns 0 or -errno. */
int evloop_del(struct evloop *el, int fd);

void evloop_timer_init(struct evloop_timer *t, evloop_timer_cb *cb, void *arg);

/* Arms (or re-arms) t to fire once, ms milliseconds from now. */
int evloop_timer_start(struct evloop *el, struct evloop_timer *t, uint64_t ms);

/* Disarms t; harmless when it is not armed. */
void evloop_timer_stop(struct evloop *el, struct evloop_timer *t);

static inline int
evloop_timer_active(const struct evloop_timer *t)
{
	return t->slot != 0;
}

/* The number of armed timers. */
size_t evloop_timer_count(const struct evloop *el);

/* The loop's clock in ms (CLOCK_MONOTONIC), updated once per iteration. */
uint64_t evloop_now(const struct evloop *el);

/*
 * Waits at most timeout_ms (-1: until a timer or descriptor is due),
 * then runs the callbacks due. Returns the number of callbacks run or
 * -errno.
 */
int evloop_run_once(struct evloop *el, int timeout_ms);

/* Runs until evloop_stop(). Returns 0 or -errno from the backend. */
int evloop_run(struct evloop *el);

/* Makes evloop_run() return after the current iteration. */
void evloop_stop(struct evloop *el);

const char *evloop_strerror(int code);

#endif
