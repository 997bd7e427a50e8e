/* SPDX-License-Identifier: ISC */
/* experiments.c -- times download-accelerator over files x threads x runs. */
#include <dirent.h>
#include <stdarg.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "display.h"
#include "expdata.h"
#include "fsutil.h"
#include "httpserv.h"
#include "mtime.h"

#define MAX_TARGETS 64
#define MAX_THREADS 64
#define AUTO	    0 /* -t auto: -n auto */
#define OUT_MAX	    8192

struct target {
	char name[65];
	char *url;
	long long size; /* -1 until known */
	unsigned char sha[32];
	int has_sha; /* generated here: the checksum is known */
	int fd;	     /* data-NAME.txt, appended to */
	int afd;     /* auto-NAME.txt, the -n auto runs; -1 without */
	int *fails;  /* per thread count, this invocation */
	int *oks;
};

struct exp {
	int threads[MAX_THREADS];
	int nthreads;
	long long repeat;
	const char *dir;
	int fresh, quiet, progress;
	long long cap;
	long long link;	   /* local server: one rate all connections share */
	const char *label; /* local files are LABEL-small ..., or NULL */
	long long sizes[3];
	int nsizes;
	double run_timeout;
	char accel[PATH_MAX];
	char work[PATH_MAX]; /* temporary folder, removed at the end */
	char rundir[PATH_MAX + 8];
	struct target t[MAX_TARGETS];
	int ntargets;
	int local; /* the files are served by our own server */
	double start;
	double done_w, total_w;
	long runs_done, runs_total, failures;
};

/* snprintf for messages that may be cut short without harm. */
static void __attribute__((format(printf, 3, 4)))
say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: experiments [-t 1,2,3,5,10] [-r 10] [-d DIR] [--fresh] "
		"[-c CAP]\n"
		"                   [-s 1M,10M,100M] [-a PROG] [--run-timeout "
		"S] [-q]\n"
		"                   [NAME=URL ...]\n"
		"Runs \"download-accelerator -n T URL\" for every file, thread "
		"count T and\n"
		"repetition, checks each download, appends its line \"URL T "
		"BYTES SECONDS\"\n"
		"to DIR/data-NAME.txt and prints a table per file. With no "
		"NAME=URL it\n"
		"serves small, medium and large files of generated data "
		"itself, on\n"
		"loopback, capping each connection's rate.\n"
		"\n"
		"  -t, --threads LIST    thread counts (default 1,2,3,5,10; "
		"each 1-64,\n"
		"                        or auto: -n auto, recorded in "
		"DIR/auto-NAME.txt)\n"
		"  -r, --repeat N        runs per file and thread count "
		"(default 10)\n"
		"  -d, --dir DIR         where data files go (default "
		"results)\n"
		"      --fresh           start the data files anew (default: "
		"append)\n"
		"  -c, --cap RATE        local server: bytes/s per connection "
		"(default 2M;\n"
		"                        0: no cap)\n"
		"      --link RATE       local server: one rate all "
		"connections share\n"
		"      --label WORD      local server: files named "
		"WORD-small ...\n"
		"  -s, --sizes LIST      local server: sizes of "
		"small,medium,large\n"
		"                        (default 1M,10M,100M; one to three "
		"sizes)\n"
		"  -a, --accelerator P   the program to time (default: "
		"download-accelerator\n"
		"                        beside this program, else in PATH)\n"
		"      --run-timeout S   give up on one run after S seconds "
		"(default 600)\n"
		"  -q, --quiet           no progress line\n"
		"  -h, --help            this help\n"
		"      --version         print the version\n");
}

/* Finds download-accelerator beside our own executable, then in PATH. */
static int
find_accel(char *out, size_t len)
{
	char self[PATH_MAX], *slash;
	const char *path = getenv("PATH");
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			say(out, len, "%s/download-accelerator", self);
			if (access(out, X_OK) == 0)
				return 0;
		}
	}
	while (path != NULL && *path != '\0') {
		size_t l = strcspn(path, ":");

		snprintf(out, len, "%.*s/download-accelerator", (int)l, path);
		if (l > 0 && access(out, X_OK) == 0)
			return 0;
		path += l;
		if (*path == ':')
			path++;
	}
	return -ENOENT;
}

