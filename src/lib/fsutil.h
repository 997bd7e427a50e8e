/* SPDX-License-Identifier: ISC */
/* fsutil.h -- making and removing folder trees. */
#ifndef NT_FSUTIL_H
#define NT_FSUTIL_H

#include <sys/types.h>

/* Creates dir and its missing parents with mode (less the umask), like
 * mkdir -p. Returns 0 or -errno (from the first level that failed). */
int fs_mkdirs(const char *dir, mode_t mode);

/* Removes path and everything under it, as far as it can; no symlink is
 * followed. */
void fs_remove_tree(const char *path);

#endif
