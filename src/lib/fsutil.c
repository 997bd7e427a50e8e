/* SPDX-License-Identifier: ISC */
/* fsutil.c -- folder trees, whole writes, and a file's SHA-256. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fsutil.h"

int
fsutil_mkdirs(const char *dir, mode_t mode)
{
	char *p, *s;
	int rc = 0;

	if ((s = strdup(dir)) == NULL)
		return -ENOMEM;
	for (p = s + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(s, mode) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(s);
	return rc;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
fsutil_remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
fsutil_write_all(int fd, const void *p, size_t n, off_t off)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, c, n) : pwrite(fd, c, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

#define HASH_BUF (1 << 20)

int
fsutil_sha256(int fd, unsigned char md[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *buf = malloc(HASH_BUF);
	unsigned int len = 0;
	off_t off = 0;
	ssize_t n;
	int rc = -ENOMEM;

	if (ctx == NULL || buf == NULL)
		goto out;
	rc = -EIO;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = pread(fd, buf, HASH_BUF, off)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
			goto out;
		off += n;
	}
	if (EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32)
		rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
fsutil_list_suffix(int dirfd, const char *suffix, size_t max, char ***names,
		   size_t *n)
{
	size_t ls = strlen(suffix), cap = 0, seen = 0;
	char **v = NULL;
	struct dirent *e;
	DIR *d;
	int fd, rc = 0;

	*names = NULL;
	*n = 0;
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if ((d = fdopendir(fd)) == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (errno = 0; (e = readdir(d)) != NULL; errno = 0) {
		size_t l = strlen(e->d_name);

		if (++seen > max) {
			rc = -E2BIG;
			break;
		}
		if (l <= ls || memcmp(e->d_name + l - ls, suffix, ls) != 0)
			continue;
		if (*n == cap) {
			char **t = realloc(v, (cap = cap ? 2 * cap : 8) *
						      sizeof(*v));
			if (t == NULL) {
				rc = -ENOMEM;
				break;
			}
			v = t;
		}
		if ((v[*n] = strdup(e->d_name)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (rc == 0 && errno != 0)
		rc = -errno;
	closedir(d);
	if (rc < 0) {
		fsutil_names_free(v, *n);
		*n = 0;
		return rc;
	}
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_names);
	*names = v;
	return 0;
}

void
fsutil_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
fsutil_names_has(char *const *names, size_t n, const char *name)
{
	return n > 0 &&
	       bsearch(&name, names, n, sizeof(*names), cmp_names) != NULL;
}

int
fsutil_probe_dir(int dirfd)
{
	char name[64];
	int fd;

	for (unsigned i = 0;; i++) {
		snprintf(name, sizeof(name), ".probe.%ld.%u", (long)getpid(),
			 i);
		fd = openat(dirfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC,
			    0600);
		if (fd >= 0 || errno != EEXIST || i == 100)
			break;
	}
	if (fd < 0)
		return -errno;
	close(fd);
	unlinkat(dirfd, name, 0);
	return 0;
}
