/* SPDX-License-Identifier: ISC */
/* cli_config.c -- the defaults file, read before the command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cli_int.h"
#include "conf.h"
#include "display.h"

/* Bigger than any defaults file a person writes. */
#define CONF_SIZE_MAX (1 << 20)

char cli__where[4096 + 32];

/* The file's text, kept for the whole run: option values point into it. */
static char *conf_text;

struct cli__conf {
	const char *path;
	const struct option *longopts;
	cli_option_cb *set;
	void *arg;
};

/* "PROG: FILE:LINE: why" (or "PROG: FILE: why"), exit 2. */
static void
conf_fail(const char *path, unsigned long line, const char *why)
{
	char shown[4096];

	display_text(path, shown, sizeof(shown));
	if (line > 0)
		fprintf(stderr, "%s: %s:%lu: %s\n",
			program_invocation_short_name, shown, line, why);
	else
		fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name,
			shown, why);
	exit(2);
}

/* conf_option_cb: one option of the file, checked against the table and
 * handed to the program. */
static int
on_option(unsigned long line, const char *name, char *value, const char **why,
	  void *arg)
{
	static char msg[160];
	struct cli__conf *x = arg;
	const struct option *o = x->longopts;

	while (o->name != NULL && strcmp(o->name, name) != 0)
		o++;
	*why = msg;
	if (o->name == NULL)
		snprintf(msg, sizeof(msg), "unknown option '%s'", name);
	else if (o->val == 'h' || o->val == CLI_CONFIG ||
		 o->val == CLI_NO_CONFIG || strcmp(name, "version") == 0)
		snprintf(msg, sizeof(msg), "'%s' is not for a defaults file",
			 name);
	else if (o->has_arg == required_argument && value == NULL)
		snprintf(msg, sizeof(msg), "'%s' needs a value ('%s = VALUE')",
			 name, name);
	else if (o->has_arg == no_argument && value != NULL)
		snprintf(msg, sizeof(msg), "'%s' takes no value", name);
	else
		msg[0] = '\0';
	if (msg[0] != '\0')
		return -EINVAL;
	*why = NULL;
	snprintf(cli__where, sizeof(cli__where), "%s:%lu: ", x->path, line);
	x->set(o->val, value, x->arg);
	cli__where[0] = '\0';
	return 0;
}

/* Reads path whole into conf_text. Returns its length, or -1 when the file
 * is missing and may be (a default path); exits 2 on any other error. */
static ssize_t
read_file(const char *path, int must)
{
	struct stat st;
	ssize_t n, got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT && !must)
			return -1;
		conf_fail(path, 0, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		conf_fail(path, 0, "not a regular file");
	if (st.st_size > CONF_SIZE_MAX)
		conf_fail(path, 0, "too large for a defaults file");
	if ((conf_text = malloc((size_t)st.st_size + 1)) == NULL)
		conf_fail(path, 0, strerror(ENOMEM));
	while (got < st.st_size &&
	       (n = read(fd, conf_text + got, (size_t)(st.st_size - got))) > 0)
		got += n;
	if (got < st.st_size)
		conf_fail(path, 0, "cannot read it whole");
	close(fd);
	conf_text[got] = '\0';
	return got;
}

/* The defaults file the command line names, or the default one in *buf;
 * NULL for none. */
static const char *
config_path(int argc, char **argv, char *buf, size_t size)
{
	const char *path = NULL, *home;
	int none = 0;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--no-config") == 0)
			none = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
	}
	if (none || path != NULL)
		return none ? NULL : path;
	if ((home = getenv("XDG_CONFIG_HOME")) != NULL && home[0] == '/')
		snprintf(buf, size, "%s/netthreads/config", home);
	else if ((home = getenv("HOME")) != NULL && home[0] != '\0')
		snprintf(buf, size, "%s/.config/netthreads/config", home);
	else
		return NULL;
	return buf;
}

void
cli_parse(int argc, char **argv, const char *optstring,
	  const struct option *longopts, cli_option_cb *set, void *arg)
{
	struct cli__conf x = {NULL, longopts, set, arg};
	char buf[4096];
	const char *why;
	unsigned long line;
	ssize_t len;
	int c;

	x.path = config_path(argc, argv, buf, sizeof(buf));
	if (x.path != NULL && (len = read_file(x.path, x.path != buf)) >= 0 &&
	    conf_parse(conf_text, (size_t)len, on_option, &x, &line, &why) < 0)
		conf_fail(x.path, line, why != NULL ? why : "bad line");
	opterr = 0;
	while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
		if (c == '?')
			cli_bad_option(argv, optstring);
		if (c != CLI_CONFIG && c != CLI_NO_CONFIG)
			set(c, optarg, arg);
	}
}
