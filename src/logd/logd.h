/* SPDX-License-Identifier: MIT */
#pragma once

/* grades-logd: the central log. Services POST their lines to /log; each
 * becomes one line of LOGS_DIRECTORY/central.log and stays in a bounded
 * memory of recent entries that GET /log queries.
 *
 *   entry.c   parsing requests into entries, escaping, the line format
 *   file.c    the central log file: append whole requests, reopen on SIGHUP
 *   recent.c  the ring of recent entries and its queries
 *   api.c     the HTTP routes
 *   main.c    run() */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "daemon.h"

#define LOG_MESSAGE_MAX        8192 /* longer messages are truncated, with a marker */
#define LOG_RECENT_MESSAGE_MAX 1024
#define LOG_SERVICE_UNKNOWN    "unknown"

struct logd_settings {
        struct conf_common common;
        uint64_t recent_lines;
};

struct log_entry {
        const char *service; /* valid service name */
        int priority;        /* 0-7 */
        const char *message; /* any bytes; escaped when written */
        size_t message_len;
};

struct central_file {
        char *path;
        int fd;
        uint64_t size; /* to cut a failed append back off */
        uint64_t n_lines;
};

struct recent_entry {
        int64_t time_ms; /* receive time, Unix epoch */
        int priority;
        char *service; /* owns the allocation message points into */
        char *message; /* escaped, at most LOG_RECENT_MESSAGE_MAX */
};

struct recent {
        struct recent_entry *ring;
        size_t capacity, head, n;
};

struct logd {
        struct logd_settings settings;
        struct daemon daemon;
        struct central_file file;
        struct recent recent;
        /* Lines of this turn of the loop, and the requests waiting for them. */
        struct buf batch;
        size_t batch_entries;
        h2o_linklist_t waiting;
        h2o_timeout_entry_t flush;
        int64_t time_ms; /* of time, the receive time last formatted */
        char time[32];
};

/* entry.c */
/* Escapes control characters, backslashes and invalid UTF-8 (as \n, \t,
 * \\, \xHH), so one entry is always one line; `extra` names more bytes to
 * escape (the service's closing bracket). */
void log_escape(struct buf *out, const char *s, size_t len, const char *extra);
/* "2026-11-25T12:21:08.123Z [GradingService] info: message\n" */
void log_format_line(struct buf *out, const char *time, const struct log_entry *e);
/* A text/plain body in the seed's "[Service] - message" form, or any text. */
void log_entry_from_text(const char *body, size_t len, struct log_entry *ret, char service[static 65]);
/* One JSON object; on failure a static reason. */
int log_entry_from_json(struct json_object *o, struct log_entry *ret, const char **ret_error);
int log_priority_from_json(struct json_object *v);

/* file.c */
int central_file_open(struct central_file *f, const char *dir);
int central_file_reopen(struct central_file *f);
/* Writes the whole buffer or nothing. */
int central_file_append(struct central_file *f, const char *data, size_t len);
void central_file_close(struct central_file *f);

/* recent.c */
int recent_init(struct recent *r, size_t capacity);
void recent_add(struct recent *r, int64_t time_ms, const struct log_entry *e);
/* Entries at or above priority (numerically <=), of service (or any), received
 * after since_ms, the newest `limit` of them, oldest first. */
struct json_object *recent_query(struct recent *r, const char *service, int priority, int64_t since_ms, size_t limit);
void recent_done(struct recent *r);
/* Forgets the n newest entries (a batch that could not be written). */
void recent_drop_newest(struct recent *r, size_t n);

/* api.c */
int logd_add_routes(struct logd *l);
/* Queues entries received at one time for the file and keeps them in memory;
 * logd_flush() writes them at the end of the loop's turn and answers the
 * requests that wait for them. */
void logd_batch_init(struct logd *l);
int logd_store(struct logd *l, const struct log_entry *entries, size_t n);
int logd_flush(struct logd *l);
