/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

#include "http.h"
#include "log.h"
#include "registry.h"

/* The registrations live in STATE_DIRECTORY/registry.json:
 *   {"Format": 1, "Services": [registration, ...]}
 * Every change marks the state dirty; at the end of the loop turn the whole
 * table is serialised and handed to a writer thread, which writes a temporary
 * file, fsyncs it and renames it over the old one, so a crash leaves either
 * the old or the new file, never a torn one. Changes made while a write runs
 * are coalesced into the next write. */

#define STATE_FILE   "registry.json"
#define STATE_FORMAT 1

static int write_atomically(const char *path, const char *tmp_path, const char *data, size_t len) {
        _cleanup_close_ int fd = -1, dir = -1;
        _cleanup_free_ char *dir_path = strdup(path);
        char *slash;

        if (!dir_path)
                return -ENOMEM;
        fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, data + done, len - done);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                done += (size_t) n;
        }
        if (fsync(fd) < 0 || rename(tmp_path, path) < 0)
                return -errno;
        /* Make the rename itself durable. */
        slash = strrchr(dir_path, '/');
        if (slash)
                *(slash == dir_path ? slash + 1 : slash) = '\0';
        dir = open(slash ? dir_path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir >= 0)
                (void) fsync(dir);
        return 0;
}

static void *writer_thread(void *userdata) {
        struct store *st = userdata;
        uint64_t one = 1;

        pthread_mutex_lock(&st->lock);
        for (;;) {
                while (!st->job && !st->quit)
                        pthread_cond_wait(&st->cond, &st->lock);
                if (!st->job)
                        break;
                char *job = st->job;
                size_t len = st->job_len;
                pthread_mutex_unlock(&st->lock);

                int r = write_atomically(st->path, st->tmp_path, job, len);

                pthread_mutex_lock(&st->lock);
                free(st->job);
                st->job = NULL;
                st->job_result = r;
                if (write(st->done_fd, &one, sizeof(one)) < 0) {
                        /* The eventfd cannot overflow with one write per job. */
                }
        }
        pthread_mutex_unlock(&st->lock);
        return NULL;
}

/* The entries' JSON, made once at registration, joined: no JSON tree of
 * the whole table is built for each write. */
static char *serialise(struct registry *r, size_t *ret_len) {
        struct buf out = { 0 };
        bool first = true;

        buf_appendf(&out, "{\"Format\":%d,\"Services\":[", STATE_FORMAT);
        for (h2o_linklist_t *l = r->table.all.next; l != &r->table.all; l = l->next) {
                struct entry *e = H2O_STRUCT_FROM_MEMBER(struct entry, link, l);
                /* Its own entry is made anew at each start, with its URL then. */
                if (e == r->self)
                        continue;
                if (!first)
                        buf_putc(&out, ',');
                buf_append(&out, e->json, e->json_len);
                first = false;
        }
        buf_append(&out, "]}", 2);
        if (out.failed) {
                buf_done(&out);
                return NULL;
        }
        *ret_len = out.len;
        return out.data;
}

static void start_write(struct registry *r) {
        struct store *st = &r->store;
        size_t len;
        char *data;

        if (st->writing || !st->dirty)
                return;
        data = serialise(r, &len);
        if (!data) {
                log_warning("Out of memory serialising the state; will retry.");
                (void) timer_start(r->timers, &st->flush, 1000);
                return;
        }
        st->dirty = false;
        st->writing = true;
        pthread_mutex_lock(&st->lock);
        st->job = data;
        st->job_len = len;
        pthread_cond_signal(&st->cond);
        pthread_mutex_unlock(&st->lock);
}

static void on_written(h2o_socket_t *sock, const char *err) {
        struct registry *r = sock->data;
        struct store *st = &r->store;
        uint64_t n;
        int result;

        if (read(st->done_fd, &n, sizeof(n)) < 0)
                return;
        pthread_mutex_lock(&st->lock);
        result = st->job_result;
        pthread_mutex_unlock(&st->lock);
        st->writing = false;
        st->n_writes++;
        if (result < 0) {
                log_error_errno(result, "Failed to write %s: %m", st->path);
                st->dirty = true;
                (void) timer_start(r->timers, &st->flush, 1000);
                return;
        }
        start_write(r);
}

static void on_flush(struct timer *t) {
        start_write(H2O_STRUCT_FROM_MEMBER(struct registry, store.flush, t));
}

void store_changed(struct registry *r) {
        r->store.dirty = true;
        /* Zero delay: runs after every change of this loop turn is made. */
        if (!r->store.writing && !timer_pending(&r->store.flush))
                (void) timer_start(r->timers, &r->store.flush, 0);
}

