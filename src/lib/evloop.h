/* SPDX-License-Identifier: ISC */
/* evloop.h -- single-threaded event loop: descriptor readiness and timers. */
#ifndef NT_EVLOOP_H
#define NT_EVLOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * One loop per thread; nothing here is thread-safe except that separate
 * loops share nothing. Callbacks run on the loop's thread and may add,
 * change or remove any descriptor or timer, including their own.
 *
 * Backends: "poll" (portable, O(n) per wait in the kernel), "epoll"
 * (O(ready) per wait) and "uring" (io_uring: completions, one system call
 * a loop iteration). They sit behind the static interface in
 * evloop/evloop_int.h (docs/design/evloop.md).
 *
 * Two ways to use a descriptor, one at a time for each descriptor:
 * readiness (evloop_add: "fd is readable, read it yourself") and
 * completion (evloop_accept, evloop_recv, evloop_send: "here are the
 * bytes", into buffers the loop owns). Every backend does both: poll and
 * epoll complete by a read or write on readiness, uring in the kernel.
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
 * Completion callbacks. Each runs on the loop's thread, never from inside
 * the call that started the operation, and may start, stop or delete
 * anything, its own descriptor included.
 *
 * A connection accepted on lfd: fd >= 0 is new, non-blocking and
 * close-on-exec (the callback owns it), or fd is -errno, after which
 * accepting on lfd has stopped until evloop_accept() is called again.
 */
typedef void evloop_accept_cb(struct evloop *el, int lfd, int fd, void *arg);
/*
 * n > 0 bytes received at data, which the loop owns: valid only during
 * the callback, the buffer going back to the loop as it returns. n == 0
 * is end of file, n < 0 is -errno; after either, receiving has stopped.
 */
typedef void evloop_recv_cb(struct evloop *el, int fd, const char *data,
			    ssize_t n, void *arg);
/* n > 0 more bytes of the send queue went out, or n is -errno and the
 * queue was dropped. */
typedef void evloop_send_cb(struct evloop *el, int fd, ssize_t n, void *arg);

/*
 * Creates a loop for descriptors 0 .. setsize-1 with the named backend
 * ("poll", "epoll", "uring"; NULL means epoll). Returns NULL and sets
 * errno: EINVAL for an unknown backend name; for "uring" on a kernel
 * without a usable io_uring, ENOSYS (absent, filtered by seccomp, or
 * NT_EVLOOP_NO_URING set in the environment, which tests use), EPERM
 * (kernel.io_uring_disabled) or EOPNOTSUPP (older than Linux 6.0).
 */
struct evloop *evloop_new(const char *backend, int setsize);

/* Frees the loop (not the descriptors in it). NULL does nothing. */
void evloop_free(struct evloop *el);

/* The backend's name ("poll", "epoll" or "uring"). */
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

/*
 * Stops watching fd and ends every completion operation on it, with no
 * callback (call before closing it). Returns 0 or -errno (-ENOENT when
 * the loop knew nothing of fd).
 */
int evloop_del(struct evloop *el, int fd);

/*
 * Accepts connections on the listening socket lfd, calling cb for each
 * (uring: multishot accept, one request for them all). Returns 0 or
 * -errno.
 */
int evloop_accept(struct evloop *el, int lfd, evloop_accept_cb *cb, void *arg);

/*
 * Receives on fd until EOF, an error or evloop_recv_stop(), calling cb
 * for each piece (uring: multishot receive into a ring of buffers the
 * loop provides, sized to the data in flight, not to the connections).
 * Calling it again replaces cb and arg, or resumes after a stop. Returns
 * 0 or -errno.
 */
int evloop_recv(struct evloop *el, int fd, evloop_recv_cb *cb, void *arg);

/*
 * Stops receiving on fd: cb is not called again until evloop_recv().
 * What the kernel had already received is kept for then. Returns 0 or
 * -errno. (Backpressure: stop while too much output is pending.)
 */
int evloop_recv_stop(struct evloop *el, int fd);

/*
 * Sends n bytes from p on fd, after what is queued. The loop copies what
 * it does not send at once (p may be reused when this returns) and sends
 * it in order, calling cb (when not NULL; the latest cb given counts) as
 * the queue drains. uring sends less than 4 KiB nothing at once: the
 * send goes into the ring and out with the next wait; 4 KiB or more with
 * nothing before it is sent at once, as on poll and epoll. Returns the
 * bytes sent at once (the rest is queued) or -errno (nothing queued).
 */
ssize_t evloop_send(struct evloop *el, int fd, const void *p, size_t n,
		    evloop_send_cb *cb, void *arg);

/* Bytes queued on fd by evloop_send() and not yet sent. */
size_t evloop_send_pending(const struct evloop *el, int fd);

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
