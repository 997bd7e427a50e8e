/* SPDX-License-Identifier: ISC */
/* sock.h -- TCP socket helpers: listen, connect, accept, options, addresses. */
#ifndef NT_SOCK_H
#define NT_SOCK_H

#include <stddef.h>
#include <sys/socket.h>

/*
 * Flags for sock_listen() and sock_connect(), in a namespace of their own
 * (the kernel's is SOCK_*): SOCKF_NONBLOCK, the returned socket is
 * O_NONBLOCK; SOCKF_REUSEPORT, SO_REUSEPORT, for several listeners on a
 * port; SOCKF_V6ONLY, an IPv6 listener does not take IPv4 too.
 */
#define SOCKF_NONBLOCK	0x01
#define SOCKF_REUSEPORT 0x02
#define SOCKF_V6ONLY	0x04

/* Name resolution failures are returned as SOCK_ERESOLVE - (gai error). */
#define SOCK_ERESOLVE (-100000)

/*
 * Binds and listens on host:port (host NULL or "" means every address,
 * IPv6 and IPv4 where the system allows; port 0 lets the kernel choose).
 * SO_REUSEADDR is always set. Returns the listening descriptor (close-on-exec)
 * or -errno / a SOCK_ERESOLVE code.
 */
int sock_listen(const char *host, int port, int backlog, int flags);

/*
 * Connects to host:port, trying each resolved address in turn. Blocking
 * unless SOCKF_NONBLOCK, in which case the connect may still be in
 * progress (check writability, then sock_error()). Returns the descriptor or
 * -errno / a SOCK_ERESOLVE code.
 */
int sock_connect(const char *host, int port, int flags);

/*
 * Accepts one connection, non-blocking and close-on-exec when nonblock is
 * set. Fills *peer (may be NULL). Returns the descriptor or -errno (-EAGAIN
 * when nothing is pending on a non-blocking listener).
 */
int sock_accept(int lfd, int nonblock, struct sockaddr_storage *peer);

/* Socket options. Each returns 0 or -errno. */
int sock_set_nonblock(int fd, int on);
int sock_set_nodelay(int fd, int on);
int sock_set_pacing(int fd, unsigned long bytes_per_second);

/*
 * Closes with a reset instead of an orderly FIN (SO_LINGER 0): for tests
 * and for shedding. Returns 0 or -errno; fd is closed either way.
 */
int sock_close_reset(int fd);

/*
 * Sends all n bytes on a blocking socket, resuming after partial sends
 * and EINTR, never raising SIGPIPE (MSG_NOSIGNAL); flags are added to
 * send(2)'s (MSG_MORE: more follows at once). Returns 0 or -errno.
 */
int sock_send_all(int fd, const void *p, size_t n, int flags);

/*
 * Raises this process's soft descriptor limit to its hard limit (capped
 * at max when max > 0). Returns the new soft limit or -errno.
 */
long sock_raise_nofile(long max);

/* The pending error of a socket (after a non-blocking connect): 0 or -errno. */
int sock_error(int fd);

/* The local port a socket is bound to, or -errno. */
int sock_local_port(int fd);

/*
 * Formats an address as "1.2.3.4:80" or "[::1]:80" into buf (always
 * NUL-terminated). Returns buf.
 */
char *sock_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);

/* Text for a code returned by this module. Static storage; never NULL. */
const char *sock_strerror(int code);

#endif
