/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "log.h"
#include "portal.h"

static void call_free(struct upstream_call *c) {
        free(c->path);
        free(c->method);
        free(c->content_type);
        free(c->body);
        free(c->url);
        free(c);
}

/* The request's pool is freed when the client goes away; the call lives on
 * until curl is done with it, and then has no one to answer. */
static void on_req_disposed(void *p) {
        struct upstream_call **slot = p;
        if (*slot)
                (*slot)->req = NULL;
}

static const char *pick(struct upstream_call *c) {
        if (!c->service)
                return c->portal->daemon.settings->registry;
        return regclient_pick(&c->portal->daemon.regclient, c->service);
}

static int send_call(struct upstream_call *c, const char *base);

static void on_response(const struct httpc_response *res, void *userdata) {
        struct upstream_call *c = userdata;

        /* Refused: that provider is gone. Once more, on another one. */
        if (res->error == -ECONNREFUSED && c->attempts < 2 && c->req) {
                const char *next = pick(c);
                if (next && !streq(next, c->url) && send_call(c, next) == 0)
                        return;
        }
        if (c->req) {
                *c->slot = NULL;
                c->done(c->portal, c->req, res, c->data);
        }
        call_free(c);
}

static int send_call(struct upstream_call *c, const char *base) {
        _cleanup_free_ char *url = NULL;

        if (!base)
                return -ENOENT;
        if (asprintf(&url, "%s%s", base, c->path) < 0)
                return -ENOMEM;
        free(c->url);
        c->url = strdup(base);
        c->attempts++;
        return httpc_start(&c->portal->daemon.httpc,
                           &(struct httpc_request){ .method = c->method,
                                                    .url = url,
                                                    .content_type = c->content_type,
                                                    .body = c->body,
                                                    .body_len = c->body_len,
                                                    .timeout_ms = c->portal->settings.upstream_timeout_ms,
                                                    .max_response = 8 * 1024 * 1024 },
                           on_response, c, NULL);
}

int upstream_start(struct portal *p, h2o_req_t *req, const char *service, const char *method, const char *path,
                   const char *content_type, const char *body, size_t body_len, upstream_done_t done, void *data) {
        struct upstream_call *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        *c = (struct upstream_call){
                .portal = p, .req = req, .service = service, .done = done, .data = data, .body_len = body_len
        };
        c->path = strdup(path);
        c->method = strdup(method);
        c->content_type = content_type ? strdup(content_type) : NULL;
        c->body = body ? malloc(body_len + 1) : NULL;
        if (c->body)
                memcpy(c->body, body, body_len);
        if (!c->path || !c->method || (content_type && !c->content_type) || (body && !c->body)) {
                call_free(c);
                return -ENOMEM;
        }
        r = send_call(c, pick(c));
        if (r == -ENOENT) {
                call_free(c);
                done(p, req, NULL, data);
                return 0;
        }
        if (r < 0) {
                call_free(c);
                return r;
        }
        c->slot = h2o_mem_alloc_shared(&req->pool, sizeof(*c->slot), on_req_disposed);
        *c->slot = c;
        return 0;
}
