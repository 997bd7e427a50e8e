/* SPDX-License-Identifier: ISC */
/* thread-hello.c -- N threads each greet with their number and kernel tid. */
#include <err.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_THREADS 100000L

struct hello {
	pthread_t thread;
	long number;
	long total;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: thread-hello [-n N]\n"
		"Starts N threads (default 10, at most %ld); each prints\n"
		"\"Hello from thread K of N (tid T)\". All are joined before "
		"exit.\n"
		"\n"
		"  -n, --threads N  number of threads\n"
		"  -h, --help       this help\n"
		"      --version    print the version\n",
		MAX_THREADS);
}

static void *
greet(void *arg)
{
	struct hello *h = arg;

	/* One printf per line: stdio locks the stream for the whole call,
	 * so lines never interleave mid-line. */
	printf("Hello from thread %ld of %ld (tid %ld)\n", h->number, h->total,
	       (long)gettid());
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"threads", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct hello *hs;
	pthread_attr_t attr;
	long long n = 10;
	long started;
	int c, rc, status = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			n = cli_long_arg(optarg, 1, MAX_THREADS,
					 "thread count (1 to 100000)");
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			cli_version();
		default:
			cli_bad_option(argv, "n:h");
		}
	}
	cli_no_operands(argc, argv, usage);
	if ((hs = calloc((size_t)n, sizeof(*hs))) == NULL)
		err(1, "calloc");
	/* Greeting needs little stack; small stacks let many threads fit. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (started = 0; started < n; started++) {
		hs[started].number = started + 1;
		hs[started].total = (long)n;
		rc = pthread_create(&hs[started].thread, &attr, greet,
				    &hs[started]);
		if (rc != 0) {
			/* Say it after the greetings already queued. */
			fflush(stdout);
			warnx("started %ld of %lld threads: %s", started, n,
			      strerror(rc));
			status = 1;
			break;
		}
	}
	pthread_attr_destroy(&attr);
	for (long i = 0; i < started; i++)
		pthread_join(hs[i].thread, NULL);
	free(hs);
	if (fflush(stdout) != 0 || ferror(stdout))
		err(1, "stdout");
	return status;
}
