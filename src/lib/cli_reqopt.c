/* SPDX-License-Identifier: ISC */
/* cli_reqopt.c -- the request options the downloaders share (-H, -u, -x
 * ...), apart from cli.c so that a program without them links no libcurl. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "cli_int.h"
#include "display.h"

/* The password -u gave or the terminal answered: kept here, out of argv,
 * for the whole run. */
static char cli_password[1024];

/* "PROG: OPTION VALUE: why", exit 2; the value shown printable. */
static void
bad_request_value(const char *opt, const char *value, const char *why)
{
	char shown[256];

	fprintf(stderr, "%s: %s%s %s: %s\n", program_invocation_short_name,
		cli__where, opt, display_text(value, shown, sizeof(shown)),
		why);
	fprintf(stderr, "Try '%s --help' for more information.\n",
		program_invocation_short_name);
	exit(2);
}

/* -u USER[:PASSWORD]: the password moves into cli_password and is wiped
 * from arg. */
static void
set_user(struct reqopts *ro, char *arg)
{
	char *colon = strchr(arg, ':');

	if (*arg == '\0' || colon == arg || reqopts_check_value(arg) < 0)
		bad_request_value("--user", colon ? "USER:***" : arg,
				  "want USER[:PASSWORD]");
	ro->password = NULL;
	if (colon != NULL) {
		if (strlen(colon + 1) >= sizeof(cli_password))
			bad_request_value("--user", "USER:***",
					  "password too long");
		strcpy(cli_password, colon + 1);
		memset(colon + 1, 0, strlen(colon + 1));
		*colon = '\0';
		ro->password = cli_password;
	}
	ro->user = arg;
}

/* The options that only store a string checked for CR and LF. */
static const char **
plain_field(struct reqopts *ro, int c, const char **name)
{
	switch (c) {
	case 'A':
		return *name = "--user-agent", &ro->user_agent;
	case 'e':
		return *name = "--referer", &ro->referer;
	case CLI_REQ_NETRC_FILE:
		return *name = "--netrc-file", &ro->netrc_file;
	case CLI_REQ_CACERT:
		return *name = "--cacert", &ro->cacert;
	case CLI_REQ_CAPATH:
		return *name = "--capath", &ro->capath;
	case 'E':
		return *name = "--cert", &ro->cert;
	case CLI_REQ_KEY:
		return *name = "--key", &ro->key;
	case CLI_REQ_NOPROXY:
		return *name = "--noproxy", &ro->noproxy;
	default:
		return NULL;
	}
}

int
cli_reqopt(struct reqopts *ro, int c, char *arg)
{
	const char **field, *name;
	int rc;

	if ((field = plain_field(ro, c, &name)) != NULL) {
		if (reqopts_check_value(arg) < 0 ||
		    (*arg == '\0' && c != CLI_REQ_NOPROXY))
			bad_request_value(name, arg, "invalid value");
		*field = arg;
		return 1;
	}
	switch (c) {
	case 'H':
		if ((rc = reqopts_add_header(ro, arg)) < 0)
			bad_request_value("--header", arg,
					  rc == -E2BIG ? "too many headers" :
							 "want 'NAME: VALUE'");
		return 1;
	case 'b':
		if (reqopts_set_cookie(ro, arg) < 0)
			bad_request_value("--cookie", arg, "invalid cookie");
		return 1;
	case 'u':
		set_user(ro, arg);
		return 1;
	case CLI_REQ_NETRC:
		ro->netrc = 1;
		return 1;
	case 'k':
		ro->insecure = 1;
		return 1;
	case 'x':
		if (reqopts_check_proxy(arg) < 0)
			bad_request_value("--proxy", arg,
					  "want an http://, https:// or "
					  "socks5h:// proxy URL");
		ro->proxy = arg;
		return 1;
	case '4':
	case '6':
		ro->ipv = c - '0';
		return 1;
	default:
		return 0;
	}
}

/* Reads a line from the terminal fd without echo into buf. Returns 0 or
 * -errno. */
static int
read_secret(int fd, char *buf, size_t size)
{
	struct termios old, quiet;
	size_t n = 0;
	ssize_t r;
	char ch;
	int rc = 0, restore;

	restore = tcgetattr(fd, &old) == 0;
	if (restore) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			break;
		}
		if (ch == '\n' || ch == '\r')
			break;
		if (n + 1 < size)
			buf[n++] = ch;
	}
	buf[n] = '\0';
	if (restore)
		tcsetattr(fd, TCSAFLUSH, &old);
	return rc;
}

void
cli_reqopts_finish(struct reqopts *ro)
{
	char prompt[512], shown[256];
	int fd;

	if (ro->user == NULL || ro->password != NULL)
		return;
	if ((fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		fprintf(stderr,
			"%s: --user %s: no password given and no terminal to "
			"ask for one on (give -u USER:PASSWORD or use "
			"--netrc)\n",
			program_invocation_short_name,
			display_text(ro->user, shown, sizeof(shown)));
		exit(2);
	}
	snprintf(prompt, sizeof(prompt), "Password for '%s': ",
		 display_text(ro->user, shown, sizeof(shown)));
	if (write(fd, prompt, strlen(prompt)) < 0 ||
	    read_secret(fd, cli_password, sizeof(cli_password)) < 0) {
		close(fd);
		fprintf(stderr,
			"%s: cannot read a password from the "
			"terminal\n",
			program_invocation_short_name);
		exit(2);
	}
	close(fd);
	ro->password = cli_password;
}
