/* SPDX-License-Identifier: ISC */
/* accel_file.c -- a download's files: its folder, NAME.part and its lock,
 * the state file, the final rename; and the record of its first error. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include <curl/curl.h>

#include "accel_int.h"
#include "display.h"
#include "fsutil.h"
#include "httpdate.h"
#include "urlname.h"

void
accel__err(struct accel *a, int rc, const char *url, const char *fmt, ...)
{
	char msg[sizeof(a->res->errmsg)], u[SHOWN_URL];
	va_list ap;

	if (a->fatal)
		return;
	a->fatal = rc;
	/* Messages carry a server's words (a reason phrase, an ETag): they
	 * leave the library printable, and URLs without a password. Without
	 * memory for the URL, the message goes alone. */
	free(a->res->errurl);
	a->res->errurl = strdup(display_url(url, u, sizeof(u)));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	display_text(msg, a->res->errmsg, sizeof(a->res->errmsg));
}

void
accel__warn(struct accel *a, const char *fmt, ...)
{
	char msg[512], shown[512];
	va_list ap;

	if (a->o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->o->warn(display_text(msg, shown, sizeof(shown)), a->o->arg);
}

void
accel__why(struct accel_conn *c, enum accel_fail f, const char *fmt, ...)
{
	va_list ap;

	c->fail = f;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/*
 * The folder of opts->path, opened once: every file is then created and
 * renamed relative to it, so no symlink on the way to it is followed
 * twice, and NAME.part and its state are opened with O_NOFOLLOW. Returns
 * 0 or the error recorded (a->fatal).
 */
int
accel__open_folder(struct accel *a)
{
	const char *path = a->o->path, *slash = strrchr(path, '/');
	size_t n = strlen(path),
	       off = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	char *dir = NULL;

	/* The five names in one block (a->part owns it): PATH.part,
	 * PATH.part.state and NAME, with NAME.part and NAME.part.state the
	 * ends of the first two. */
	if ((a->part = malloc(3 * n - off + sizeof(".part") +
			      sizeof(".part.state") + 1)) == NULL) {
		accel__err(a, -ENOMEM, path, "%s", strerror(ENOMEM));
		return a->fatal;
	}
	memcpy(a->part, path, n);
	memcpy(a->part + n, ".part", sizeof(".part"));
	a->state = a->part + n + sizeof(".part");
	memcpy(a->state, path, n);
	memcpy(a->state + n, ".part.state", sizeof(".part.state"));
	a->final_name = a->state + n + sizeof(".part.state");
	memcpy(a->final_name, path + off, n - off + 1);
	a->part_name = a->part + off;
	a->state_name = a->state + off;
	if (a->o->folder_fd > 0) {
		a->dirfd = a->o->folder_fd;
	} else if ((dir = slash == NULL ? strdup(".") :
			  slash == path ? strdup("/") :
					  strndup(path, off - 1)) == NULL) {
		accel__err(a, -ENOMEM, path, "%s", strerror(ENOMEM));
		return a->fatal;
	} else if ((a->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) <
		   0) {
		accel__err(a, -errno, dir, "%s", strerror(errno));
	}
	if (a->dirfd >= 0 &&
	    (a->final_name[0] == '\0' || strcmp(a->final_name, ".") == 0 ||
	     strcmp(a->final_name, "..") == 0))
		accel__err(a, -EISDIR, path, "names a folder, not a file");
	free(dir);
	return a->fatal;
}

/* Reads NAME.part.state for -c. Returns 0 (a->saved set, or not when
 * there is nothing to resume) or the error recorded (a->fatal). */
int
accel__load_state(struct accel *a)
{
	int fd = openat(a->dirfd, a->state_name,
			O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	int64_t first = -1;
	char *url;

	if (f == NULL && fd >= 0)
		close(fd);
	if (f == NULL) {
		if (errno != ENOENT) {
			accel__err(a, -errno, a->state, "%s", strerror(errno));
			return a->fatal;
		}
		accel__warn(a,
			    "%s: no saved state; starting from the beginning",
			    a->state);
		return 0;
	}
	a->saved = accel_plan_load(f, &a->meta, MIN_PIECE);
	fclose(f);
	if (a->saved == NULL) {
		accel__err(a, -EINVAL, a->state,
			   "not a valid state file "
			   "(cut, edited or from another version); remove it "
			   "and %s to start over",
			   a->part);
		return a->fatal;
	}
	if ((url = urlname_strip_userinfo(a->o->urls[0])) == NULL) {
		accel__err(a, -ENOMEM, a->state, "%s", strerror(ENOMEM));
		return a->fatal;
	}
	if (strcmp(url, a->meta.url) != 0) {
		accel__err(a, -ESTALE, a->state,
			   "made for %s, not this URL; "
			   "remove it and %s to start over",
			   a->meta.url, a->part);
		free(url);
		return a->fatal;
	}
	free(url);
	a->state_stands = 1;
	for (int i = 0; i < accel_plan_count(a->saved); i++) {
		const struct accel_range *r = accel_plan_range(a->saved, i);

		if (r->cur < r->end && (first < 0 || r->cur < first))
			first = r->cur;
	}
	a->probe_at = first < 0 ? 0 : first;
	a->res->resumed_from = accel_plan_done_bytes(a->saved);
	return 0;
}

int
accel__save_state(struct accel *a)
{
	/* The data first: the state must never describe bytes that are
	 * not yet on disk. */
	int rc;

	for (int i = 0; i < a->ninit; i++)
		accel__flush(a, &a->conns[i]);
	if (a->write_lost)
		return -EIO;
	if (!a->part_sized && a->meta.size > 0) {
		if (ftruncate(a->fd, a->meta.size) < 0)
			return -errno;
		a->part_sized = 1;
	}
	if (fdatasync(a->fd) < 0)
		return -errno;
	if ((rc = accel_plan_store(a->plan, &a->meta, a->dirfd,
				   a->state_name)) == 0)
		a->state_stands = 1;
	return rc;
}

/* --checksum: the file as written against the digest asked for. */
static int
check_sha256(struct accel *a)
{
	unsigned char md[32];
	char hex[65];
	int rc;

	if ((rc = fsutil_sha256(a->fd, md)) < 0)
		return rc;
	if (memcmp(md, a->o->sha256, 32) == 0)
		return 0;
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	accel__err(a, -EBADMSG, a->o->urls[0], "sha256 mismatch: got %s", hex);
	return -EBADMSG;
}

/* NAME.part and its state go: they hold nothing worth resuming. */
static void
remove_part(struct accel *a)
{
	unlinkat(a->dirfd, a->part_name, 0);
	unlinkat(a->dirfd, a->state_name, 0);
	a->state_stands = 0;
}

/*
 * NAME.part becomes base, or the first of base.1, base.2, ... that does
 * not exist: never replacing anything, not even a symlink. The name goes
 * into res->name. Returns 0 or -errno.
 */
static int
rename_new(struct accel *a, const char *base)
{
	char *cand = a->res->name;
	size_t size = sizeof(a->res->name);
	int rc = -EEXIST;

	for (unsigned long k = 0; k < 1000 && rc == -EEXIST; k++) {
		if (k == 0)
			snprintf(cand, size, "%s", base);
		else
			snprintf(cand, size, "%s.%lu", base, k);
		/* A name promised to another download of the run. */
		if (a->o->taken != NULL && a->o->taken(cand, a->o->taken_arg))
			continue;
		rc = renameat2(a->dirfd, a->part_name, a->dirfd, cand,
			       RENAME_NOREPLACE) < 0 ?
			     -errno :
			     0;
		/* A file system without it: a link fails when the name
		 * exists, too. */
		if (rc == -EINVAL && (rc = linkat(a->dirfd, a->part_name,
						  a->dirfd, cand, 0) < 0 ?
						   -errno :
						   0) == 0)
			unlinkat(a->dirfd, a->part_name, 0);
	}
	return rc;
}

/* The download is whole: check, make durable, give it its name. */
int
accel__finish(struct accel *a)
{
	struct timespec ts[2] = {{0, 0}, {0, 0}};
	int rc;

	if (a->o->sha256 != NULL && (rc = check_sha256(a)) < 0) {
		if (rc != -EBADMSG)
			accel__err(a, rc, a->part, "read: %s", strerror(-rc));
		remove_part(a);
		return rc;
	}
	/* The server's time, as wget gives it: -N compares it next time. */
	if (a->meta.lastmod[0] != '\0' &&
	    (ts[1].tv_sec = httpdate_parse(a->meta.lastmod)) >= 0) {
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1].tv_nsec = 0;
		futimens(a->fd, ts);
	}
	if (fdatasync(a->fd) < 0) {
		rc = -errno;
		accel__err(a, rc, a->part, "%s", strerror(errno));
		return rc;
	}
	if (a->cd_name != NULL && strcmp(a->cd_name, a->final_name) != 0) {
		if ((rc = rename_new(a, a->cd_name)) < 0) {
			accel__err(a, rc, a->cd_name, "%s", strerror(-rc));
			return rc;
		}
	} else if (renameat(a->dirfd, a->part_name, a->dirfd, a->final_name) <
		   0) {
		rc = -errno;
		accel__err(a, rc, a->o->path, "%s", strerror(errno));
		return rc;
	} else {
		snprintf(a->res->name, sizeof(a->res->name), "%s",
			 a->final_name);
	}
	/* A fresh download removed any older state when it opened
	 * NAME.part: only one this download wrote or read is there. */
	if (a->state_stands)
		unlinkat(a->dirfd, a->state_name, 0);
	return 0;
}

/* A run that stops short: what is on disk stays usable for -c, or goes.
 * Only the holder of NAME.part's lock (a->fd) touches it. */
void
accel__keep_or_remove(struct accel *a)
{
	int rc;

	if (a->fd < 0)
		return;
	if (a->mode == ACCEL_M_RANGES && a->fatal != -ESTALE) {
		if ((rc = accel__save_state(a)) < 0 && a->fatal == -EINTR) {
			a->fatal = 0;
			accel__err(a, rc, a->state, "%s", strerror(-rc));
		}
		/* An older state still describes bytes that are on disk. */
		if (a->state_stands) {
			a->res->kept = 1;
			return;
		}
	}
	/* A file that changed, a stream without ranges, a .part no state
	 * describes: nothing a resume could use. A resumed .part of an
	 * earlier run stays, unless the server's file changed. */
	if (a->part_mine || a->fatal == -ESTALE)
		remove_part(a);
}

/*
 * Opens NAME.part in the folder, never through a symlink, and locks it
 * before anything changes it: a second download into the same name loses
 * the lock and leaves the first one's file as it was. fresh: created when
 * missing. Returns the descriptor, or -errno (-EBUSY: another download
 * holds it; -ELOOP: a symlink; -EINVAL: not a regular file; -EEXIST: an
 * earlier run's, see no_old_state).
 */
static int
lock_part(struct accel *a, int fresh)
{
	int base = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	struct stat st, now;
	int fd = -1;

	for (int tries = 0; tries < 4; tries++) {
		int made = 0;

		if (fd >= 0)
			close(fd);
		/* Fresh: most often there is none yet, so make it first. */
		fd = fresh ? openat(a->dirfd, a->part_name,
				    base | O_CREAT | O_EXCL, 0644) :
			     -1;
		made = fd >= 0;
		if (fd < 0 && (!fresh || errno == EEXIST))
			fd = openat(a->dirfd, a->part_name, base);
		if (fd < 0 && errno == ENOENT && fresh)
			continue; /* removed between the two */
		if (fd < 0)
			return -errno;
		if (made) {
			/* Made just now: a regular file, empty. A run that
			 * opened it since finds it locked, or locked it
			 * first; only a run holding the lock renames it. */
			a->part_empty = 1;
			if (flock(fd, LOCK_EX | LOCK_NB) == 0)
				return fd;
			close(fd);
			return -EBUSY;
		}
		if (fstat(fd, &st) < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			return -EINVAL;
		}
		a->part_empty = st.st_size == 0;
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;

			close(fd);
			return e == EWOULDBLOCK ? -EBUSY : -e;
		}
		/* The name may have moved on while we waited (renamed into
		 * place by the run that held it): lock what it names now. */
		if (fstatat(a->dirfd, a->part_name, &now,
			    AT_SYMLINK_NOFOLLOW) != 0 ||
		    now.st_ino != st.st_ino || now.st_dev != st.st_dev)
			continue;
		/* Unlocked, with a state the caller did not see: an earlier
		 * run's partial file, for a resume to take (a live run's
		 * lost the lock above). */
		if (fresh && a->o->no_old_state &&
		    fstatat(a->dirfd, a->state_name, &now,
			    AT_SYMLINK_NOFOLLOW) == 0) {
			close(fd);
			return -EEXIST;
		}
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return -EBUSY;
}

int
accel__open_part(struct accel *a, int64_t size, int fresh)
{
	struct stat st;
	int fd;

	/* A streamed download that restarts keeps its locked file. */
	if (a->fd < 0) {
		if ((fd = lock_part(a, fresh)) < 0)
			return fd;
		/* O_NONBLOCK only mattered for opening a planted FIFO: on
		 * a regular file it changes nothing. */
		a->fd = fd;
	}
	if (!fresh) {
		if (fstat(a->fd, &st) < 0)
			return -errno;
		if (st.st_size != size)
			return -ESTALE;
		return 0;
	}
	/* A state file of an earlier run no longer describes it. */
	a->part_mine = 1;
	if (!a->o->no_old_state && unlinkat(a->dirfd, a->state_name, 0) < 0 &&
	    errno != ENOENT)
		return -errno;
	if (!a->part_empty && ftruncate(a->fd, 0) < 0)
		return -errno;
	if (size > 0) {
		struct statfs fs;

		/*
		 * Reserve the blocks now: the file is laid out in one piece
		 * and a full disk shows at once, not mid-download. Not on
		 * tmpfs, where it would only zero the whole file in memory
		 * before the first byte (about 0.1 s a GiB), nor where the
		 * file system cannot (glibc's posix_fallocate would then
		 * write every block), nor for a small file, which is one
		 * piece anyway: a sparse file of the right size.
		 */
		int prealloc = size >= PREALLOC_MIN &&
			       fstatfs(a->fd, &fs) == 0 &&
			       fs.f_type != TMPFS_MAGIC;

		if (prealloc && fallocate(a->fd, 0, 0, size) == 0)
			return 0;
		if (prealloc && errno != EOPNOTSUPP && errno != ENOSYS)
			return -errno; /* ENOSPC: said now, not later */
		/* A small file is sized when its first state is saved (a
		 * resume checks the size), if it is not whole by then. */
		if (size >= PREALLOC_MIN && ftruncate(a->fd, size) < 0)
			return -errno;
		a->part_sized = size >= PREALLOC_MIN;
	}
	return 0;
}