static int
parse_threads(const char *s, struct exp *e)
{
	char buf[512], *p, *save = NULL;
	long long v;
	int rc;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	e->nthreads = 0;
	for (p = strtok_r(buf, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		/* auto: the accelerator chooses; recorded apart. */
		if (strcmp(p, "auto") == 0)
			v = AUTO;
		else if ((rc = cli_parse_long(p, 1, MAX_THREADS, &v)) < 0)
			return rc;
		if (e->nthreads == MAX_THREADS)
			return -ERANGE;
		for (int i = 0; i < e->nthreads; i++)
			if (e->threads[i] == v)
				return -EINVAL;
		e->threads[e->nthreads++] = (int)v;
	}
	return e->nthreads > 0 ? 0 : -EINVAL;
}

static int
parse_sizes(const char *s, struct exp *e)
{
	char buf[256], *p, *save = NULL;
	int rc;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	e->nsizes = 0;
	for (p = strtok_r(buf, ",", &save); p != NULL;
	     p = strtok_r(NULL, ",", &save)) {
		if (e->nsizes == 3)
			return -ERANGE;
		rc = cli_parse_size(p, 1, 64LL << 30, &e->sizes[e->nsizes]);
		if (rc < 0)
			return rc;
		e->nsizes++;
	}
	return e->nsizes > 0 ? 0 : -EINVAL;
}

/* NAME=URL from the command line. */
static void
add_target(struct exp *e, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct target *t;
	size_t nl;

	if (eq == NULL)
		errx(2, "%s: expected NAME=URL", arg);
	nl = (size_t)(eq - arg);
	if (nl == 0 || nl > 64 || arg[0] == '.' ||
	    strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789._-") < nl)
		errx(2,
		     "%s: NAME must be 1-64 letters, digits, '.', '_' or '-'",
		     arg);
	if (strncmp(eq + 1, "http://", 7) != 0 &&
	    strncmp(eq + 1, "https://", 8) != 0)
		errx(2, "%s: not an http or https URL", eq + 1);
	if (strpbrk(eq + 1, " \t\r\n") != NULL)
		errx(2, "%s: a URL has no blanks", eq + 1);
	for (int i = 0; i < e->ntargets; i++)
		if (strlen(e->t[i].name) == nl &&
		    strncmp(e->t[i].name, arg, nl) == 0)
			errx(2, "%.*s: name given twice", (int)nl, arg);
	if (e->ntargets == MAX_TARGETS)
		errx(2, "at most %d files", MAX_TARGETS);
	t = &e->t[e->ntargets++];
	memcpy(t->name, arg, nl);
	t->name[nl] = '\0';
	if ((t->url = strdup(eq + 1)) == NULL)
		err(1, "strdup");
	t->size = -1;
}

/*
 * Writes size bytes of reproducible, incompressible data to path and
 * returns their SHA-256 in sha. 0 or -errno.
 */
static int
generate(const char *path, long long size, unsigned long long seed,
	 unsigned char *sha)
{
	unsigned long long x = seed * 0x9e3779b97f4a7c15ULL + 1;
	uint64_t *buf = malloc(1 << 20);
	int fd = -1, rc = -ENOMEM;

	if (buf == NULL)
		goto out;
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) <
	    0) {
		rc = -errno;
		goto out;
	}
	for (long long left = size; left > 0;) {
		size_t n = left < (1 << 20) ? (size_t)left : (1 << 20);

		/* xorshift64: fast and, for a network, incompressible. */
		for (size_t i = 0; i < (n + 7) / 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[i] = x;
		}
		if ((rc = fsutil_write_all(fd, buf, n, -1)) < 0)
			goto out;
		left -= (long long)n;
	}
	/* Read back from the page cache: one way of hashing a file. */
	rc = fsutil_sha256(fd, sha);
out:
	if (fd >= 0 && close(fd) < 0 && rc == 0)
		rc = -errno;
	free(buf);
	return rc;
}

/* SHA-256 of the file at path into sha. 0 or -errno. */
static int
sha256_file(const char *path, unsigned char *sha)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	rc = fsutil_sha256(fd, sha);
	close(fd);
	return rc;
}

static void
fmt_time(double s, char *buf, size_t len)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60,
			 t % 60);
	else
		snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* The weight of one run in the ETA: the bytes one connection carries. */
static double
run_weight(const struct target *t, int threads)
{
	/* An auto run is weighed as four connections. */
	return (t->size > 0 ? (double)t->size : 1048576.0) /
	       (threads == AUTO ? 4 : threads);
}

/* A thread count as -n takes it: a number, or auto. */
static const char *
nstr(int threads, char buf[16])
{
	if (threads == AUTO)
		return "auto";
	snprintf(buf, 16, "%d", threads);
	return buf;
}

static void
progress_clear(const struct exp *e)
{
	if (e->progress)
		fputs("\r\033[K", stderr);
}

static void
progress_draw(const struct exp *e, const struct target *t, int threads,
	      long rep)
{
	char el[32], eta[32] = "?", nb[16];
	double elapsed = mtime_now() - e->start;

	if (!e->progress)
		return;
	fmt_time(elapsed, el, sizeof(el));
	if (e->done_w > 0)
		fmt_time(elapsed * (e->total_w - e->done_w) / e->done_w, eta,
			 sizeof(eta));
	fprintf(stderr,
		"\r\033[Kexperiments: %ld/%ld runs done, now %s -n %s "
		"(run %ld/%lld), elapsed %s, ETA %s",
		e->runs_done, e->runs_total, t->name, nstr(threads, nb), rep,
		e->repeat, el, eta);
	fflush(stderr);
}

