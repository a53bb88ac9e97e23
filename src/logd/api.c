/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "log.h"
#include "logd.h"

#define QUERY_LIMIT_DEFAULT 100
#define QUERY_LIMIT_MAX     1000

/* A request whose lines wait in the batch; it lives in the request's pool,
 * and leaves the waiting list if the client goes away first. */
struct waiting {
        h2o_linklist_t link;
        h2o_req_t *req;
};

static void on_waiting_disposed(void *p) {
        struct waiting *w = p;
        if (h2o_linklist_is_linked(&w->link))
                h2o_linklist_unlink(&w->link);
}

/* Every request of one turn of the event loop is written with one write(),
 * after which each gets its answer: the 200 still comes only once its lines
 * are in the file, at a fraction of the system calls. */
int logd_flush(struct logd *l) {
        struct buf batch = l->batch;
        size_t n = l->batch_entries;
        h2o_linklist_t waiting;
        int r = 0;

        if (h2o_timeout_is_linked(&l->flush))
                h2o_timeout_unlink(&l->flush);
        /* Taken out first: answering or logging may start the next batch. */
        l->batch = (struct buf){ 0 };
        l->batch_entries = 0;
        h2o_linklist_init_anchor(&waiting);
        h2o_linklist_insert_list(&waiting, &l->waiting);

        if (batch.len > 0) {
                r = batch.failed ? -ENOMEM : central_file_append(&l->file, batch.data, batch.len);
                if (r < 0)
                        /* Nothing of the batch is in the file: nor in memory. */
                        recent_drop_newest(&l->recent, n);
                else
                        l->file.n_lines += n;
        }
        buf_done(&batch);
        while (!h2o_linklist_is_empty(&waiting)) {
                struct waiting *w = H2O_STRUCT_FROM_MEMBER(struct waiting, link, waiting.next);
                h2o_linklist_unlink(&w->link);
                if (r < 0)
                        http_reply_error(w->req, 500, "cannot write the central log: %s", strerror(-r));
                else
                        http_reply_empty(w->req, 200); /* the seed's clients expect an empty 200 */
        }
        if (r < 0)
                log_error_errno(r, "Failed to write %s: %m", l->file.path);
        return r;
}

static void on_flush(h2o_timeout_entry_t *entry) {
        (void) logd_flush(H2O_STRUCT_FROM_MEMBER(struct logd, flush, entry));
}

int logd_store(struct logd *l, const struct log_entry *entries, size_t n) {
        int64_t now = now_epoch_ms();

        /* Formatted once per millisecond: many requests share one. */
        if (now != l->time_ms) {
                format_time_ms(now, l->time);
                l->time_ms = now;
        }
        /* A request's lines stay together and in order. */
        for (size_t i = 0; i < n; i++) {
                log_format_line(&l->batch, l->time, &entries[i]);
                recent_add(&l->recent, now, &entries[i]);
        }
        l->batch_entries += n;
        /* At the end of this turn of the loop. */
        if (!h2o_timeout_is_linked(&l->flush))
                h2o_timeout_link(l->daemon.server.ctx.loop, &l->daemon.server.ctx.zero_timeout, &l->flush);
        return 0;
}

void logd_batch_init(struct logd *l) {
        h2o_linklist_init_anchor(&l->waiting);
        l->flush = (h2o_timeout_entry_t){ .cb = on_flush };
}

static int store_and_reply(struct logd *l, h2o_req_t *req, const struct log_entry *entries, size_t n) {
        struct waiting *w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), on_waiting_disposed);

        *w = (struct waiting){ .req = req };
        (void) logd_store(l, entries, n);
        h2o_linklist_insert(&l->waiting, &w->link);
        return 0;
}

static int post_json(struct logd *l, h2o_req_t *req) {
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ struct log_entry *entries = NULL;
        const char *error;
        size_t n;

        if (!http_json_body(req, &o))
                return 0;
        if (!json_object_is_type(o, json_type_array)) {
                struct log_entry e;
                if (log_entry_from_json(o, &e, &error) < 0)
                        return http_reply_error(req, 400, "%s", error);
                return store_and_reply(l, req, &e, 1);
        }
        n = json_object_array_length(o);
        if (n == 0)
                return http_reply_error(req, 400, "empty batch: expected at least one entry");
        entries = calloc(n, sizeof(*entries));
        if (!entries)
                return http_reply_error(req, 500, "out of memory");
        /* All or nothing: a batch with one bad entry writes no line. */
        for (size_t i = 0; i < n; i++)
                if (log_entry_from_json(json_object_array_get_idx(o, i), &entries[i], &error) < 0)
                        return http_reply_error(req, 400, "entry %zu: %s", i, error);
        return store_and_reply(l, req, entries, n);
}

static int on_post(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct logd *l = userdata;
        struct log_entry e;
        char service[SERVICE_NAME_MAX + 1];
        h2o_iovec_t type = http_content_type(req);

        if (http_content_type_is(req, "application/json"))
                return post_json(l, req);
        if (type.len > 0 && !http_content_type_is(req, "text/plain"))
                return http_reply_error(req, 415, "expected text/plain or application/json, got '%.*s'", (int) type.len,
                                        type.base);
        log_entry_from_text(req->entity.base ?: "", req->entity.len, &e, service);
        if (e.message_len == 0)
                return http_reply_error(req, 400, "empty message");
        return store_and_reply(l, req, &e, 1);
}

static int on_get(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct logd *l = userdata;
        struct http_param params[] = { { "service" }, { "priority" }, { "since" }, { "limit" } };
        _cleanup_json_ struct json_object *a = NULL;
        int priority = LOG_DEBUG;
        int64_t since = INT64_MIN;
        long limit = QUERY_LIMIT_DEFAULT;
        const char *error;
        char *end;

        if (http_query_parse(req, params, ELEMENTSOF(params), &error) < 0)
                return http_reply_error(req, 400, "%s (known: service, priority, since, limit)", error);
        if (params[1].value && (priority = log_level_from_string(params[1].value)) < 0)
                return http_reply_error(req, 400, "priority must be emerg ... debug or 0-7");
        if (params[2].value && parse_rfc3339_ms(params[2].value, &since) < 0)
                return http_reply_error(req, 400, "since must be an RFC 3339 UTC time like 2026-11-25T12:00:00Z");
        if (params[3].value) {
                limit = strtol(params[3].value, &end, 10);
                if (*params[3].value == '\0' || *end || limit < 1 || limit > QUERY_LIMIT_MAX)
                        return http_reply_error(req, 400, "limit must be a number from 1 to %d", QUERY_LIMIT_MAX);
        }
        a = recent_query(&l->recent, params[0].value, priority, since, (size_t) limit);
        return http_reply_json(req, 200, a);
}

static const struct route routes[] = {
        { "POST", "/log", on_post },
        { "GET", "/log", on_get },
};

int logd_add_routes(struct logd *l) {
        return server_add_routes(&l->daemon.server, routes, ELEMENTSOF(routes), l);
}
