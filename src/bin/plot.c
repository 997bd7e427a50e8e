/* SPDX-License-Identifier: ISC */
/* plot.c -- boxplots of download time against threads, drawn by gnuplot. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "expdata.h"
#include "fsutil.h"

#define MAX_STATS 1024

struct series {
	char name[256];
	char file[PATH_MAX];
	struct expdata d;
	struct expdata_stat st[MAX_STATS];
	size_t n;
	long long bytes;
	/* The -n auto runs in auto-NAME.txt beside it: the median of the
	 * counts they held longest and their speedup (0: none). */
	double auto_conns, auto_speedup;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: plot [-d DIR] [-o OUTDIR] [--size WxH]\n"
		"For each DIR/data-NAME.txt (lines \"URL THREADS BYTES "
		"SECONDS\"), draws\n"
		"OUTDIR/download-time-NAME.png, a box of download times per "
		"thread count,\n"
		"and OUTDIR/speedup.png, the median speedup against threads of "
		"every\n"
		"file beside the ideal. Drawn by gnuplot (pngcairo).\n"
		"\n"
		"  -d, --dir DIR      where the data files are (default "
		"results)\n"
		"  -o, --output DIR   where the PNG files go (default: DIR)\n"
		"      --size WxH     image size in pixels (default 800x600)\n"
		"  -h, --help         this help\n"
		"      --version      print the version\n");
}

static const char *bad_file;

static void
on_bad(long lineno, const char *why, void *arg)
{
	(void)arg;
	warnx("%s:%ld: %s; line skipped", bad_file, lineno, why);
}

/* Writes s as a gnuplot single-quoted string ('' stands for '). */
static void
gp_str(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* Writes the stats and outliers of s into tmp/N.stats and tmp/N.out;
 * returns the number of outliers, or -1. */
static int
write_series(const char *tmp, int i, const struct series *s)
{
	char path[PATH_MAX + 32];
	FILE *f;
	int outliers = 0;

	snprintf(path, sizeof(path), "%s/%d.stats", tmp, i);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "# threads lo q1 median q3 hi n speedup\n");
	for (size_t k = 0; k < s->n; k++) {
		const struct expdata_stat *st = &s->st[k];
		double base = s->st[0].threads == 1 ? s->st[0].median : 0;

		fprintf(f, "%d %.6f %.6f %.6f %.6f %.6f %zu %.6f\n",
			st->threads, st->lo, st->q1, st->median, st->q3, st->hi,
			st->n,
			base > 0 && st->median > 0 ? base / st->median : 0.0);
	}
	if (fclose(f) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%d.out", tmp, i);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	for (size_t r = 0; r < s->d.n; r++) {
		const struct expdata_row *row = &s->d.rows[r];

		for (size_t k = 0; k < s->n; k++) {
			const struct expdata_stat *st = &s->st[k];

			if (st->threads == row->threads &&
			    (row->seconds < st->lo || row->seconds > st->hi)) {
				fprintf(f, "%d %.6f\n", row->threads,
					row->seconds);
				outliers++;
			}
		}
	}
	if (fclose(f) != 0)
		return -1;
	return outliers;
}

