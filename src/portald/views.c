/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <string.h>

#include "log.h"
#include "portal.h"

static const char *const view_files[_VIEW_MAX] = {
        [VIEW_LAYOUT] = "layout.html", [VIEW_STUDENTS] = "students.html", [VIEW_STUDENT] = "student.html",
        [VIEW_STATUS] = "status.html", [VIEW_ERROR] = "error.html",
};

static int load_file(const char *path, struct buf *out) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char chunk[4096];
        size_t n;

        if (!f)
                return -errno;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                buf_append(out, chunk, n);
        return ferror(f) || out->failed ? -EIO : 0;
}

int views_load(struct portal *p) {
        const char *dir = p->settings.data_directory;
        _cleanup_free_ char *css = NULL;
        int r;

        for (size_t i = 0; i < _VIEW_MAX; i++) {
                _cleanup_free_ char *path = NULL, *error = NULL;
                if (asprintf(&path, "%s/templates/%s", dir, view_files[i]) < 0)
                        return log_oom();
                r = template_load(path, &p->views[i], &error);
                if (r < 0)
                        return error ? log_error_errno(r, "Template %s: %s", path, error)
                                     : log_error_errno(r, "Cannot read template %s: %m", path);
        }
        if (asprintf(&css, "%s/static/style.css", dir) < 0)
                return log_oom();
        if ((r = load_file(css, &p->stylesheet)) < 0)
                return log_error_errno(r, "Cannot read %s: %m", css);
        return 0;
}

void views_free(struct portal *p) {
        for (size_t i = 0; i < _VIEW_MAX; i++) {
                template_free(p->views[i]);
                p->views[i] = NULL;
        }
        buf_done(&p->stylesheet);
}

int render_page(struct portal *p, h2o_req_t *req, int status, enum view v, const char *title,
                struct json_object *data) {
        _cleanup_json_ struct json_object *page = json_object_new_object();
        struct buf body = { 0 }, html = { 0 };

        template_render(p->views[v], data, &body);
        json_object_object_add(page, "title", json_object_new_string(title));
        json_object_object_add(page, "body", json_object_new_string_len(body.data ?: "", (int) body.len));
        template_render(p->views[VIEW_LAYOUT], page, &html);
        json_object_put(data);
        buf_done(&body);
        if (html.failed) {
                buf_done(&html);
                return http_reply_error(req, 500, "out of memory");
        }
        /* h2o copies the body into the request's pool. */
        http_reply(req, status, "text/html; charset=utf-8", html.data ?: "", html.len);
        buf_done(&html);
        return 0;
}

int render_error(struct portal *p, h2o_req_t *req, int status, const char *title, const char *format, ...) {
        struct json_object *data = json_object_new_object();
        char message[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        json_object_object_add(data, "status", json_object_new_int(status));
        json_object_object_add(data, "heading", json_object_new_string(title));
        json_object_object_add(data, "message", json_object_new_string(message));
        return render_page(p, req, status, VIEW_ERROR, title, data);
}

int render_upstream_error(struct portal *p, h2o_req_t *req, const char *service, const struct httpc_response *res) {
        if (!res)
                return render_error(p, req, 503, "Service unavailable",
                                    "The %s is not available: no instance of it is registered and passing its "
                                    "health checks. Try again in a few seconds.",
                                    service);
        if (res->status == 0)
                return render_error(p, req, 503, "Service unavailable", "The %s could not be reached: %s.", service,
                                    res->error_message ?: "no answer");
        return render_error(p, req, 502, "Bad gateway", "The %s answered with status %ld.", service, res->status);
}
