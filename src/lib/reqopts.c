/* SPDX-License-Identifier: ISC */
/* reqopts.c -- the request options every libcurl handle of both engines
 * gets, and the checks of their values. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "reqopts.h"

/* Sets one string option when s is given; counts libcurl's refusals. */
static void
set_str(CURL *c, CURLoption opt, const char *s, int *bad)
{
	if (s != NULL && curl_easy_setopt(c, opt, s) != CURLE_OK)
		(*bad)++;
}

static void
set_long(CURL *c, CURLoption opt, long v, int *bad)
{
	if (curl_easy_setopt(c, opt, v) != CURLE_OK)
		(*bad)++;
}

/* Who the user is: -u, .netrc. libcurl sends them to the host of the
 * first URL only, never to another one a redirect leads to
 * (CURLOPT_UNRESTRICTED_AUTH stays off). */
static void
apply_auth(const struct reqopts *ro, CURL *c, int *bad)
{
	/* Basic, sent with the first request: asking first would double
	 * every range's requests. */
	if (ro->user != NULL) {
		set_str(c, CURLOPT_USERNAME, ro->user, bad);
		set_str(c, CURLOPT_PASSWORD,
			ro->password != NULL ? ro->password : "", bad);
	}
	if (ro->netrc || ro->netrc_file != NULL)
		set_long(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL, bad);
	set_str(c, CURLOPT_NETRC_FILE, ro->netrc_file, bad);
	set_str(c, CURLOPT_COOKIE, ro->cookie, bad);
	set_str(c, CURLOPT_COOKIEFILE, ro->cookie_file, bad);
}

static void
apply_tls(const struct reqopts *ro, CURL *c, int *bad)
{
	if (ro->insecure) {
		set_long(c, CURLOPT_SSL_VERIFYPEER, 0L, bad);
		set_long(c, CURLOPT_SSL_VERIFYHOST, 0L, bad);
	}
	set_str(c, CURLOPT_CAINFO, ro->cacert, bad);
	set_str(c, CURLOPT_CAPATH, ro->capath, bad);
	if (ro->cert != NULL) {
		set_str(c, CURLOPT_SSLCERT, ro->cert, bad);
		set_str(c, CURLOPT_SSLCERTTYPE, "PEM", bad);
	}
	if (ro->key != NULL) {
		set_str(c, CURLOPT_SSLKEY, ro->key, bad);
		set_str(c, CURLOPT_SSLKEYTYPE, "PEM", bad);
	}
}

int
reqopts_apply(const struct reqopts *ro, CURL *c)
{
	int bad = 0;

	if (ro == NULL)
		return 0;
	set_str(c, CURLOPT_USERAGENT, ro->user_agent, &bad);
	set_str(c, CURLOPT_REFERER, ro->referer, &bad);
	apply_auth(ro, c, &bad);
	apply_tls(ro, c, &bad);
	set_str(c, CURLOPT_PROXY, ro->proxy, &bad);
	set_str(c, CURLOPT_NOPROXY, ro->noproxy, &bad);
	if (ro->ipv == 4)
		set_long(c, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4, &bad);
	else if (ro->ipv == 6)
		set_long(c, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V6, &bad);
	return bad ? -EINVAL : 0;
}

int
reqopts_headers(const struct reqopts *ro, struct curl_slist **list)
{
	struct curl_slist *l;

	if (ro == NULL)
		return 0;
	for (int i = 0; i < ro->nheaders; i++) {
		if ((l = curl_slist_append(*list, ro->headers[i])) == NULL)
			return -ENOMEM;
		*list = l;
	}
	return 0;
}

int
reqopts_check_value(const char *v)
{
	if (v == NULL || strpbrk(v, "\r\n") != NULL)
		return -EINVAL;
	return 0;
}

int
reqopts_add_header(struct reqopts *ro, const char *h)
{
	/* RFC 9110 token characters. */
	static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "abcdefghijklmnopqrstuvwxyz";
	size_t n;

	if (h == NULL || reqopts_check_value(h) < 0)
		return -EINVAL;
	n = strspn(h, tchar);
	if (n == 0 || h[n] != ':')
		return -EINVAL;
	if (ro->nheaders >= REQOPTS_MAX_HEADERS)
		return -E2BIG;
	ro->headers[ro->nheaders++] = h;
	return 0;
}

int
reqopts_set_cookie(struct reqopts *ro, const char *v)
{
	if (v == NULL || *v == '\0' || reqopts_check_value(v) < 0)
		return -EINVAL;
	/* curl's rule: a string with '=' is the cookies themselves. */
	if (strchr(v, '=') != NULL)
		ro->cookie = v;
	else
		ro->cookie_file = v;
	return 0;
}

int
reqopts_check_proxy(const char *url)
{
	static const char *const schemes[] = {"http://", "https://",
					      "socks5://", "socks5h://"};
	size_t n;

	if (url == NULL || reqopts_check_value(url) < 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (strncasecmp(url, schemes[i], n) == 0)
			return url[n] != '\0' && url[n] != '/' ? 0 : -EINVAL;
	}
	return -EINVAL;
}