static int
by_size(const void *a, const void *b)
{
	const struct series *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The x axis: a little room either side of the thread counts (and, with
 * with_auto, of the -n auto points), and a tic at each count plotted. */
static void
x_axis(FILE *g, const struct series *ss, int ns, int with_auto, double *boxw)
{
	int tmax = 1, gap = 0;
	int seen[MAX_STATS], nseen = 0;

	for (int i = 0; i < ns; i++) {
		for (size_t k = 0; k < ss[i].n; k++) {
			int t = ss[i].st[k].threads, dup = 0;

			if (t > tmax)
				tmax = t;
			if (k > 0) {
				int d = t - ss[i].st[k - 1].threads;
				if (gap == 0 || d < gap)
					gap = d;
			}
			for (int j = 0; j < nseen; j++)
				dup |= seen[j] == t;
			if (!dup && nseen < MAX_STATS)
				seen[nseen++] = t;
		}
		/* An -n auto point past the fixed counts stays in view. */
		if (with_auto && ss[i].auto_speedup > 0 &&
		    ss[i].auto_conns > tmax) {
			tmax = (int)ss[i].auto_conns;
			if (nseen < MAX_STATS)
				seen[nseen++] = tmax;
		}
	}
	if (gap == 0)
		gap = 1;
	*boxw = 0.5 * gap;
	fprintf(g, "set xrange [0:%g]\n", tmax + gap * 0.75 + 0.25);
	fprintf(g, "set xtics (");
	for (int j = 0; j < nseen; j++)
		fprintf(g, "%s%d", j ? ", " : "", seen[j]);
	fprintf(g, ")\n");
}

struct plot_opts {
	const char *dir;    /* where the data files are */
	const char *outdir; /* where the PNG files go */
	long long w, h;	    /* image size in pixels */
};

/* What one run holds, so that one cleanup path frees it all. */
struct plot {
	const struct plot_opts *o;
	char tmp[sizeof("/tmp/plot.XXXXXX")];
	char script[64];
	char errpath[64];
	struct series *ss;
	int ns;
	int have_speedup;
	glob_t g;
};

/* --size WxH into w and h; exits on a bad value. */
static void
parse_size(const char *arg, long long *w, long long *h)
{
	const char *x = strchr(arg, 'x');
	char ws[32];
	int rc;

	if (x == NULL || (size_t)(x - arg) >= sizeof(ws))
		cli_bad_value("size (WxH)", arg, -EINVAL);
	memcpy(ws, arg, (size_t)(x - arg));
	ws[x - arg] = '\0';
	if ((rc = cli_parse_long(ws, 100, 10000, w)) < 0 ||
	    (rc = cli_parse_long(x + 1, 100, 10000, h)) < 0)
		cli_bad_value("size (WxH, 100-10000 each)", arg, rc);
}

/* The command line into o; exits on a bad one and after --help. */
static void
parse_args(int argc, char **argv, struct plot_opts *o)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"size", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	o->dir = "results";
	o->outdir = NULL;
	o->w = 800;
	o->h = 600;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'o':
			o->outdir = optarg;
			break;
		case 'S':
			parse_size(optarg, &o->w, &o->h);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "d:o:h");
		}
	}
	cli_no_operands(argc, argv, usage);
	if (o->outdir == NULL)
		o->outdir = o->dir;
}

/* DIR/auto-NAME.txt beside data-NAME.txt, if any: the median of the
 * counts the runs held longest (THREADS there) and the speedup of the
 * median time over the median one-thread time. */
static void
load_auto(struct series *s)
{
	char path[PATH_MAX + 16];
	const char *slash = strrchr(s->file, '/');
	struct expdata d = {0};
	double *t, *c;

	snprintf(path, sizeof(path), "%.*s/auto-%s.txt", (int)(slash - s->file),
		 s->file, s->name);
	if (access(path, F_OK) < 0 || s->st[0].threads != 1)
		return;
	bad_file = path;
	if (expdata_read(path, &d, on_bad, NULL) > 0 &&
	    (t = malloc(d.n * sizeof(*t))) != NULL) {
		if ((c = malloc(d.n * sizeof(*c))) != NULL) {
			for (size_t i = 0; i < d.n; i++) {
				t[i] = d.rows[i].seconds;
				c[i] = d.rows[i].threads;
			}
			s->auto_conns = expdata_median(c, d.n);
			if (expdata_median(t, d.n) > 0)
				s->auto_speedup = s->st[0].median /
						  expdata_median(t, d.n);
			free(c);
		}
		free(t);
	}
	expdata_free(&d);
	bad_file = s->file;
}

/* Reads one data file into s; 0, or -1 when it is skipped (said why). */
static int
load_one(const char *path, struct series *s)
{
	const char *base = strrchr(path, '/') + 1;
	size_t nl = strlen(base) - strlen("data-") - strlen(".txt");
	double b[MAX_STATS];
	long rows;

	if (nl == 0 || nl >= sizeof(s->name)) {
		warnx("%s: no NAME in the file name; skipped", path);
		return -1;
	}
	memcpy(s->name, base + 5, nl);
	s->name[nl] = '\0';
	snprintf(s->file, sizeof(s->file), "%s", path);
	bad_file = s->file;
	rows = expdata_read(s->file, &s->d, on_bad, NULL);
	if (rows < 0) {
		warnx("%s: %s", s->file, strerror((int)-rows));
		return -1;
	}
	if (rows == 0) {
		warnx("%s: no data lines; skipped", s->file);
		expdata_free(&s->d);
		return -1;
	}
	s->n = expdata_stats(&s->d, s->st, MAX_STATS);
	if (s->n > MAX_STATS) {
		warnx("%s: more than %d thread counts; skipped", s->file,
		      MAX_STATS);
		expdata_free(&s->d);
		return -1;
	}
	for (size_t k = 0; k < s->n; k++)
		b[k] = (double)s->st[k].bytes;
	s->bytes = (long long)expdata_median(b, s->n);
	load_auto(s);
	return 0;
}

