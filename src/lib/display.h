/* SPDX-License-Identifier: ISC */
/* display.h -- text from the network or a file, made fit to show. */
#ifndef NT_DISPLAY_H
#define NT_DISPLAY_H

#include <stddef.h>

/*
 * Copies s into out (size >= 4) for a message or a log line: every byte a
 * terminal would act on becomes '?' (the C0 controls, DEL, the C1
 * controls U+0080 to U+009F, and bytes that are not well-formed UTF-8),
 * so a server's reason phrase cannot set a title or clear the screen;
 * other UTF-8 text is kept. A longer string is cut on a character
 * boundary and ends in "...". Returns out.
 */
char *display_text(const char *s, char *out, size_t size);

/*
 * display_text() of a URL without its password: "http://u:pw@h/x" is
 * shown as "http://u@h/x", so that a message still says which account
 * was used; "http://:pw@h/x" as "http://h/x". Returns out.
 */
char *display_url(const char *url, char *out, size_t size);

#endif
