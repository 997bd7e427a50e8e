/* SPDX-License-Identifier: ISC */
/* fsutil.h -- files and folders: trees made and removed, whole writes,
 * a file's SHA-256. */
#ifndef NT_FSUTIL_H
#define NT_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Creates dir and its missing parents with mode (less the umask), like
 * mkdir -p. Returns 0 or -errno (from the first level that failed). */
int fsutil_mkdirs(const char *dir, mode_t mode);

/* Removes path and everything under it, as far as it can; no symlink is
 * followed. */
void fsutil_remove_tree(const char *path);

/* Writes all n bytes of p to fd, resuming after short writes and EINTR:
 * at offset off (pwrite), or where the file offset is when off < 0.
 * Returns 0 or -errno. */
int fsutil_write_all(int fd, const void *p, size_t n, off_t off);

/* The SHA-256 of everything in the file fd (read from offset 0 with
 * pread, so the file offset is left alone) into md. Returns 0 or -errno
 * (-ENOMEM, -EIO for a digest failure). */
int fsutil_sha256(int fd, unsigned char md[32]);

/* The names in the folder dirfd that end in suffix, sorted by strcmp,
 * into *names (freed with fsutil_names_free) and their count into *n,
 * reading no more than max entries: a folder with more returns -E2BIG,
 * and the caller asks name by name instead. One pass over the folder
 * costs less than a lookup a name for a list of files (a lookup that
 * fails still walks the path and leaves a negative dentry). Returns 0 or
 * -errno. */
int fsutil_list_suffix(int dirfd, const char *suffix, size_t max, char ***names,
		       size_t *n);
/* Frees what fsutil_list_suffix gave. */
void fsutil_names_free(char **names, size_t n);
/* Whether name is among the n sorted names. */
int fsutil_names_has(char *const *names, size_t n, const char *name);

/* Whether a file can be made in the folder dirfd: makes one and removes
 * it. Returns 0 or -errno. */
int fsutil_probe_dir(int dirfd);

#endif
