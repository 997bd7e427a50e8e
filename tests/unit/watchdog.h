/* SPDX-License-Identifier: ISC */
/* watchdog.h -- the unit tests' setup: a test that hangs is ended by
 * SIGALRM after 60 s, a failure that names the test program. */
#ifndef NT_WATCHDOG_H
#define NT_WATCHDOG_H

#include <unistd.h>

static int
watchdog_setup(void **state)
{
	(void)state;
	alarm(60);
	return 0;
}

#endif
