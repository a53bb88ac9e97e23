/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "log.h"
#include "portal.h"

/* /api/X... is forwarded to the service behind X with the same method, path
 * (less "/api"), query and body; its status, Content-Type and body come
 * back as they are. */

struct api {
        const char *prefix;  /* "/api/students" */
        const char *service; /* discovered name, or NULL for the registry */
        const char *label;   /* for error messages */
};

static const struct api apis[] = {
        { "/api/students", "GradingService", "GradingService" },
        { "/api/services", NULL, "the registry" },
        { "/api/log", "LogService", "LogService" },
};

static void on_answer(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data) {
        const struct api *api = data;

        if (!res) {
                http_reply_error(req, 503, "no %s is available", api->label);
                return;
        }
        if (res->status == 0) {
                http_reply_error(req, 502, "%s could not be reached: %s", api->label,
                                 res->error_message ?: "no answer");
                return;
        }
        p->n_proxied++;
        http_reply(req, (int) res->status, res->content_type, res->body, res->body_len);
}

static int forward(struct portal *p, h2o_req_t *req, const struct api *api) {
        /* req->path keeps the query string; drop the "/api" in front. */
        char *path = h2o_strdup(&req->pool, req->path.base + 4, req->path.len - 4).base;
        h2o_iovec_t type = http_content_type(req);
        char *method = h2o_strdup(&req->pool, req->method.base, req->method.len).base;
        char *content_type = NULL;
        ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);

        if (type.len > 0)
                content_type =
                        h2o_strdup(&req->pool, req->headers.entries[i].value.base, req->headers.entries[i].value.len)
                                .base;
        if (upstream_start(p, req, api->service, method, path, content_type, req->entity.base, req->entity.len,
                           on_answer, (void *) api) < 0)
                return http_reply_error(req, 500, "out of memory");
        return 0;
}

static int on_students(void *userdata, h2o_req_t *req, const struct route_params *params) {
        return forward(userdata, req, &apis[0]);
}

static int on_services(void *userdata, h2o_req_t *req, const struct route_params *params) {
        return forward(userdata, req, &apis[1]);
}

static int on_log(void *userdata, h2o_req_t *req, const struct route_params *params) {
        return forward(userdata, req, &apis[2]);
}

static int on_unknown(void *userdata, h2o_req_t *req, const struct route_params *params) {
        return http_reply_error(req, 404, "no such API: the gateway serves /api/students, /api/services and /api/log");
}

static const struct route routes[] = {
        { "*", "/api/students", on_students }, { "*", "/api/students/*", on_students },
        { "*", "/api/services", on_services }, { "*", "/api/services/*", on_services },
        { "*", "/api/log", on_log },           { "*", "/api/*", on_unknown },
};

int gateway_add_routes(struct portal *p) {
        return server_add_routes(&p->daemon.server, routes, ELEMENTSOF(routes), p);
}
