/* SPDX-License-Identifier: ISC */
/* reqopts.h -- what every request carries (headers, credentials, cookies,
 * TLS, proxy, IP family), set on each libcurl handle the engines make. */
#ifndef NT_REQOPTS_H
#define NT_REQOPTS_H

#include <curl/curl.h>

/* Most -H headers one command line may give. */
#define REQOPTS_MAX_HEADERS 64

/*
 * All zero means libcurl's defaults (and the engine's user agent). The
 * strings are not copied: they must outlive every handle they are applied
 * to. Nothing here is ever printed by the library.
 */
struct reqopts {
	const char *headers[REQOPTS_MAX_HEADERS]; /* "Name: value"; "Name:"
						   * removes a default
						   * header */
	int nheaders;
	const char *user_agent;	 /* NULL: the engine's */
	const char *referer;	 /* NULL: none */
	const char *cookie;	 /* "a=b; c=d" data, or NULL */
	const char *cookie_file; /* Netscape cookie file to read, or NULL */
	const char *user;	 /* Basic/Digest user name, or NULL */
	const char *password;	 /* with user; NULL: empty */
	int netrc;		 /* 1: credentials from .netrc (optional) */
	const char *netrc_file;	 /* another .netrc; implies netrc */
	int insecure;		 /* 1: no peer or host name check (-k) */
	const char *cacert;	 /* CA bundle, or NULL for the system's */
	const char *capath;	 /* CA folder, or NULL */
	const char *cert;	 /* client certificate, PEM, or NULL */
	const char *key;	 /* its private key, PEM; NULL: in cert */
	const char *proxy;	 /* http://, https://, socks5h:// URL; NULL:
				  * the *_proxy environment variables */
	const char *noproxy;	 /* hosts never proxied, or NULL */
	int ipv;		 /* 4 or 6: only that family; 0: either */
};

/*
 * Sets every option of ro except the header list on c (CURLOPT_USERNAME,
 * CURLOPT_PROXY, ...). Call after the engine's own options, so that a
 * user agent given here wins. Returns 0, or -EINVAL when libcurl refused
 * one (a feature it was built without).
 */
int reqopts_apply(const struct reqopts *ro, CURL *c);

/*
 * Appends ro's headers to *list (which may start NULL), after the
 * engine's own, for CURLOPT_HTTPHEADER: an engine that sets its own
 * headers per request keeps one list with both. Returns 0, or -ENOMEM
 * (*list then holds what was appended; the caller frees it either way
 * with curl_slist_free_all()).
 */
int reqopts_headers(const struct reqopts *ro, struct curl_slist **list);

/*
 * Parsers of the values the options take, for the programs; each returns
 * 0 or -EINVAL, and stores into ro only on success.
 */
/* "Name: value" or "Name:" (a token, then ':'); no CR, LF or NUL. */
int reqopts_add_header(struct reqopts *ro, const char *h);
/* A value sent as is (user agent, referer, cookie): no CR or LF. */
int reqopts_check_value(const char *v);
/* -b: data when it has '=', else a cookie file. */
int reqopts_set_cookie(struct reqopts *ro, const char *v);
/* A proxy URL: http://, https://, socks5:// or socks5h://, with a host. */
int reqopts_check_proxy(const char *url);

#endif
