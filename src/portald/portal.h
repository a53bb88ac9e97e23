/* SPDX-License-Identifier: MIT */
#pragma once

/* grades-portald: the web app people use, and the gateway to the APIs.
 *
 *   upstream.c  calls to grading, registry and log, outliving no request
 *   views.c     templates from data/templates, the layout, error pages
 *   pages.c     /students, /students/{id}, the add-a-grade form, /status
 *   gateway.c   /api/students..., /api/services..., /api/log...
 *   csrf.c      the form's token (double-submit cookie)
 *   main.c      run() */

#include <stdbool.h>

#include "buf.h"
#include "conf.h"
#include "daemon.h"
#include "http.h"
#include "template.h"

struct portal_settings {
        struct conf_common common;
        char *data_directory; /* templates/ and static/ */
        uint64_t upstream_timeout_ms;
};

enum view {
        VIEW_LAYOUT,
        VIEW_STUDENTS,
        VIEW_STUDENT,
        VIEW_STATUS,
        VIEW_ERROR,
        _VIEW_MAX,
};

struct portal {
        struct portal_settings settings;
        struct daemon daemon;
        struct template *views[_VIEW_MAX];
        struct buf stylesheet;
        uint64_t n_proxied;
};

/* upstream.c: one call to a service on behalf of a request. */
struct upstream_call;
struct portal;
typedef void (*upstream_done_t)(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data);

struct upstream_call {
        struct portal *portal;
        h2o_req_t *req; /* NULL once the client went away */
        struct upstream_call **slot;
        const char *service; /* a name to discover, or NULL for the registry */
        char *path;          /* with the query string */
        char *method, *content_type, *body;
        size_t body_len;
        char *url; /* the provider tried last */
        int attempts;
        upstream_done_t done;
        void *data;
};

/* Calls service (discovered, round-robin; NULL = the registry) at path. When
 * the provider refuses the connection the call is tried once more on
 * another. done runs once, unless the client went away first; res is NULL
 * when no provider is known. */
int upstream_start(struct portal *p, h2o_req_t *req, const char *service, const char *method, const char *path,
                   const char *content_type, const char *body, size_t body_len, upstream_done_t done, void *data);

/* views.c */
int views_load(struct portal *p);
void views_free(struct portal *p);
/* Renders a page inside the layout; takes ownership of data. */
int render_page(struct portal *p, h2o_req_t *req, int status, enum view v, const char *title, struct json_object *data);
int render_error(struct portal *p, h2o_req_t *req, int status, const char *title, const char *format, ...)
        _printf_(5, 6);
/* "503: GradingService unreachable" style pages for a failed upstream call. */
int render_upstream_error(struct portal *p, h2o_req_t *req, const char *service, const struct httpc_response *res);

/* csrf.c */
/* The token of the request's cookie, or a new one (then set as a cookie). */
const char *csrf_token(h2o_req_t *req);
bool csrf_valid(h2o_req_t *req, const char *form_token);

/* pages.c, gateway.c */
int pages_add_routes(struct portal *p);
int gateway_add_routes(struct portal *p);
