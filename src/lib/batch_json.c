/* SPDX-License-Identifier: ISC */
/* batch_json.c -- the --json events of a batch, and its counts. */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "display.h"
#include "jsonout.h"
#include "mtime.h"

#define URL_SHOWN 2048

void
batch_tally(struct batch *b, struct batch_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < batch_count(b); i++) {
		const struct batch_item *it = batch_item(b, i);

		switch (it->state) {
		case BATCH_SAVED:
			c->saved++;
			c->not_modified += it->res.not_modified != 0;
			c->bytes += it->res.bytes;
			break;
		case BATCH_SKIPPED:
			c->skipped++;
			break;
		case BATCH_PENDING:
			c->pending++;
			break;
		default:
			c->failed++;
			break;
		}
	}
}

/* "start": once, when the size is known (or the file ended). */
static void
json_start(struct jsonout *j, struct batch_item *it)
{
	char u[URL_SHOWN];

	if (it->json_started)
		return;
	it->json_started = 1;
	it->json_at = mtime_now();
	it->json_done = it->done;
	jsonout_event(j, "start", "s:url", display_url(it->url, u, sizeof(u)),
		      "s:name", it->path, "I:size", it->size, "i:connections",
		      it->conns, NULL);
}

void
batch_json_progress(struct jsonout *j, struct batch_item *it)
{
	double now;

	if (j == NULL || it->size < 0)
		return;
	now = mtime_now();
	if (!it->json_started)
		json_start(j, it);
	if (it->target > 0 && it->target != it->json_target) {
		it->json_target = it->target;
		jsonout_event(j, "connections", "s:name", it->path,
			      "i:connections", it->target, "s:reason",
			      it->target_why != NULL ? it->target_why : "",
			      "f:seconds", it->elapsed, NULL);
	}
	if (now - it->json_at < 1.0)
		return;
	jsonout_event(j, "progress", "s:name", it->path, "I:bytes", it->done,
		      "I:size", it->size, "f:rate",
		      (double)(it->done - it->json_done) / (now - it->json_at),
		      "i:connections", it->conns, NULL);
	it->json_at = now;
	it->json_done = it->done;
}

/* The path of the saved file: a Content-Disposition name replaces the
 * last part of the item's path. */
static const char *
saved_path(const struct batch_item *it, char *buf, size_t size)
{
	const char *slash = strrchr(it->path, '/');

	if (it->res.name[0] == '\0')
		return it->path;
	snprintf(buf, size, "%.*s%s", slash ? (int)(slash + 1 - it->path) : 0,
		 it->path, it->res.name);
	return buf;
}

void
batch_json_done(struct jsonout *j, struct batch_item *it)
{
	const struct accel_result *r = &it->res;
	char u[URL_SHOWN], p[4096];

	if (j == NULL)
		return;
	display_url(it->url, u, sizeof(u));
	if (it->state == BATCH_SKIPPED) {
		jsonout_event(j, "skipped", "s:url", u, "s:name", it->path,
			      "s:reason", it->why, NULL);
	} else if (it->state != BATCH_SAVED) {
		jsonout_event(j, "failed", "s:url", u, "s:name", it->path,
			      "s:reason",
			      it->state == BATCH_INTERRUPTED ? "interrupted" :
							       r->errmsg,
			      "b:kept", r->kept, NULL);
	} else {
		if (it->size < 0)
			it->size = r->bytes;
		/* -N: nothing was fetched, so nothing started. */
		if (!r->not_modified)
			json_start(j, it);
		jsonout_event(j, "done", "s:url", u, "s:name",
			      saved_path(it, p, sizeof(p)), "I:bytes",
			      (long long)r->bytes, "I:resumed_from",
			      (long long)r->resumed_from, "f:seconds",
			      r->seconds, "i:connections", r->conns_max,
			      "b:not_modified", r->not_modified, "h:sha256",
			      it->has_sha256 ? it->sha256 : NULL, NULL);
	}
}

void
batch_json_summary(struct jsonout *j, struct batch *b, long nbad,
		   double seconds, int interrupted)
{
	struct batch_counts c;

	if (j == NULL)
		return;
	batch_tally(b, &c);
	jsonout_event(j, "summary", "I:files", (long long)batch_count(b),
		      "I:done", (long long)c.saved, "I:not_modified",
		      (long long)c.not_modified, "I:skipped",
		      (long long)c.skipped, "I:failed", (long long)c.failed,
		      "I:not_started", (long long)c.pending, "I:bad_lines",
		      (long long)nbad, "I:bytes", c.bytes, "f:seconds", seconds,
		      "b:interrupted", interrupted, NULL);
}
