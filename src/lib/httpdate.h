/* SPDX-License-Identifier: ISC */
/* httpdate.h -- the time an HTTP date header names (Last-Modified,
 * Retry-After). */
#ifndef NT_HTTPDATE_H
#define NT_HTTPDATE_H

#include <time.h>

/*
 * Seconds since the epoch that the date s names, or -1 when s is no date.
 * The form servers send (RFC 9110's IMF-fixdate, "Sun, 06 Nov 1994
 * 08:49:37 GMT") is read here; any other (RFC 850, asctime, a lax one)
 * goes to curl_getdate(), whose answer it then is: both agree on every
 * input. libcurl's parser tries each form it knows with sscanf and costs
 * about 50 times this one's, once for every file of a list.
 */
time_t httpdate_parse(const char *s);

#endif
