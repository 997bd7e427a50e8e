/* SPDX-License-Identifier: ISC */
/* cli.c -- number parsing and the messages every program prints alike. */
#include <ctype.h>
#include <errno.h>
#include <err.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_int.h"

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