/* Every DIR/data-NAME.txt into p->ss; exits when there is none. */
static void
load_series(struct plot *p)
{
	const char *dir = p->o->dir;
	char pattern[PATH_MAX];
	int rc;

	if (snprintf(pattern, sizeof(pattern), "%s/data-*.txt", dir) >=
	    (int)sizeof(pattern))
		errx(2, "%s: name too long", dir);
	rc = glob(pattern, 0, NULL, &p->g);
	if (rc == GLOB_NOMATCH || (rc == 0 && p->g.gl_pathc == 0))
		errx(1, "%s: no data files (data-NAME.txt)", dir);
	if (rc != 0)
		errx(1, "%s: cannot list the folder", dir);
	if ((p->ss = calloc(p->g.gl_pathc, sizeof(*p->ss))) == NULL)
		err(1, "calloc");
	for (size_t i = 0; i < p->g.gl_pathc; i++) {
		struct series *s = &p->ss[p->ns];

		if (load_one(p->g.gl_pathv[i], s) < 0)
			continue;
		p->have_speedup |= s->st[0].threads == 1 && s->n > 1;
		p->ns++;
	}
}

/* The box plot of series i into the script; 0, or -1 with errno set. */
static int
plot_times(FILE *gp, const struct plot *p, int i)
{
	const struct series *s = &p->ss[i];
	char path[PATH_MAX + 300], title[400], sz[32];
	double boxw;
	int outliers = write_series(p->tmp, i, s);

	if (outliers < 0)
		return -1;
	x_axis(gp, s, 1, 0, &boxw);
	snprintf(path, sizeof(path), "%s/download-time-%s.png", p->o->outdir,
		 s->name);
	snprintf(title, sizeof(title), "Download time: %s (%s), %zu runs",
		 s->name, expdata_size_str(s->bytes, sz, sizeof(sz)), s->d.n);
	fprintf(gp, "set output ");
	gp_str(gp, path);
	fprintf(gp, "\nset title ");
	gp_str(gp, title);
	fprintf(gp,
		"\nset ylabel 'seconds'\nset boxwidth %g absolute\n"
		"set style fill solid 0.3 border\n",
		boxw);
	fprintf(gp,
		"plot '%s/%d.stats' using 1:3:2:6:5 with candlesticks "
		"whiskerbars 0.5 lc rgb '#1f5fa8' lw 1.5 "
		"title 'quartiles; whiskers 1.5 IQR', \\\n"
		"  '' using 1:4:4:4:4 with candlesticks lc rgb "
		"'#c0392b' lw 2.5 title 'median'",
		p->tmp, i);
	if (outliers > 0)
		fprintf(gp,
			", \\\n  '%s/%d.out' using 1:2 with points "
			"pt 6 ps 0.8 lc rgb '#333333' title 'outliers'",
			p->tmp, i);
	fprintf(gp, "\nprint ");
	gp_str(gp, path);
	fprintf(gp, "\n");
	return 0;
}

/* The speedup of every file with runs on 1 thread and more. */
static void
plot_speedup(FILE *gp, const struct plot *p)
{
	char path[PATH_MAX + 32];
	double boxw;

	x_axis(gp, p->ss, p->ns, 1, &boxw);
	snprintf(path, sizeof(path), "%s/speedup.png", p->o->outdir);
	fprintf(gp, "set output ");
	gp_str(gp, path);
	fprintf(gp, "\nset title 'Speedup over one thread (median "
		    "download time)'\nset ylabel 'speedup'\n"
		    "set key top left\n"
		    "plot x with lines dt 2 lc rgb '#888888' title 'ideal'");
	for (int i = 0; i < p->ns; i++) {
		const struct series *s = &p->ss[i];
		char title[400], sz[32];

		if (s->st[0].threads != 1 || s->n < 2)
			continue;
		snprintf(title, sizeof(title), "%s (%s)", s->name,
			 expdata_size_str(s->bytes, sz, sizeof(sz)));
		fprintf(gp,
			", \\\n  '%s/%d.stats' using 1:8 with "
			"linespoints lw 2 pt 7 lc %d title ",
			p->tmp, i, i + 1);
		gp_str(gp, title);
		if (s->auto_speedup <= 0)
			continue;
		/* Where -n auto landed: a point of its own, the line's
		 * colour, at the count it held longest. */
		snprintf(title, sizeof(title), "%s: -n auto (held longest)",
			 s->name);
		fprintf(gp,
			", \\\n  '+' using (%g):(%g) every ::0::0 with "
			"points pt 5 ps 2.5 lc %d title ",
			s->auto_conns, s->auto_speedup, i + 1);
		gp_str(gp, title);
	}
	fprintf(gp, "\nprint ");
	gp_str(gp, path);
	fprintf(gp, "\n");
}

