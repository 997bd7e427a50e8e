/* SPDX-License-Identifier: ISC */
/* progress.c -- a one-line terminal progress bar with rate and ETA. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

#define REDRAW_EVERY 0.2 /* seconds */
#define RATE_WEIGHT  0.3 /* of the newest sample in the average */
#define BAR_WIDTH    20

struct progress {
	int fd;
	int drawn;
	double last_draw, last_t;
	int64_t last_done;
	double rate; /* smoothed bytes per second, -1 unknown */
};

struct progress *
progress_new(int fd)
{
	struct progress *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->fd = fd;
	p->rate = -1;
	p->last_draw = -1;
	return p;
}

void
progress_free(struct progress *p)
{
	free(p);
}

static void
human(char *buf, size_t len, double v)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (v >= 1024 && u < 4)
		v /= 1024, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

char *
progress_format(char *buf, size_t len, int64_t done, int64_t total, double rate,
		int conns)
{
	char d[32], t[32], r[32], eta[32], bar[BAR_WIDTH + 1];
	int pct = -1;

	human(d, sizeof(d), (double)done);
	if (total > 0) {
		pct = (int)(done * 100 / total);
		human(t, sizeof(t), (double)total);
	} else if (total == 0) {
		pct = 100;
		snprintf(t, sizeof(t), "0 B");
	} else {
		snprintf(t, sizeof(t), "?");
	}
	if (rate >= 0) {
		human(r, sizeof(r), rate);
		strcat(r, "/s");
	} else {
		snprintf(r, sizeof(r), "--");
	}
	if (rate > 0 && total > 0 && done <= total) {
		double s = (double)(total - done) / rate;

		if (s < 100 * 3600)
			snprintf(eta, sizeof(eta), "%d:%02d:%02d",
				 (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
		else
			snprintf(eta, sizeof(eta), "--:--:--");
	} else {
		snprintf(eta, sizeof(eta), "--:--:--");
	}
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = pct >= 0 && i < pct * BAR_WIDTH / 100 ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	if (pct >= 0)
		snprintf(buf, len, "%3d%% [%s] %s / %s  %s  ETA %s  %d conn%s",
			 pct, bar, d, t, r, eta, conns, conns == 1 ? "" : "s");
	else
		snprintf(buf, len, "     [%s] %s / %s  %s  %d conn%s", bar, d,
			 t, r, conns, conns == 1 ? "" : "s");
	return buf;
}

void
progress_update(struct progress *p, int64_t done, int64_t total, int conns,
		double elapsed)
{
	char line[160];
	int len;

	if (p->last_t > 0 && elapsed > p->last_t) {
		double inst =
			(double)(done - p->last_done) / (elapsed - p->last_t);

		p->rate = p->rate < 0 ? inst :
					RATE_WEIGHT * inst +
						(1 - RATE_WEIGHT) * p->rate;
	}
	if (elapsed > p->last_t) {
		p->last_t = elapsed;
		p->last_done = done;
	}
	if (p->last_draw >= 0 && elapsed - p->last_draw < REDRAW_EVERY &&
	    !(total >= 0 && done == total))
		return;
	p->last_draw = elapsed;
	line[0] = '\r';
	progress_format(line + 1, sizeof(line) - 5, done, total, p->rate,
			conns);
	/* Erase what a longer previous line left. */
	len = (int)strlen(line);
	memcpy(line + len, "\033[K", 4);
	len += 3;
	if (write(p->fd, line, (size_t)len) < 0) {
		/* A progress bar is not worth failing for. */
	}
	p->drawn = 1;
}

void
progress_end(struct progress *p)
{
	if (p->drawn && write(p->fd, "\n", 1) < 0) {
		/* as above */
	}
	p->drawn = 0;
}
