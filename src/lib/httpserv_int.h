/* httpserv_int.h -- what the files of the httpserv module share. */
#ifndef NT_HTTPSERV_INT_H
#define NT_HTTPSERV_INT_H

#include <stddef.h>

/* The faults one request asks for (see httpserv.h). */
struct fault {
	int status, retry;
	long long cut;		/* -1: none */
	int cut_rand, rst;
	unsigned long long seed;
	double stall;
	long long stall_at;	/* -1: half the body */
	int norange, badrange, nohead, chunked, novalidator, close;
	int change;		/* 0 none, 1 every request, 2 after N */
	long long change_after;
	long long redirect;	/* -1: none */
	unsigned long rate;
	long long times;	/* -1: always */
};

struct req {
	char *method, *target, *range, *if_range, *connection;
	int minor, host, body;
};

enum { RANGE_NONE, RANGE_OK, RANGE_UNSAT };

/* httpserv_parse.c: requests. */

/* Reads a decimal count at p, setting *end past it; -1 if there is none
 * or it overflows. */
long long httpserv__parse_count(const char *p, const char **end);

/* Does the comma-separated header value v hold token t? */
int httpserv__has_token(const char *v, const char *t);

/* Splits a request head (NUL-terminated, parsed in place: r points into
 * it) into r. 0, or -1 when it is not a well-formed HTTP/1.x head. */
int httpserv__parse_head(char *head, struct req *r);

/*
 * Reads a Range value against a file of size bytes: RANGE_OK with the
 * first and last byte, RANGE_UNSAT for a well-formed range outside the
 * file, RANGE_NONE for anything else (serve the whole file).
 */
int httpserv__parse_range(const char *v, long long size, long long *first,
			  long long *last);

/* Decodes %XX escapes of inlen bytes of a path into out (size len,
 * NUL-terminated). 0, or -1 for a bad escape, a NUL or no room. */
int httpserv__path_decode(const char *in, size_t inlen, char *out,
			  size_t len);

/* 1 when the decoded path holds a ".." segment. */
int httpserv__path_escapes(const char *p);

/* httpserv_fault.c: the /fault/SPEC/ paths. */

/* No fault at all. */
void httpserv__fault_init(struct fault *f);

/* Parses SPEC (len bytes, not NUL-terminated) into f. 0, or -1 for an
 * unknown item or a bad value. */
int httpserv__fault_parse(const char *spec, size_t len, struct fault *f);

/* The Location of the next hop of a redirect: /fault/SPEC/rest with
 * redirect=left (dropped at 0), into out (size len). */
void httpserv__redirect_location(const char *spec, size_t slen,
				 long long left, const char *rest, char *out,
				 size_t len);

#endif
