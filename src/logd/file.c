/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "logd.h"

#define CENTRAL_LOG "central.log"

static int open_fd(struct central_file *f) {
        struct stat st;
        int fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        f->size = (uint64_t) st.st_size;
        return fd;
}

int central_file_open(struct central_file *f, const char *dir) {
        int r;

        *f = (struct central_file){ .fd = -1 };
        if (asprintf(&f->path, "%s/" CENTRAL_LOG, dir) < 0)
                return -ENOMEM;
        if ((r = daemon_make_directory(dir)) < 0)
                return r;
        f->fd = open_fd(f);
        return f->fd < 0 ? f->fd : 0;
}

/* After logrotate renamed the file: continue in a new one. On failure the
 * old descriptor stays in use. */
int central_file_reopen(struct central_file *f) {
        uint64_t old_size = f->size;
        int fd = open_fd(f);

        if (fd < 0) {
                f->size = old_size;
                return fd;
        }
        close(f->fd);
        f->fd = fd;
        return 0;
}

int central_file_append(struct central_file *f, const char *data, size_t len) {
        for (size_t done = 0; done < len;) {
                ssize_t n = write(f->fd, data + done, len - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int r = n < 0 ? -errno : -EIO;
                        /* Nothing half-written stays: cut back to the last whole request. */
                        if (done > 0 && ftruncate(f->fd, (off_t) f->size) < 0) {
                                /* Cutting back failed too; the error is r either way. */
                        }
                        return r;
                }
                done += (size_t) n;
        }
        f->size += len;
        return 0;
}

void central_file_close(struct central_file *f) {
        if (f->fd >= 0)
                close(f->fd);
        free(f->path);
        *f = (struct central_file){ .fd = -1 };
}