int store_open(struct registry *r) {
        struct store *st = &r->store;
        const char *dir = r->settings.common.state_directory;
        int e;
        int ret;

        st->registry = r;
        st->done_fd = -1;
        timer_init(&st->flush, on_flush);
        pthread_mutex_init(&st->lock, NULL);
        pthread_cond_init(&st->cond, NULL);
        if (asprintf(&st->path, "%s/" STATE_FILE, dir) < 0 ||
            asprintf(&st->tmp_path, "%s/." STATE_FILE ".tmp", dir) < 0)
                return -ENOMEM;
        if ((ret = daemon_make_directory(dir)) < 0)
                return ret;
        st->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (st->done_fd < 0)
                return -errno;
        st->done_sock = h2o_evloop_socket_create(r->daemon.server.ctx.loop, st->done_fd, H2O_SOCKET_FLAG_DONT_READ);
        st->done_sock->data = r;
        h2o_socket_read_start(st->done_sock, on_written);
        e = pthread_create(&st->thread, NULL, writer_thread, st);
        if (e != 0)
                return -e;
        st->thread_started = true;
        return 0;
}

static int load_entry(struct registry *r, struct json_object *o) {
        struct registration reg;
        struct entry *e;
        const char *error;

        if (registration_from_json(o, &reg, &error) < 0) {
                log_error("Invalid registration in %s: %s", r->store.path, error);
                return -EINVAL;
        }
        if (table_find(&r->table, reg.url)) {
                registration_done(&reg);
                return 0;
        }
        return registry_add_entry(r, &reg, &e);
}

static int read_file(const char *path, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *data = NULL;
        struct stat stbuf;
        size_t len;

        if (fd < 0 || fstat(fd, &stbuf) < 0)
                return -errno;
        len = (size_t) stbuf.st_size;
        data = malloc(len + 1);
        if (!data)
                return -ENOMEM;
        for (size_t done = 0; done < len;) {
                ssize_t n = read(fd, data + done, len - done);
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                done += (size_t) n;
        }
        data[len] = '\0';
        *ret = TAKE_PTR(data);
        *ret_len = len;
        return 0;
}

int store_load(struct registry *r) {
        _cleanup_free_ char *data = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *services, *format;
        const char *error;
        size_t len = 0;
        int e;

        e = read_file(r->store.path, &data, &len);
        if (e == -ENOENT)
                return 0;
        if (e < 0)
                return log_error_errno(e, "Failed to read %s: %m", r->store.path);
        if (json_parse_strict(data, len, &o, &error) < 0)
                return log_error_errno(EINVAL, "State file %s is damaged (%s); move it away to start empty.",
                                       r->store.path, error);
        format = json_get(o, "Format");
        services = json_get(o, "Services");
        if (!format || json_object_get_int(format) != STATE_FORMAT || !services ||
            !json_object_is_type(services, json_type_array))
                return log_error_errno(EINVAL, "State file %s has an unknown format.", r->store.path);
        for (size_t i = 0; i < json_object_array_length(services); i++)
                if ((e = load_entry(r, json_object_array_get_idx(services, i))) < 0)
                        return e;
        log_info("Loaded %zu registrations from %s.", r->table.n, r->store.path);
        return 0;
}

int store_close(struct registry *r) {
        struct store *st = &r->store;
        int ret = 0;

        if (st->thread_started) {
                /* Let a write in flight finish, then stop the thread. */
                pthread_mutex_lock(&st->lock);
                st->quit = true;
                pthread_cond_signal(&st->cond);
                pthread_mutex_unlock(&st->lock);
                pthread_join(st->thread, NULL);
                st->thread_started = false;
                free(st->job);
                st->job = NULL;
                if (st->writing && st->job_result < 0)
                        st->dirty = true;
                st->writing = false;
        }
        timer_stop(r->timers, &st->flush);
        if (st->dirty && st->path) {
                size_t len;
                _cleanup_free_ char *data = serialise(r, &len);
                ret = data ? write_atomically(st->path, st->tmp_path, data, len) : -ENOMEM;
                if (ret < 0)
                        log_error_errno(ret, "Failed to write %s: %m", st->path);
                else
                        st->dirty = false;
        }
        if (st->done_sock)
                h2o_socket_close(st->done_sock);
        st->done_sock = NULL;
        if (st->registry) {
                pthread_mutex_destroy(&st->lock);
                pthread_cond_destroy(&st->cond);
        }
        free(st->path);
        free(st->tmp_path);
        st->path = st->tmp_path = NULL;
        return ret;
}