/* The gnuplot script and its data files in p->tmp; 0 or -1 (said why). */
static int
write_script(struct plot *p)
{
	FILE *gp;

	if ((gp = fopen(p->script, "w")) == NULL) {
		warn("%s", p->script);
		return -1;
	}
	fprintf(gp,
		"set terminal pngcairo size %lld,%lld noenhanced "
		"font 'Sans,10'\n",
		p->o->w, p->o->h);
	fprintf(gp, "set grid ytics\nset yrange [0:*]\n"
		    "set offsets 0, 0, graph 0.08, 0\n"
		    "set xlabel 'threads'\nset key top right\n");
	for (int i = 0; i < p->ns; i++) {
		if (plot_times(gp, p, i) < 0) {
			warn("%s", p->tmp);
			fclose(gp);
			return -1;
		}
	}
	if (p->have_speedup)
		plot_speedup(gp, p);
	else
		warnx("no file has runs with 1 thread and more: "
		      "no speedup.png");
	if (fclose(gp) != 0) {
		warn("%s", p->script);
		return -1;
	}
	return 0;
}

/* Runs gnuplot on the script; its stderr goes to p->errpath. Returns the
 * wait status, or -1 when it could not start. */
static int
run_gnuplot(const struct plot *p)
{
	pid_t pid;
	int ws = 0;

	/* gnuplot prints each file name to stderr as it finishes one. */
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		warn("fork");
		return -1;
	}
	if (pid == 0) {
		int fd = open(p->errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", p->script, (char *)NULL);
		dprintf(2, "gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	return ws;
}

/* Tells the files gnuplot wrote and what it said; 0 if it succeeded. */
static int
report(const struct plot *p, int ws)
{
	FILE *f = fopen(p->errpath, "r");
	char line[1024];
	int failed = !WIFEXITED(ws) || WEXITSTATUS(ws) != 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		struct stat st;

		line[strcspn(line, "\n")] = '\0';
		/* Our own "print" lines: the files written. */
		if (!failed && stat(line, &st) == 0 && st.st_size > 0)
			printf("wrote %s\n", line);
		else if (line[0] != '\0')
			fprintf(stderr, "plot: gnuplot: %s\n", line);
	}
	if (f != NULL)
		fclose(f);
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127) {
		warnx("gnuplot not found (install gnuplot-nox, or run "
		      "scripts/deps)");
		return 1;
	}
	if (failed) {
		warnx("gnuplot failed");
		return 1;
	}
	return 0;
}

/* Reads the data, draws the plots; the exit status. */
static int
run(const struct plot_opts *o)
{
	struct plot pl = {.o = o};
	struct plot *p = &pl;
	int ws, status = 1;

	snprintf(p->tmp, sizeof(p->tmp), "/tmp/plot.XXXXXX");
	load_series(p);
	if (p->ns == 0) {
		warnx("%s: no data to plot", o->dir);
		goto out;
	}
	/* Smallest file first, as a reader expects small, medium, large. */
	qsort(p->ss, (size_t)p->ns, sizeof(*p->ss), by_size);
	if (mkdir(o->outdir, 0755) < 0 && errno != EEXIST) {
		warn("%s", o->outdir);
		goto out;
	}
	if (mkdtemp(p->tmp) == NULL) {
		warn("%s", p->tmp);
		goto out;
	}
	snprintf(p->script, sizeof(p->script), "%s/plot.gp", p->tmp);
	snprintf(p->errpath, sizeof(p->errpath), "%s/gnuplot.err", p->tmp);
	if (write_script(p) < 0 || (ws = run_gnuplot(p)) < 0)
		goto out;
	status = report(p, ws);
out:
	if (strcmp(p->tmp, "/tmp/plot.XXXXXX") != 0)
		fsutil_remove_tree(p->tmp);
	for (int i = 0; i < p->ns; i++)
		expdata_free(&p->ss[i].d);
	free(p->ss);
	globfree(&p->g);
	if (fflush(stdout) != 0)
		status = 1;
	return status;
}

int
main(int argc, char **argv)
{
	struct plot_opts o;

	parse_args(argc, argv, &o);
	return run(&o);
}
