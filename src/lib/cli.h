/* SPDX-License-Identifier: ISC */
/* cli.h -- parsing of command-line values shared by every program. */
#ifndef NT_CLI_H
#define NT_CLI_H

#include <signal.h>
#include <stdio.h>

/*
 * Parses a whole decimal integer in [min, max]. Returns 0 and sets *out, or
 * -EINVAL (not a number, trailing junk, empty) or -ERANGE (outside the
 * bounds). *out is untouched on failure.
 */
int cli_parse_long(const char *s, long long min, long long max, long long *out);

/*
 * Parses a byte count or rate with an optional binary suffix: "512", "64k",
 * "2M", "1G" (k = 1024). Same returns as cli_parse_long().
 */
int cli_parse_size(const char *s, long long min, long long max, long long *out);

/*
 * Parses a non-negative decimal number of seconds ("10", "0.5") up to max.
 * Same returns as cli_parse_long().
 */
int cli_parse_seconds(const char *s, double max, double *out);

/*
 * Prints "PROG: VALUE: why" for a value rejected by a parser above and
 * exits 2. For use by programs only.
 */
void cli_bad_value(const char *what, const char *value, int code)
	__attribute__((noreturn));

/*
 * cli_parse_long() and cli_parse_size() of an option's value for a
 * program: the value, or, for a bad one, cli_bad_value(what, ...) and
 * exit 2.
 */
long long cli_long_arg(const char *s, long long min, long long max,
		       const char *what);
long long cli_size_arg(const char *s, long long min, long long max,
		       const char *what);

/*
 * For getopt_long() returning '?' (call with opterr = 0): prints what was
 * wrong with the option as "PROG: ..." and a pointer to --help, exits 2.
 * optstring is the one given to getopt_long().
 */
void cli_bad_option(char **argv, const char *optstring)
	__attribute__((noreturn));

/*
 * For programs that take no operands: when any remain after the options
 * (optind < argc), prints "PROG: unexpected argument: X" and the usage to
 * stderr, and exits 2. Returns otherwise.
 */
void cli_no_operands(int argc, char **argv, void (*usage)(FILE *));

/*
 * Makes SIGINT and SIGTERM call handler, without SA_RESTART, so that a
 * blocking call the signal lands in returns EINTR and the program can stop
 * in order.
 */
void cli_on_stop(void (*handler)(int));

/* The signal (SIGINT or SIGTERM) that asked the program to stop, 0 while
 * none has; set by the handler cli_catch_stop() installs. */
extern volatile sig_atomic_t cli_stop_signal;

/* A signal handler that records its signal in cli_stop_signal. */
void cli_record_stop(int sig);

/* cli_on_stop(cli_record_stop), for programs that only need to know that
 * they should stop, and why. */
void cli_catch_stop(void);

/* Prints "PROG VERSION" to stdout and exits 0. */
void cli_version(void) __attribute__((noreturn));

#endif
