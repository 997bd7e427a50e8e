/* SPDX-License-Identifier: ISC */
/* urlname.h -- from a URL to a file name that is safe to create locally. */
#ifndef NT_URLNAME_H
#define NT_URLNAME_H

#include <stddef.h>

/* Longest name urlname_from_url() returns, in bytes (room is left for
 * suffixes such as ".part.state" or ".12345" within NAME_MAX). */
#define URLNAME_MAX 200

/*
 * The URL's last path segment, percent-decoded, with query and fragment
 * dropped, made safe: '/' and '\\' and control characters become '_',
 * leading dots are removed (no "..", no hidden or dot-only names), the
 * length is capped at URLNAME_MAX bytes on a UTF-8 character boundary, and
 * an empty result becomes "index.html". The result never names anything
 * outside the folder it is created in.
 * Returns a string the caller frees, or NULL with errno set (ENOMEM).
 */
char *urlname_from_url(const char *url);

/*
 * The file name a Content-Disposition value (what follows the colon)
 * offers: its filename* parameter (RFC 6266, RFC 8187: UTF-8 or
 * ISO-8859-1, percent-encoded; made UTF-8) when that one is usable, else
 * its filename parameter (a token or a quoted string). Only the part
 * after the last '/' or '\\' counts, and it is made safe by the rules of
 * urlname_from_url(): no '/', '\\' or control character, no leading dot,
 * at most URLNAME_MAX bytes, never outside the folder. A parameter with an
 * unterminated quote ends the parse; one with a bad percent escape or an
 * unknown charset is ignored. Returns a non-empty string the caller
 * frees, or NULL with errno ENOENT (no usable name) or ENOMEM.
 */
char *urlname_from_disposition(const char *value);

/*
 * urlname_from_disposition() of a header value as libcurl hands it over:
 * n bytes, not NUL-terminated, perhaps ending in CR LF. Returns a string
 * the caller frees, or NULL (no usable name, or no memory).
 */
char *urlname_from_header(const char *v, size_t n);

/*
 * Whether s is an absolute http:// or https:// URL with a non-empty host
 * and no whitespace or control characters. Returns 1 or 0.
 */
int urlname_is_http(const char *s);

/*
 * Where the credentials of url are: "user:password@" of
 * "scheme://user:password@host/...", at *off, *len bytes including the
 * '@'. Returns 1, or 0 when the URL has none.
 */
int urlname_userinfo(const char *url, size_t *off, size_t *len);

/*
 * The URL without its credentials, for anything kept or compared on
 * disk. Returns a string the caller frees, or NULL with errno ENOMEM.
 * urlname_strip_userinfo_to() writes it into out (size bytes, cut to
 * fit) instead, and returns its whole length.
 */
char *urlname_strip_userinfo(const char *url);
size_t urlname_strip_userinfo_to(const char *url, char *out, size_t size);

#endif