/* The last non-empty line of the file at path, into buf. */
static void
last_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[512];

	snprintf(buf, len, "(no message)");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0')
			say(buf, len, "%s", line);
	}
	fclose(f);
}

enum { RUN_OK, RUN_FAILED, RUN_STOPPED };

/* One run of the accelerator, as the steps of run_one see it. */
struct run {
	struct exp *e;
	struct target *t;
	int threads;
	long rep;
	double deadline;	     /* the child is killed after it */
	char errpath[PATH_MAX + 16]; /* the child's standard error */
	char out[OUT_MAX + 1];	     /* and its standard output */
	size_t have;
	int killed;	      /* 1: after a signal, 2: timed out */
	int status;	      /* from waitpid */
	struct expdata_row r; /* out, parsed */
	char *why;	      /* on RUN_FAILED, what went wrong */
	size_t whylen;
	/* An auto run's output is --json events, read line by line as it
	 * comes (out holds the line not yet whole), for the count it held
	 * longest; bad is the first thing wrong with them, or "". */
	struct expdata_json js;
	long lineno;
	char bad[400];
};

/*
 * Starts the accelerator in the empty run folder, its output into a pipe
 * whose read end goes to *fd. The pid, or -1 with rn->why said.
 */
static pid_t
run_spawn(struct run *rn, int *fd)
{
	struct exp *e = rn->e;
	char nbuf[16];
	int pfd[2];
	pid_t pid;

	nstr(rn->threads, nbuf);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		say(rn->why, rn->whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		say(rn->why, rn->whylen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int er = open(rn->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		sigset_t none;

		/* The accelerator starts as from a shell: nothing blocked
		 * or ignored by us. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (in < 0 || er < 0 || dup2(in, 0) < 0 ||
		    dup2(pfd[1], 1) < 0 || dup2(er, 2) < 0 ||
		    chdir(e->rundir) < 0)
			_exit(126);
		if (rn->threads == AUTO)
			execl(e->accel, "download-accelerator", "-n", "auto",
			      "--json", rn->t->url, (char *)NULL);
		else
			execl(e->accel, "download-accelerator", "-n", nbuf,
			      rn->t->url, (char *)NULL);
		dprintf(2, "%s: %s\n", e->accel, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	*fd = pfd[0];
	return pid;
}

/* What is wrong with line lineno of an auto run's output, with the
 * line as a terminal may show it, unless something was already. */
static void
run_bad_line(struct run *rn, const char *why, const char *line, size_t len)
{
	char raw[256], shown[128];

	if (rn->bad[0] != '\0')
		return;
	if (len >= sizeof(raw))
		len = sizeof(raw) - 1;
	memcpy(raw, line, len);
	raw[len] = '\0';
	say(rn->bad, sizeof(rn->bad), "line %ld: %s: \"%s\"", rn->lineno, why,
	    display_text(raw, shown, sizeof(shown)));
}

/*
 * Reads the whole lines in out as events and drops them, so that the
 * progress events of a long run never fill it; a line that does fill it
 * is wrong, and what follows is only drained.
 */
static void
run_take_events(struct run *rn)
{
	char *line = rn->out, *nl;
	const char *why;

	while ((nl = memchr(line, '\n', rn->have - (size_t)(line - rn->out))) !=
	       NULL) {
		rn->lineno++;
		if (rn->bad[0] == '\0' &&
		    expdata_json_line(&rn->js, line, (size_t)(nl - line),
				      &why) < 0)
			run_bad_line(rn, why, line, (size_t)(nl - line));
		line = nl + 1;
	}
	rn->have -= (size_t)(line - rn->out);
	memmove(rn->out, line, rn->have);
	if (rn->have == OUT_MAX) {
		rn->lineno++;
		run_bad_line(rn, "a line of 8 KiB or more", rn->out, rn->have);
		rn->have = 0;
	}
	if (rn->bad[0] != '\0')
		rn->have = 0;
}

/*
 * Reads the child's output until it closes it, then reaps the child. A
 * signal to us stops it, SIGKILL 5 s later; the deadline kills it.
 */
static void
run_collect(struct run *rn, pid_t pid, int fd)
{
	double term_at = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		double left = rn->deadline - mtime_now();
		ssize_t n;

		if (cli_stop_signal && term_at == 0) {
			kill(pid, SIGTERM);
			term_at = mtime_now();
		}
		if (term_at > 0 && mtime_now() - term_at > 5 && !rn->killed) {
			kill(pid, SIGKILL);
			rn->killed = 1;
		}
		if (left <= 0 && !rn->killed) {
			kill(pid, SIGKILL);
			rn->killed = 2;
		}
		n = poll(&p, 1,
			 left > 1 || left <= 0 ? 1000 : (int)(left * 1000) + 1);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0) {
			progress_draw(rn->e, rn->t, rn->threads, rn->rep);
			continue;
		}
		n = read(fd, rn->out + rn->have, OUT_MAX - rn->have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rn->have += (size_t)n;
		if (rn->threads == AUTO)
			run_take_events(rn);
		else if (rn->have == OUT_MAX)
			rn->have = OUT_MAX - 1; /* far too much: keep reading */
	}
	close(fd);
	while (waitpid(pid, &rn->status, 0) < 0 && errno == EINTR)
		;
	rn->out[rn->have] = '\0';
}

/* How the child ended: RUN_OK if it exited 0 and was not stopped. */
static int
run_check_exit(struct run *rn)
{
	char msg[400];

	if (cli_stop_signal)
		return RUN_STOPPED;
	if (rn->killed == 2) {
		say(rn->why, rn->whylen, "timed out after %g s",
		    rn->e->run_timeout);
		return RUN_FAILED;
	}
	if (WIFSIGNALED(rn->status)) {
		say(rn->why, rn->whylen,
		    "download-accelerator killed by signal %d",
		    WTERMSIG(rn->status));
		return RUN_FAILED;
	}
	if (WEXITSTATUS(rn->status) != 0) {
		last_line(rn->errpath, msg, sizeof(msg));
		say(rn->why, rn->whylen, "download-accelerator exited %d: %s",
		    WEXITSTATUS(rn->status), msg);
		return RUN_FAILED;
	}
	return RUN_OK;
}

/* An auto run's events: all well-formed, ending in a done event for
 * this URL. Their row goes to rn->r. */
static int
run_check_events(struct run *rn)
{
	const char *why;

	if (rn->have > 0) {
		rn->lineno++;
		run_bad_line(rn, "no newline at its end", rn->out, rn->have);
	}
	if (rn->bad[0] == '\0' && expdata_json_row(&rn->js, &rn->r, &why) < 0)
		say(rn->bad, sizeof(rn->bad), "%s", why);
	if (rn->bad[0] != '\0') {
		say(rn->why, rn->whylen, "unexpected output: %s", rn->bad);
		return RUN_FAILED;
	}
	return RUN_OK;
}

/* Exactly one line: URL N BYTES SECONDS, for this URL and N. */
static int
run_check_output(struct run *rn)
{
	char *out = rn->out;
	const char *url = rn->t->url, *bad = NULL;
	size_t have = rn->have;

	if (rn->threads == AUTO)
		return run_check_events(rn);
	if (have == 0 || out[have - 1] != '\n' ||
	    strchr(out, '\n') != out + have - 1 ||
	    expdata_parse_line(out, &rn->r, &bad) != 1 ||
	    strncmp(out, url, strlen(url)) != 0 || out[strlen(url)] != ' ' ||
	    rn->r.threads != rn->threads) {
		char shown[208];

		out[strcspn(out, "\n")] = '\0';
		say(rn->why, rn->whylen, "unexpected output: \"%s\"",
		    display_text(out, shown, sizeof(shown)));
		return RUN_FAILED;
	}
	return RUN_OK;
}

/* The one file in the run folder into file (len bytes); RUN_OK or not. */
static int
run_find_file(struct run *rn, char *file, size_t len)
{
	const char *rundir = rn->e->rundir;
	struct dirent *de;
	int nfiles = 0;
	DIR *d;

	if ((d = opendir(rundir)) == NULL) {
		say(rn->why, rn->whylen, "%s: %s", rundir, strerror(errno));
		return RUN_FAILED;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (nfiles++ == 0)
			snprintf(file, len, "%s/%s", rundir, de->d_name);
	}
	closedir(d);
	if (nfiles != 1) {
		say(rn->why, rn->whylen,
		    nfiles == 0 ? "no file written" : "%d files left, not one",
		    nfiles);
		return RUN_FAILED;
	}
	return RUN_OK;
}

/* The file left is finished, of the size reported and, when the data is
 * ours, of the checksum served. */
static int
run_check_file(struct run *rn)
{
	char file[PATH_MAX + 300];
	unsigned char sha[32];
	struct target *t = rn->t;
	size_t fl;
	struct stat st;
	int k;

	if (run_find_file(rn, file, sizeof(file)) != RUN_OK)
		return RUN_FAILED;
	fl = strlen(file);
	if (lstat(file, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (fl > 5 && strcmp(file + fl - 5, ".part") == 0)) {
		say(rn->why, rn->whylen, "%s is not a finished file",
		    strrchr(file, '/') + 1);
		return RUN_FAILED;
	}
	if ((long long)st.st_size != rn->r.bytes) {
		say(rn->why, rn->whylen, "reported %lld bytes, wrote %lld",
		    rn->r.bytes, (long long)st.st_size);
		return RUN_FAILED;
	}
	if (t->size >= 0 && rn->r.bytes != t->size) {
		say(rn->why, rn->whylen, "size %lld, expected %lld",
		    rn->r.bytes, t->size);
		return RUN_FAILED;
	}
	if (!t->has_sha)
		return RUN_OK;
	if ((k = sha256_file(file, sha)) < 0) {
		say(rn->why, rn->whylen, "%s: %s", file, strerror(-k));
		return RUN_FAILED;
	}
	if (memcmp(sha, t->sha, 32) != 0) {
		say(rn->why, rn->whylen,
		    "SHA-256 differs from the data "
		    "served");
		return RUN_FAILED;
	}
	return RUN_OK;
}

/*
 * One download: runs the accelerator in an empty folder, waits for it
 * (bounded), checks its output (a line, or an auto run's events) and the
 * file it left. On RUN_OK, line holds the line to record, for an auto run
 * with the count it held longest; on RUN_FAILED, why says what went wrong.
 */
static int
run_one(struct exp *e, struct target *t, int threads, long rep, char *line,
	size_t linelen, char *why, size_t whylen)
{
	struct run rn = {
		.e = e,
		.t = t,
		.threads = threads,
		.rep = rep,
		.deadline = mtime_now() + e->run_timeout,
		.why = why,
		.whylen = whylen,
	};
	pid_t pid;
	int fd, rc;

	snprintf(rn.errpath, sizeof(rn.errpath), "%s/stderr.txt", e->work);
	expdata_json_init(&rn.js, t->url);
	if ((pid = run_spawn(&rn, &fd)) < 0)
		return RUN_FAILED;
	run_collect(&rn, pid, fd);
	if ((rc = run_check_exit(&rn)) == RUN_OK &&
	    (rc = run_check_output(&rn)) == RUN_OK &&
	    (rc = run_check_file(&rn)) == RUN_OK) {
		if (t->size < 0)
			t->size = rn.r.bytes;
		if (threads == AUTO)
			say(line, linelen, "%s %d %lld %.3f\n", t->url,
			    rn.r.threads, rn.r.bytes, rn.r.seconds);
		else
			say(line, linelen, "%s", rn.out);
	}
	/* The next run starts from an empty folder again. */
	fsutil_remove_tree(e->rundir);
	if (mkdir(e->rundir, 0755) < 0 && rc == RUN_OK) {
		say(why, whylen, "%s: %s", e->rundir, strerror(errno));
		rc = RUN_FAILED;
	}
	return rc;
}

static int
thread_index(const struct exp *e, int threads)
{
	for (int i = 0; i < e->nthreads; i++)
		if (e->threads[i] == threads)
			return i;
	return -1;
}

/* The -n auto runs: their times against one thread's, and the count
 * each held longest. */
static void
summarize_auto(const struct exp *e, const struct target *t, double base)
{
	char path[PATH_MAX + 80], speed[16] = "-";
	struct expdata d = {0};
	double *v = NULL, *c = NULL, med = 0, cm = 0;
	int k = thread_index(e, AUTO);
	long rows;

	if (k < 0)
		return;
	snprintf(path, sizeof(path), "%s/auto-%s.txt", e->dir, t->name);
	rows = expdata_read(path, &d, NULL, NULL);
	if (rows > 0 && (v = malloc(d.n * sizeof(*v))) != NULL &&
	    (c = malloc(d.n * sizeof(*c))) != NULL) {
		for (size_t i = 0; i < d.n; i++) {
			v[i] = d.rows[i].seconds;
			c[i] = d.rows[i].threads;
		}
		med = expdata_median(v, d.n);
		cm = expdata_median(c, d.n);
	}
	if (base > 0 && med > 0)
		snprintf(speed, sizeof(speed), "%.2f", base / med);
	printf("     auto  %4zu  %6d  %8.3f  %14s  %7s  (held longest: "
	       "median %.0f)\n",
	       rows > 0 ? d.n : 0, t->fails[k], med, "", speed, cm);
	printf("  auto data: %s (%ld lines)\n", path, rows);
	free(v);
	free(c);
	expdata_free(&d);
}

static void
summarize(const struct exp *e, const struct target *t)
{
	char path[PATH_MAX + 80], sz[32], cap[32];
	struct expdata d = {0};
	struct expdata_stat st[MAX_THREADS + 64];
	size_t n;
	double base = 0;
	long rows;

	snprintf(path, sizeof(path), "%s/data-%s.txt", e->dir, t->name);
	rows = expdata_read(path, &d, NULL, NULL);
	if (t->size >= 0)
		expdata_size_str(t->size, sz, sizeof(sz));
	else
		snprintf(sz, sizeof(sz), "size unknown");
	printf("\n%s: %s, %s\n", t->name, sz, t->url);
	if (e->local) {
		if (e->cap > 0)
			printf("served here at %s/s per connection",
			       expdata_size_str(e->cap, cap, sizeof(cap)));
		else
			printf("served here, no cap per connection");
		if (e->link > 0)
			printf(", a link of %s/s shared",
			       expdata_size_str(e->link, cap, sizeof(cap)));
		printf("\n");
	}
	if (rows < 0) {
		printf("  no data: %s: %s\n", path, strerror((int)-rows));
		return;
	}
	n = expdata_stats(&d, st, sizeof(st) / sizeof(st[0]));
	if (n > sizeof(st) / sizeof(st[0]))
		n = sizeof(st) / sizeof(st[0]);
	for (size_t i = 0; i < n; i++)
		if (st[i].threads == 1)
			base = st[i].median;
	printf("  threads  runs  failed  median s       min-max s  speedup%s\n",
	       e->local && e->cap > 0 ? "  ideal s" : "");
	for (size_t i = 0; i < n; i++) {
		int k = thread_index(e, st[i].threads);
		char range[48], speed[16] = "-";

		snprintf(range, sizeof(range), "%.3f-%.3f", st[i].min,
			 st[i].max);
		if (base > 0 && st[i].median > 0)
			snprintf(speed, sizeof(speed), "%.2f",
				 base / st[i].median);
		printf("  %7d  %4zu  %6d  %8.3f  %14s  %7s", st[i].threads,
		       st[i].n, k >= 0 ? t->fails[k] : 0, st[i].median, range,
		       speed);
		if (e->local && e->cap > 0)
			printf("  %7.3f",
			       (double)st[i].bytes /
				       ((double)e->cap * st[i].threads));
		printf("\n");
	}
	/* Thread counts with failures only never reach the data file. */
	for (int k = 0; k < e->nthreads; k++) {
		int seen = 0;

		for (size_t i = 0; i < n; i++)
			seen |= st[i].threads == e->threads[k];
		if (!seen && t->fails[k] > 0 && e->threads[k] != AUTO)
			printf("  %7d  %4d  %6d  (every run failed)\n",
			       e->threads[k], 0, t->fails[k]);
	}
	printf("  data: %s (%ld lines)\n", path, rows);
	summarize_auto(e, t, base);
	expdata_free(&d);
}

/* Generates the files and starts the server; returns it. */
static struct httpserv *
serve_local(struct exp *e)
{
	static const char *names[] = {"small", "medium", "large"};
	struct httpserv_opts o = {0};
	struct httpserv *s;
	char www[PATH_MAX + 8], path[PATH_MAX + 80], url[128];
	int rc;

	snprintf(www, sizeof(www), "%s/www", e->work);
	if (mkdir(www, 0755) < 0)
		err(1, "%s", www);
	for (int i = 0; i < e->nsizes; i++) {
		struct target *t = &e->t[e->ntargets++];

		if (e->label != NULL)
			snprintf(t->name, sizeof(t->name), "%s-%s", e->label,
				 names[i]);
		else
			snprintf(t->name, sizeof(t->name), "%s", names[i]);
		snprintf(path, sizeof(path), "%s/%s.bin", www, t->name);
		if ((rc = generate(path, e->sizes[i], (unsigned long long)i + 1,
				   t->sha)) < 0)
			errx(1, "%s: %s", path, strerror(-rc));
		t->size = e->sizes[i];
		t->has_sha = 1;
	}
	o.root = www;
	o.rate = (unsigned long)e->cap;
	o.link = (unsigned long)e->link;
	o.max_conns = 2 * MAX_THREADS;
	if ((s = httpserv_new(&o)) == NULL)
		err(1, "local server");
	if ((rc = httpserv_start(s)) < 0)
		errx(1, "local server: %s", strerror(-rc));
	for (int i = 0; i < e->ntargets; i++) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s.bin",
			 httpserv_port(s), e->t[i].name);
		if ((e->t[i].url = strdup(url)) == NULL)
			err(1, "strdup");
	}
	return s;
}

static void
set_defaults(struct exp *e)
{
	e->threads[0] = 1, e->threads[1] = 2, e->threads[2] = 3;
	e->threads[3] = 5, e->threads[4] = 10;
	e->nthreads = 5;
	e->repeat = 10;
	e->dir = "results";
	e->cap = 2 << 20;
	e->sizes[0] = 1 << 20, e->sizes[1] = 10 << 20, e->sizes[2] = 100 << 20;
	e->nsizes = 3;
	e->run_timeout = 600;
}

/* One option c with its argument into e; exits on a bad value. */
static void
set_option(int c, char *arg, char **argv, struct exp *e)
{
	int rc;

	switch (c) {
	case 't':
		if ((rc = parse_threads(arg, e)) < 0)
			cli_bad_value("thread list (distinct counts 1-64 or "
				      "auto, comma-separated)",
				      arg, rc);
		break;
	case 'r':
		e->repeat = cli_long_arg(arg, 1, 100000,
					 "repetition count (1-100000)");
		break;
	case 'd':
		e->dir = arg;
		break;
	case 'F':
		e->fresh = 1;
		break;
	case 'c':
		e->cap = strcmp(arg, "0") == 0 ?
				 0 :
				 cli_size_arg(arg, 1024, 4000000000LL,
					      "cap (bytes/s, at least 1k)");
		break;
	case 'L':
		e->link = cli_size_arg(arg, 1024, 4000000000LL,
				       "link rate (bytes/s, at least 1k)");
		break;
	case 'l':
		if (arg[0] == '\0' || strlen(arg) > 32 ||
		    strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
			    strlen(arg))
			cli_bad_value("label (a-z, 0-9, _; 32 at most)", arg,
				      -EINVAL);
		e->label = arg;
		break;
	case 's':
		if ((rc = parse_sizes(arg, e)) < 0)
			cli_bad_value("size list (one to three sizes)", arg,
				      rc);
		break;
	case 'a':
		snprintf(e->accel, sizeof(e->accel), "%s", arg);
		break;
	case 'T':
		if ((rc = cli_parse_seconds(arg, 86400, &e->run_timeout)) < 0 ||
		    e->run_timeout <= 0)
			cli_bad_value("run timeout (seconds)", arg,
				      rc < 0 ? rc : -ERANGE);
		break;
	case 'q':
		e->quiet = 1;
		break;
	case 'h':
		usage(stdout);
		exit(0);
	case 'V':
		cli_version();
	default:
		cli_bad_option(argv, "t:r:d:c:s:a:qh");
	}
}

/* The command line into e; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct exp *e)
{
	static const struct option opts[] = {
		{"threads", required_argument, NULL, 't'},
		{"repeat", required_argument, NULL, 'r'},
		{"dir", required_argument, NULL, 'd'},
		{"fresh", no_argument, NULL, 'F'},
		{"cap", required_argument, NULL, 'c'},
		{"link", required_argument, NULL, 'L'},
		{"label", required_argument, NULL, 'l'},
		{"sizes", required_argument, NULL, 's'},
		{"accelerator", required_argument, NULL, 'a'},
		{"run-timeout", required_argument, NULL, 'T'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	set_defaults(e);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "t:r:d:c:s:a:qh", opts, NULL)) !=
	       -1)
		set_option(c, optarg, argv, e);
	for (int i = optind; i < argc; i++)
		add_target(e, argv[i]);
}

/* The accelerator to time, found or checked, and the data folder made;
 * exits when either is missing. */
static void
check_paths(struct exp *e)
{
	int rc;

	if (e->accel[0] == '\0') {
		if (find_accel(e->accel, sizeof(e->accel)) < 0)
			errx(1, "download-accelerator: not found beside this "
				"program nor in PATH");
	} else if (strchr(e->accel, '/') == NULL) {
		errx(2, "%s: give the accelerator as a path", e->accel);
	} else if (access(e->accel, X_OK) < 0) {
		err(1, "%s", e->accel);
	}
	if ((rc = fsutil_mkdirs(e->dir, 0755)) < 0)
		errx(1, "%s: %s", e->dir, strerror(-rc));
}

/* Signals end the runs in order: the current child is stopped, the
 * server and the temporary folder go, the summary is printed. */
static void
catch_signals(void)
{
	struct sigaction sa;

	cli_catch_stop();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_record_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Makes the temporary folder, in TMPDIR; exits if it cannot. */
static void
make_work(struct exp *e)
{
	const char *tmp = getenv("TMPDIR");

	if (snprintf(e->work, sizeof(e->work), "%s/experiments.XXXXXX",
		     tmp && *tmp ? tmp : "/tmp") >= (int)sizeof(e->work))
		errx(1, "TMPDIR: name too long");
	if (mkdtemp(e->work) == NULL)
		err(1, "%s", e->work);
	say(e->rundir, sizeof(e->rundir), "%s/run", e->work);
}

/* Opens DIR/KIND-NAME.txt to append to (emptied with --fresh). Returns
 * the descriptor, or -1 after saying why. */
static int
open_data(const struct exp *e, const char *kind, const char *name)
{
	char path[PATH_MAX + 80];
	int fd;

	snprintf(path, sizeof(path), "%s/%s-%s.txt", e->dir, kind, name);
	fd = open(path,
		  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
			  (e->fresh ? O_TRUNC : 0),
		  0644);
	if (fd < 0)
		warn("%s", path);
	return fd;
}

/* Opens every data file and sums the weights of the runs for the ETA;
 * 0, or -1 when a file cannot be opened (said why). */
static int
open_targets(struct exp *e)
{
	for (int i = 0; i < e->ntargets; i++) {
		struct target *t = &e->t[i];
		char path[PATH_MAX + 80];

		snprintf(path, sizeof(path), "%s/data-%s.txt", e->dir, t->name);
		t->fd = open(path,
			     O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
				     (e->fresh ? O_TRUNC : 0),
			     0644);
		t->fails = calloc((size_t)e->nthreads, sizeof(int));
		t->oks = calloc((size_t)e->nthreads, sizeof(int));
		if (t->fd < 0 || t->fails == NULL || t->oks == NULL) {
			warn("%s", path);
			return -1;
		}
		t->afd = -1;
		if (thread_index(e, AUTO) >= 0 &&
		    (t->afd = open_data(e, "auto", t->name)) < 0)
			return -1;
		for (int k = 0; k < e->nthreads; k++)
			e->total_w += e->repeat * run_weight(t, e->threads[k]);
	}
	e->runs_total = (long)e->ntargets * e->nthreads * e->repeat;
	return 0;
}

/* Times one run of t on the k-th thread count and records its result. */
static int
time_one(struct exp *e, struct target *t, int k, long rep)
{
	char line[OUT_MAX + 2], why[600], nb[16];
	int th = e->threads[k], rc;

	progress_draw(e, t, th, rep);
	rc = run_one(e, t, th, rep, line, sizeof(line), why, sizeof(why));
	if (rc == RUN_STOPPED)
		return rc;
	if (rc == RUN_OK) {
		size_t l = strlen(line);

		int fd = th == AUTO ? t->afd : t->fd;

		if (write(fd, line, l) != (ssize_t)l) {
			progress_clear(e);
			warn("%s-%s.txt", th == AUTO ? "auto" : "data",
			     t->name);
			rc = RUN_FAILED;
			say(why, sizeof(why), "not recorded");
		}
	}
	if (rc == RUN_OK) {
		t->oks[k]++;
	} else {
		progress_clear(e);
		warnx("%s -n %s (run %ld of %lld): %s", t->name, nstr(th, nb),
		      rep, e->repeat, why);
		t->fails[k]++;
		e->failures++;
	}
	e->runs_done++;
	e->done_w += run_weight(t, th);
	return rc;
}

/* As the original: every file, every repetition, every thread count;
 * thread counts alternate so that noise spreads over all of them. */
static void
time_all(struct exp *e)
{
	for (int i = 0; i < e->ntargets && !cli_stop_signal; i++) {
		struct target *t = &e->t[i];

		for (long rep = 1; rep <= e->repeat && !cli_stop_signal;
		     rep++) {
			for (int k = 0; k < e->nthreads && !cli_stop_signal;
			     k++)
				if (time_one(e, t, k, rep) == RUN_STOPPED)
					break;
		}
	}
}

/* Serves the files if none was given, times every run, prints the
 * tables; the exit status. */
static int
run(struct exp *e)
{
	struct httpserv *srv = NULL;
	int status = 0;

	check_paths(e);
	catch_signals();
	make_work(e);
	if (mkdir(e->rundir, 0755) < 0) {
		warn("%s", e->rundir);
		status = 1;
		goto out;
	}
	if (e->ntargets == 0) {
		e->local = 1;
		srv = serve_local(e);
	}
	if (open_targets(e) < 0) {
		status = 1;
		goto out;
	}
	e->progress = !e->quiet && isatty(2);
	e->start = mtime_now();
	time_all(e);
	progress_clear(e);
	if (cli_stop_signal)
		warnx("stopped by signal %d after %ld of %ld runs",
		      cli_stop_signal, e->runs_done, e->runs_total);
	for (int i = 0; i < e->ntargets; i++)
		summarize(e, &e->t[i]);
	printf("\n%ld runs, %ld failed, %.1f s\n", e->runs_done, e->failures,
	       mtime_now() - e->start);
	if (e->failures > 0)
		status = 1;
out:
	httpserv_free(srv);
	fsutil_remove_tree(e->work);
	for (int i = 0; i < e->ntargets; i++) {
		if (e->t[i].fd > 0)
			close(e->t[i].fd);
		free(e->t[i].url);
		free(e->t[i].fails);
		free(e->t[i].oks);
	}
	if (fflush(stdout) != 0)
		status = 1;
	if (cli_stop_signal)
		return 128 + cli_stop_signal;
	return status;
}

int
main(int argc, char **argv)
{
	/* Static: the targets and paths are too big for the stack. */
	static struct exp e;

	parse_args(argc, argv, &e);
	return run(&e);
}
