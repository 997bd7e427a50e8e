/* SPDX-License-Identifier: ISC */
/* cli.c -- number parsing and the messages every program prints alike. */
#include <ctype.h>
#include <errno.h>
#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"
#include "cli_int.h"
#include "display.h"

#ifndef NT_VERSION
#define NT_VERSION "unknown"
#endif

int
cli_parse_long(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s) && *s != '-' && *s != '+')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int
cli_parse_size(const char *s, long long min, long long max, long long *out)
{
	char *end;
	double v, mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno == ERANGE)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = 1024.0;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1024.0 * 1024;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		end++;
		break;
	default:
		return -EINVAL;
	}
	/* Allow "2MiB", "2MB" and "2M/s" style spellings of the same thing. */
	if (mult > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0 ||
			 strcmp(end, "/s") == 0 || strcmp(end, "iB/s") == 0 ||
			 strcmp(end, "B/s") == 0))
		end += strlen(end);
	if (*end != '\0')
		return -EINVAL;
	v *= mult;
	if (!isfinite(v) || v < (double)min || v > (double)max)
		return -ERANGE;
	*out = (long long)v;
	return 0;
}

int
cli_parse_seconds(const char *s, double max, double *out)
{
	char *end;
	double v;

	if (s == NULL || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0')
		return -EINVAL;
	if (errno == ERANGE || !isfinite(v) || v < 0 || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

void
cli_bad_value(const char *what, const char *value, int code)
{
	fprintf(stderr, "%s: %s%s: invalid %s: %s\n",
		program_invocation_short_name, cli__where, value, what,
		code == -ERANGE ? "out of range" : "not a number");
	fprintf(stderr, "Try '%s --help' for more information.\n",
		program_invocation_short_name);
	exit(2);
}

void
cli_bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s", program_invocation_short_name, cli__where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n",
		program_invocation_short_name);
	exit(2);
}

void
cli_bad_option(char **argv, const char *optstring)
{
	const char *p = optopt ? strchr(optstring, optopt) : NULL;
	const char *arg = optind > 0 ? argv[optind - 1] : "";

	if (optopt != 0 && strncmp(arg, "--", 2) == 0)
		fprintf(stderr,
			"%s: option '%s' needs an argument or takes "
			"none\n",
			program_invocation_short_name, arg);
	else if (optopt == 0)
		fprintf(stderr, "%s: unrecognized option '%s'\n",
			program_invocation_short_name, arg);
	else if (p != NULL && p[1] == ':')
		fprintf(stderr, "%s: option requires an argument -- '%c'\n",
			program_invocation_short_name, optopt);
	else if (optopt > 0x20 && optopt < 0x7f)
		fprintf(stderr, "%s: invalid option -- '%c'\n",
			program_invocation_short_name, optopt);
	else
		fprintf(stderr, "%s: invalid option\n",
			program_invocation_short_name);
	fprintf(stderr, "Try '%s --help' for more information.\n",
		program_invocation_short_name);
	exit(2);
}

void
cli_no_operands(int argc, char **argv, void (*usage)(FILE *))
{
	if (optind >= argc)
		return;
	warnx("unexpected argument: %s", argv[optind]);
	usage(stderr);
	exit(2);
}

void
cli_version(void)
{
	printf("%s (netthreads) %s\n", program_invocation_short_name,
	       NT_VERSION);
	exit(0);
}

void
cli_on_stop(void (*handler)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

volatile sig_atomic_t cli_stop_signal;

void
cli_record_stop(int sig)
{
	/* Atomic: worker threads read it while the handler runs. */
	__atomic_store_n(&cli_stop_signal, sig, __ATOMIC_RELAXED);
}

void
cli_catch_stop(void)
{
	cli_on_stop(cli_record_stop);
}

long long
cli_long_arg(const char *s, long long min, long long max, const char *what)
{
	long long v;
	int rc;

	if ((rc = cli_parse_long(s, min, max, &v)) < 0)
		cli_bad_value(what, s, rc);
	return v;
}

long long
cli_size_arg(const char *s, long long min, long long max, const char *what)
{
	long long v;
	int rc;

	if ((rc = cli_parse_size(s, min, max, &v)) < 0)
		cli_bad_value(what, s, rc);
	return v;
}

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
