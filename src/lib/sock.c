/* SPDX-License-Identifier: ISC */
/* sock.c -- TCP socket helpers, so programs never repeat getaddrinfo loops. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sock.h"

#ifndef SO_MAX_PACING_RATE
#define SO_MAX_PACING_RATE 47
#endif

static int
sock__resolve(const char *host, int port, int passive, struct addrinfo **res)
{
	struct addrinfo hints;
	char service[16];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	if (port < 0 || port > 65535)
		return -EINVAL;
	snprintf(service, sizeof(service), "%d", port);
	if (host != NULL && host[0] == '\0')
		host = NULL;
	rc = getaddrinfo(host, service, &hints, res);
	if (rc == EAI_SYSTEM)
		return errno ? -errno : -EIO;
	if (rc != 0)
		return SOCK_ERESOLVE + rc; /* gai codes are negative */
	return 0;
}

int
sock_listen(const char *host, int port, int backlog, int flags)
{
	struct addrinfo *res = NULL, *ai;
	int fd = -1, rc, on = 1, off = 0;
	int type = SOCK_STREAM | SOCK_CLOEXEC;

	if (flags & SOCKF_NONBLOCK)
		type |= SOCK_NONBLOCK;
	rc = sock__resolve(host, port, 1, &res);
	if (rc < 0)
		return rc;
	/* With no host, prefer the IPv6 wildcard: it takes IPv4 as well. */
	rc = -EADDRNOTAVAIL;
	for (int pass = 0; pass < 2 && fd < 0; pass++) {
		for (ai = res; ai != NULL; ai = ai->ai_next) {
			if (host == NULL && pass == 0 &&
			    ai->ai_family != AF_INET6)
				continue;
			fd = socket(ai->ai_family, type, ai->ai_protocol);
			if (fd < 0) {
				rc = -errno;
				continue;
			}
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
				   sizeof(on));
			if ((flags & SOCKF_REUSEPORT) &&
			    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
				       sizeof(on)) < 0)
				goto next;
			if (ai->ai_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY,
					   (flags & SOCKF_V6ONLY) ? &on : &off,
					   sizeof(on));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
			    listen(fd, backlog > 0 ? backlog : 511) == 0)
				break;
		next:
			rc = -errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

int
sock_connect(const char *host, int port, int flags)
{
	struct addrinfo *res = NULL, *ai;
	int fd = -1, rc;
	int type = SOCK_STREAM | SOCK_CLOEXEC;

	if (flags & SOCKF_NONBLOCK)
		type |= SOCK_NONBLOCK;
	rc = sock__resolve(host, port, 0, &res);
	if (rc < 0)
		return rc;
	rc = -ECONNREFUSED;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, type, ai->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		while ((rc = connect(fd, ai->ai_addr, ai->ai_addrlen)) < 0 &&
		       errno == EINTR)
			;
		if (rc == 0 || errno == EINPROGRESS)
			break;
		rc = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : rc;
}

int
sock_accept(int lfd, int nonblock, struct sockaddr_storage *peer)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	do
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
			     SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (peer != NULL)
		*peer = ss;
	return fd;
}

int
sock_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int
sock_set_nodelay(int fd, int on)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) < 0)
		return -errno;
	return 0;
}

int
sock_set_pacing(int fd, unsigned long bytes_per_second)
{
	/* The kernel takes an unsigned int here; larger means "no limit". */
	unsigned int rate = bytes_per_second > 0xffffffffUL ?
				    0xffffffffU :
				    (unsigned int)bytes_per_second;

	if (setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &rate,
		       sizeof(rate)) < 0)
		return -errno;
	return 0;
}

int
sock_close_reset(int fd)
{
	struct linger lg = {1, 0};
	int rc = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
sock_send_all(int fd, const void *p, size_t n, int flags)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL | flags);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

long
sock_raise_nofile(long max)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	rlim_t want = rl.rlim_max;
	if (max > 0 && (rlim_t)max < want)
		want = (rlim_t)max;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return -errno;
	}
	return rl.rlim_cur > 0x7fffffffL ? 0x7fffffffL : (long)rl.rlim_cur;
}

int
sock_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
		return -errno;
	return -e;
}

int
sock_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -EAFNOSUPPORT;
}

char *
sock_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		port = ntohs(s4->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		port = ntohs(s6->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	} else {
		snprintf(buf, len, "(unknown address)");
	}
	return buf;
}

const char *
sock_strerror(int code)
{
	if (code <= SOCK_ERESOLVE + 100 && code > SOCK_ERESOLVE - 100)
		return gai_strerror(code - SOCK_ERESOLVE);
	return strerror(-code);
}
