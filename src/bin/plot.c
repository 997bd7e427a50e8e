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
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: plot [-d DIR] [-o OUTDIR] [--size WxH]\n"
"For each DIR/data-NAME.txt (lines \"URL THREADS BYTES SECONDS\"), draws\n"
"OUTDIR/download-time-NAME.png, a box of download times per thread count,\n"
"and OUTDIR/speedup.png, the median speedup against threads of every\n"
"file beside the ideal. Drawn by gnuplot (pngcairo).\n"
"\n"
"  -d, --dir DIR      where the data files are (default results)\n"
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
			st->n, base > 0 && st->median > 0 ? base / st->median
							  : 0.0);
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

/* The x axis: a little room either side of the thread counts, and a tic
 * at each thread count plotted. */
static void
x_axis(FILE *g, const struct series *ss, int ns, double *boxw)
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

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'},
		{"output", required_argument, NULL, 'o'},
		{"size", required_argument, NULL, 'S'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = "results", *outdir = NULL;
	char pattern[PATH_MAX], tmp[] = "/tmp/plot.XXXXXX", script[64];
	char errpath[64];
	struct series *ss = NULL;
	glob_t g = {0};
	long long w = 800, h = 600;
	int c, rc, ns = 0, status = 1, have_speedup = 0;
	FILE *gp = NULL;
	pid_t pid;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'o':
			outdir = optarg;
			break;
		case 'S': {
			char *x = strchr(optarg, 'x');
			char ws[32];

			if (x == NULL || (size_t)(x - optarg) >= sizeof(ws))
				cli_bad_value("size (WxH)", optarg, -EINVAL);
			memcpy(ws, optarg, (size_t)(x - optarg));
			ws[x - optarg] = '\0';
			if ((rc = cli_parse_long(ws, 100, 10000, &w)) < 0 ||
			    (rc = cli_parse_long(x + 1, 100, 10000, &h)) < 0)
				cli_bad_value("size (WxH, 100-10000 each)",
					      optarg, rc);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "d:o:h");
		}
	}
	cli_no_operands(argc, argv, usage);
	if (outdir == NULL)
		outdir = dir;
	if (snprintf(pattern, sizeof(pattern), "%s/data-*.txt", dir) >=
	    (int)sizeof(pattern))
		errx(2, "%s: name too long", dir);
	rc = glob(pattern, 0, NULL, &g);
	if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0))
		errx(1, "%s: no data files (data-NAME.txt)", dir);
	if (rc != 0)
		errx(1, "%s: cannot list the folder", dir);
	if ((ss = calloc(g.gl_pathc, sizeof(*ss))) == NULL)
		err(1, "calloc");

	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct series *s = &ss[ns];
		const char *base = strrchr(g.gl_pathv[i], '/') + 1;
		size_t nl = strlen(base) - strlen("data-") - strlen(".txt");
		long rows;

		if (nl == 0 || nl >= sizeof(s->name)) {
			warnx("%s: no NAME in the file name; skipped",
			      g.gl_pathv[i]);
			continue;
		}
		memcpy(s->name, base + 5, nl);
		s->name[nl] = '\0';
		snprintf(s->file, sizeof(s->file), "%s", g.gl_pathv[i]);
		bad_file = s->file;
		rows = expdata_read(s->file, &s->d, on_bad, NULL);
		if (rows < 0) {
			warnx("%s: %s", s->file, strerror((int)-rows));
			continue;
		}
		if (rows == 0) {
			warnx("%s: no data lines; skipped", s->file);
			expdata_free(&s->d);
			continue;
		}
		s->n = expdata_stats(&s->d, s->st, MAX_STATS);
		if (s->n > MAX_STATS) {
			warnx("%s: more than %d thread counts; skipped",
			      s->file, MAX_STATS);
			expdata_free(&s->d);
			continue;
		}
		{
			double b[MAX_STATS];

			for (size_t k = 0; k < s->n; k++)
				b[k] = (double)s->st[k].bytes;
			s->bytes = (long long)expdata_median(b, s->n);
		}
		have_speedup |= s->st[0].threads == 1 && s->n > 1;
		ns++;
	}
	if (ns == 0) {
		warnx("%s: no data to plot", dir);
		goto out;
	}
	/* Smallest file first, as a reader expects small, medium, large. */
	qsort(ss, (size_t)ns, sizeof(*ss), by_size);
	if ((rc = mkdir(outdir, 0755)) < 0 && errno != EEXIST) {
		warn("%s", outdir);
		goto out;
	}
	if (mkdtemp(tmp) == NULL) {
		warn("%s", tmp);
		goto out;
	}
	snprintf(script, sizeof(script), "%s/plot.gp", tmp);
	snprintf(errpath, sizeof(errpath), "%s/gnuplot.err", tmp);
	if ((gp = fopen(script, "w")) == NULL) {
		warn("%s", script);
		goto out;
	}
	fprintf(gp, "set terminal pngcairo size %lld,%lld noenhanced "
		    "font 'Sans,10'\n", w, h);
	fprintf(gp, "set grid ytics\nset yrange [0:*]\n"
		    "set offsets 0, 0, graph 0.08, 0\n"
		    "set xlabel 'threads'\nset key top right\n");
	for (int i = 0; i < ns; i++) {
		const struct series *s = &ss[i];
		char path[PATH_MAX + 300], title[400], sz[32];
		double boxw;
		int outliers = write_series(tmp, i, s);

		if (outliers < 0) {
			warn("%s", tmp);
			goto out;
		}
		x_axis(gp, s, 1, &boxw);
		snprintf(path, sizeof(path), "%s/download-time-%s.png", outdir,
			 s->name);
		snprintf(title, sizeof(title), "Download time: %s (%s), %zu runs",
			 s->name, expdata_size_str(s->bytes, sz, sizeof(sz)),
			 s->d.n);
		fprintf(gp, "set output ");
		gp_str(gp, path);
		fprintf(gp, "\nset title ");
		gp_str(gp, title);
		fprintf(gp, "\nset ylabel 'seconds'\nset boxwidth %g absolute\n"
			    "set style fill solid 0.3 border\n", boxw);
		fprintf(gp, "plot '%s/%d.stats' using 1:3:2:6:5 with candlesticks "
			    "whiskerbars 0.5 lc rgb '#1f5fa8' lw 1.5 "
			    "title 'quartiles; whiskers 1.5 IQR', \\\n"
			    "  '' using 1:4:4:4:4 with candlesticks lc rgb "
			    "'#c0392b' lw 2.5 title 'median'",
			tmp, i);
		if (outliers > 0)
			fprintf(gp, ", \\\n  '%s/%d.out' using 1:2 with points "
				    "pt 6 ps 0.8 lc rgb '#333333' title 'outliers'",
				tmp, i);
		fprintf(gp, "\nprint ");
		gp_str(gp, path);
		fprintf(gp, "\n");
	}
	if (have_speedup) {
		char path[PATH_MAX + 32];
		double boxw;
		int first = 1;

		x_axis(gp, ss, ns, &boxw);
		snprintf(path, sizeof(path), "%s/speedup.png", outdir);
		fprintf(gp, "set output ");
		gp_str(gp, path);
		fprintf(gp, "\nset title 'Speedup over one thread (median "
			    "download time)'\nset ylabel 'speedup'\n"
			    "set key top left\n"
			    "plot x with lines dt 2 lc rgb '#888888' title 'ideal'");
		for (int i = 0; i < ns; i++) {
			char title[400], sz[32];

			if (ss[i].st[0].threads != 1 || ss[i].n < 2)
				continue;
			snprintf(title, sizeof(title), "%s (%s)", ss[i].name,
				 expdata_size_str(ss[i].bytes, sz, sizeof(sz)));
			fprintf(gp, ", \\\n  '%s/%d.stats' using 1:8 with "
				    "linespoints lw 2 pt 7 title ", tmp, i);
			gp_str(gp, title);
			first = 0;
		}
		(void)first;
		fprintf(gp, "\nprint ");
		gp_str(gp, path);
		fprintf(gp, "\n");
	} else {
		warnx("no file has runs with 1 thread and more: no speedup.png");
	}
	if (fclose(gp) != 0) {
		gp = NULL;
		warn("%s", script);
		goto out;
	}
	gp = NULL;

	/* gnuplot prints each file name to stderr as it finishes one. */
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		warn("fork");
		goto out;
	}
	if (pid == 0) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execlp("gnuplot", "gnuplot", script, (char *)NULL);
		dprintf(2, "gnuplot: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &rc, 0) < 0 && errno == EINTR)
		;
	{
		FILE *f = fopen(errpath, "r");
		char line[1024];
		int failed = !WIFEXITED(rc) || WEXITSTATUS(rc) != 0;

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
		if (WIFEXITED(rc) && WEXITSTATUS(rc) == 127)
			warnx("gnuplot not found (install gnuplot-nox, or run "
			      "scripts/deps)");
		else if (failed)
			warnx("gnuplot failed");
		else
			status = 0;
	}
out:
	if (gp != NULL)
		fclose(gp);
	if (strcmp(tmp, "/tmp/plot.XXXXXX") != 0)
		fsutil_remove_tree(tmp);
	for (int i = 0; i < ns; i++)
		expdata_free(&ss[i].d);
	free(ss);
	globfree(&g);
	if (fflush(stdout) != 0)
		status = 1;
	return status;
}
