/* SPDX-License-Identifier: ISC */
/* test_sock.c -- socket helpers against real loopback sockets. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sock.h"
#include "watchdog.h"

static void
test_sock_listen_connect_accept(void **state)
{
	struct sockaddr_storage peer;
	char name[64], buf[8];
	int lfd, cfd, afd, port;

	(void)state;
	lfd = sock_listen("127.0.0.1", 0, 16, SOCKF_NONBLOCK);
	assert_true(lfd >= 0);
	port = sock_local_port(lfd);
	assert_true(port > 0 && port < 65536);
	assert_int_equal(sock_accept(lfd, 1, NULL), -EAGAIN);
	cfd = sock_connect("127.0.0.1", port, 0);
	assert_true(cfd >= 0);
	afd = sock_accept(lfd, 1, &peer);
	assert_true(afd >= 0);
	assert_int_equal(fcntl(afd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(fcntl(afd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	sock_addr_str(&peer, name, sizeof(name));
	assert_true(strncmp(name, "127.0.0.1:", 10) == 0);
	assert_int_equal(sock_set_nodelay(afd, 1), 0);
	assert_int_equal(sock_error(cfd), 0);
	assert_int_equal(sock_send_all(cfd, "ping", 4, 0), 0);
	assert_int_equal(recv(afd, buf, sizeof(buf), MSG_WAITALL), 4);
	assert_memory_equal(buf, "ping", 4);
	/* A reset shows as ECONNRESET on the other side. */
	assert_int_equal(sock_send_all(afd, "x", 1, 0), 0);
	assert_int_equal(sock_close_reset(cfd), 0);
	usleep(20000);
	assert_int_equal(recv(afd, buf, sizeof(buf), 0), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_true(sock_send_all(afd, "y", 1, 0) < 0); /* EPIPE, no SIGPIPE */
	close(afd);
	close(lfd);
}

static void
test_sock_reuseport(void **state)
{
	int a, b, port;

	(void)state;
	a = sock_listen("127.0.0.1", 0, 16, SOCKF_REUSEPORT);
	assert_true(a >= 0);
	port = sock_local_port(a);
	b = sock_listen("127.0.0.1", port, 16, SOCKF_REUSEPORT);
	assert_true(b >= 0);
	assert_int_equal(sock_local_port(b), port);
	/* Without the flag the port is taken. */
	assert_int_equal(sock_listen("127.0.0.1", port, 16, 0), -EADDRINUSE);
	close(a);
	close(b);
}

static void
test_sock_errors(void **state)
{
	char name[64];
	struct sockaddr_storage ss;
	int lfd, port, rc;

	(void)state;
	lfd = sock_listen("127.0.0.1", 0, 16, 0);
	port = sock_local_port(lfd);
	close(lfd);
	assert_int_equal(sock_connect("127.0.0.1", port, 0), -ECONNREFUSED);
	assert_int_equal(sock_listen("127.0.0.1", 70000, 16, 0), -EINVAL);
	rc = sock_connect("no-such-host.invalid", 80, 0);
	assert_true(rc <= SOCK_ERESOLVE + 100 && rc > SOCK_ERESOLVE - 100);
	assert_true(strlen(sock_strerror(rc)) > 0);
	assert_string_equal(sock_strerror(-ECONNREFUSED),
			    strerror(ECONNREFUSED));
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_string_equal(sock_addr_str(&ss, name, sizeof(name)),
			    "(unknown address)");
}

static void
test_sock_v6(void **state)
{
	char name[64];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int lfd, cfd;

	(void)state;
	lfd = sock_listen("::1", 0, 16, 0);
	if (lfd < 0)
		skip(); /* no IPv6 loopback on this machine */
	cfd = sock_connect("::1", sock_local_port(lfd), 0);
	assert_true(cfd >= 0);
	assert_int_equal(getsockname(cfd, (struct sockaddr *)&ss, &len), 0);
	sock_addr_str(&ss, name, sizeof(name));
	assert_true(strncmp(name, "[::1]:", 6) == 0);
	close(cfd);
	close(lfd);
}

static void
test_sock_nofile(void **state)
{
	struct rlimit rl;
	long n;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	n = sock_raise_nofile(64);
	assert_true(n >= 64 || (rlim_t)n == rl.rlim_max);
	n = sock_raise_nofile(0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_true((rlim_t)n == rl.rlim_cur && rl.rlim_cur == rl.rlim_max);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sock_listen_connect_accept),
		cmocka_unit_test(test_sock_reuseport),
		cmocka_unit_test(test_sock_errors),
		cmocka_unit_test(test_sock_v6),
		cmocka_unit_test(test_sock_nofile),
	};
	return cmocka_run_group_tests(tests, watchdog_setup, NULL);
}
