/* SPDX-License-Identifier: ISC */
/* seed_accel_state.c -- writes the seed state files of fuzz_accel_state
 * with accel_plan_save(), so they follow the format wherever it goes:
 * seed_accel_state DIR. */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "accel_plan.h"

struct seed {
	const char *name;
	int64_t size;
	int n;
	int64_t done; /* bytes advanced in each range */
	const char *etag, *lastmod;
};

static const struct seed seeds[] = {
	{"empty", 0, 1, 0, "", ""},
	{"fresh", 1 << 20, 4, 0, "\"5f3a-12c4\"", ""},
	{"halfway", 1 << 20, 8, 50000, "", "Wed, 21 Oct 2015 07:28:00 GMT"},
	{"one-range", 100000, 1, 99999, "W/\"weak\"", ""},
	{"huge", INT64_MAX / 2, 16, 4096, "\"big\"",
	 "Thu, 01 Jan 1970 00:00:00 GMT"},
};

int
main(int argc, char **argv)
{
	if (argc != 2)
		errx(2, "usage: seed_accel_state DIR");
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		const struct seed *s = &seeds[i];
		struct accel_meta m;
		struct accel_plan *p;
		char path[4096];
		FILE *f;

		memset(&m, 0, sizeof(m));
		m.size = s->size;
		snprintf(m.url, sizeof(m.url), "http://127.0.0.1:8080/%s",
			 s->name);
		snprintf(m.etag, sizeof(m.etag), "%s", s->etag);
		snprintf(m.lastmod, sizeof(m.lastmod), "%s", s->lastmod);
		if ((p = accel_plan_new(s->size, s->n, 4096)) == NULL)
			err(1, "%s", s->name);
		for (int k = 0; k < accel_plan_count(p); k++) {
			const struct accel_range *r = accel_plan_range(p, k);
			int64_t adv = s->done < r->end - r->cur ?
					      s->done :
					      r->end - r->cur;

			accel_plan_advance(p, k, adv);
		}
		snprintf(path, sizeof(path), "%s/%s", argv[1], s->name);
		if ((f = fopen(path, "w")) == NULL)
			err(1, "%s", path);
		if (accel_plan_save(p, &m, f) < 0 || fclose(f) != 0)
			errx(1, "%s: cannot save", path);
		accel_plan_free(p);
	}
	return 0;
}
