/* SPDX-License-Identifier: ISC */
/* cli.h -- parsing of command-line values shared by every program. */
#ifndef NT_CLI_H
#define NT_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "reqopts.h"

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

/*
 * The request options every downloader takes, spelt alike: append
 * CLI_REQ_SHORTOPTS to the getopt string, CLI_REQ_LONGOPTS to the option
 * table, CLI_REQ_HELP to --help, and hand each option to cli_reqopt().
 */
enum {
	CLI_REQ_NETRC = 0x1000,
	CLI_REQ_NETRC_FILE,
	CLI_REQ_CACERT,
	CLI_REQ_CAPATH,
	CLI_REQ_KEY,
	CLI_REQ_NOPROXY
};

#define CLI_REQ_SHORTOPTS "H:A:e:b:u:kE:x:46"

#define CLI_REQ_LONGOPTS                                                       \
	{"header", required_argument, NULL, 'H'},                              \
		{"user-agent", required_argument, NULL, 'A'},                  \
		{"referer", required_argument, NULL, 'e'},                     \
		{"cookie", required_argument, NULL, 'b'},                      \
		{"user", required_argument, NULL, 'u'},                        \
		{"netrc", no_argument, NULL, CLI_REQ_NETRC},                   \
		{"netrc-file", required_argument, NULL, CLI_REQ_NETRC_FILE},   \
		{"insecure", no_argument, NULL, 'k'},                          \
		{"cacert", required_argument, NULL, CLI_REQ_CACERT},           \
		{"capath", required_argument, NULL, CLI_REQ_CAPATH},           \
		{"cert", required_argument, NULL, 'E'},                        \
		{"key", required_argument, NULL, CLI_REQ_KEY},                 \
		{"proxy", required_argument, NULL, 'x'},                       \
		{"noproxy", required_argument, NULL, CLI_REQ_NOPROXY},         \
		{"ipv4", no_argument, NULL, '4'},                              \
	{                                                                      \
		"ipv6", no_argument, NULL, '6'                                 \
	}

#define CLI_REQ_HELP                                                           \
	"Requests:\n"                                                          \
	"  -H, --header 'NAME: VALUE'  send this header too (repeatable; "     \
	"'NAME:'\n"                                                            \
	"                       drops a default one)\n"                        \
	"  -A, --user-agent S   User-Agent to send\n"                          \
	"  -e, --referer URL    Referer to send\n"                             \
	"  -b, --cookie DATA|FILE  cookies 'a=b; c=d', or a cookie file\n"     \
	"  -u, --user USER[:PASSWORD]  credentials (no password: asked on "    \
	"the terminal)\n"                                                      \
	"      --netrc          credentials from ~/.netrc\n"                   \
	"      --netrc-file FILE  credentials from FILE\n"                     \
	"  -k, --insecure       do not check the server's certificate\n"       \
	"      --cacert FILE    trust the CAs in FILE (PEM)\n"                 \
	"      --capath DIR     trust the CAs in DIR\n"                        \
	"  -E, --cert FILE      client certificate (PEM)\n"                    \
	"      --key FILE       its private key (PEM; default: in --cert)\n"   \
	"  -x, --proxy URL      http://, https:// or socks5h:// proxy (else "  \
	"$https_proxy,\n"                                                      \
	"                       $http_proxy, $all_proxy)\n"                    \
	"      --noproxy HOSTS  hosts reached directly, comma-separated\n"     \
	"  -4, --ipv4           IPv4 addresses only\n"                         \
	"  -6, --ipv6           IPv6 addresses only\n"

/*
 * One request option c (from CLI_REQ_*) with its argument arg into ro.
 * Returns 1 when c is one, 0 when it is not. Exits 2 with a one-line
 * message naming the value when it is bad. A password given with -u is
 * copied out of arg, which is then blanked so that no process listing
 * shows it. For use by programs only.
 */
int cli_reqopt(struct reqopts *ro, int c, char *arg);

/*
 * After the options: -u without a password asks for one on the terminal
 * (/dev/tty, without echo); with no terminal, says so and exits 2.
 */
void cli_reqopts_finish(struct reqopts *ro);

/*
 * The defaults file: every downloader reads its long options from it
 * before the command line. Append CLI_CONFIG_LONGOPTS to the option table
 * and CLI_CONFIG_HELP to --help, and parse with cli_parse().
 */
enum { CLI_CONFIG = 0x1100, CLI_NO_CONFIG };

#define CLI_CONFIG_LONGOPTS                                                    \
	{"config", required_argument, NULL, CLI_CONFIG},                       \
	{                                                                      \
		"no-config", no_argument, NULL, CLI_NO_CONFIG                  \
	}

#define CLI_CONFIG_HELP                                                        \
	"Defaults: long options, one a line as 'name = value' or 'name', "     \
	"are read from\n"                                                      \
	"$XDG_CONFIG_HOME/netthreads/config (else "                            \
	"~/.config/netthreads/config)\n"                                       \
	"before the command line, which wins.\n"                               \
	"      --config FILE    read the defaults from FILE instead\n"         \
	"      --no-config      read no defaults file\n"

/* An option c (getopt_long()'s return) and its value (NULL for none). */
typedef void cli_option_cb(int c, char *value, void *arg);

/*
 * Reads the defaults file, then the command line, handing each option to
 * set(c, value, arg) as getopt_long() gives it. The file is --config FILE,
 * else $XDG_CONFIG_HOME/netthreads/config, else $HOME/.config/netthreads/
 * config (missing: no defaults), or none with --no-config. Its lines
 * (conf.h) name long options of longopts without "--"; help, version,
 * config and no-config are not allowed there. A bad line is reported as
 * "PROG: FILE:LINE: why", and a bad value in it by the usual message with
 * "FILE:LINE: " before the value; both exit 2, as does a bad option on the
 * command line (cli_bad_option()). Values stay valid for the whole run.
 * On return optind is the index of the first operand. For use by
 * programs only.
 */
void cli_parse(int argc, char **argv, const char *optstring,
	       const struct option *longopts, cli_option_cb *set, void *arg);

/*
 * Prints "PROG: [FILE:LINE: ]message" (the place while a defaults file is
 * read) and a pointer to --help, and exits 2. For a bad value a program
 * checks itself.
 */
void cli_bad(const char *fmt, ...) __attribute__((noreturn))
__attribute__((format(printf, 1, 2)));

/* Prints "PROG VERSION" to stdout and exits 0. */
void cli_version(void) __attribute__((noreturn));

#endif
