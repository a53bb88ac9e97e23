/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "log.h"
#include "portal.h"
#include "utf8.h"

#define GRADING "GradingService"

static const char *const grade_types[] = { "Quiz", "Test", "Exam", "Homework" };

/* "87.3" for the page; the seed printed NaN% for a student without grades. */
static void add_average_text(struct json_object *student) {
        struct json_object *avg = json_get(student, "Average");
        char text[32];

        if (avg && (json_object_is_type(avg, json_type_double) || json_object_is_type(avg, json_type_int)))
                snprintf(text, sizeof(text), "%.1f", json_object_get_double(avg));
        else
                snprintf(text, sizeof(text), "no grades yet");
        json_object_object_add(student, "AverageText", json_object_new_string(text));
}

static struct json_object *parse_json(const struct httpc_response *res) {
        struct json_object *o = NULL;
        const char *error;

        if (json_parse_strict(res->body, res->body_len, &o, &error) < 0)
                return NULL;
        return o;
}

/* ---- / and /students ---- */

static int on_root(void *userdata, h2o_req_t *req, const struct route_params *params) {
        static const char body[] = "<a href=\"/students\">Students</a>\n";

        http_add_header(req, H2O_TOKEN_LOCATION, "/students");
        return http_reply(req, 302, "text/html; charset=utf-8", body, sizeof(body) - 1);
}

static void on_students_answer(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data) {
        struct json_object *students, *page;

        if (!res || res->status != 200) {
                render_upstream_error(p, req, "grading service", res);
                return;
        }
        students = parse_json(res);
        if (!students || !json_object_is_type(students, json_type_array)) {
                json_object_put(students);
                render_error(p, req, 502, "Bad gateway",
                             "The grading service answered something that is not a list of students.");
                return;
        }
        for (size_t i = 0; i < json_object_array_length(students); i++)
                add_average_text(json_object_array_get_idx(students, i));
        page = json_object_new_object();
        json_object_object_add(page, "students", students);
        render_page(p, req, 200, VIEW_STUDENTS, "Students", page);
}

static int on_students(void *userdata, h2o_req_t *req, const struct route_params *params) {
        struct portal *p = userdata;
        if (upstream_start(p, req, GRADING, "GET", "/students", NULL, NULL, 0, on_students_answer, NULL) < 0)
                return render_error(p, req, 500, "Internal error", "Out of memory.");
        return 0;
}

/* ---- /students/{id} and its form ---- */

/* What the form shows again after a refusal; lives in the request's pool. */
struct form {
        int64_t id;
        const char *title, *type, *score;
        const char *error;
};

static struct json_object *form_json(const struct form *f) {
        struct json_object *o = json_object_new_object(), *types = json_object_new_array();

        for (size_t i = 0; i < ELEMENTSOF(grade_types); i++) {
                struct json_object *t = json_object_new_object();
                json_object_object_add(t, "name", json_object_new_string(grade_types[i]));
                json_object_object_add(t, "selected",
                                       json_object_new_boolean(f && f->type && streq(f->type, grade_types[i])));
                json_object_array_add(types, t);
        }
        json_object_object_add(o, "Title", json_object_new_string(f && f->title ? f->title : ""));
        json_object_object_add(o, "Score", json_object_new_string(f && f->score ? f->score : ""));
        json_object_object_add(o, "types", types);
        return o;
}

static void on_student_answer(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data) {
        const struct form *f = data;
        struct json_object *student, *page;
        const char *csrf, *first, *last;
        char *title;

        if (res && res->status == 404) {
                render_error(p, req, 404, "Student not found", "There is no student with ID %" PRId64 ".", f->id);
                return;
        }
        if (!res || res->status != 200) {
                render_upstream_error(p, req, "grading service", res);
                return;
        }
        student = parse_json(res);
        if (!student || !json_object_is_type(student, json_type_object)) {
                json_object_put(student);
                render_error(p, req, 502, "Bad gateway",
                             "The grading service answered something that is not a student.");
                return;
        }
        add_average_text(student);
        csrf = csrf_token(req);
        first = json_object_get_string(json_get(student, "FirstName")) ?: "";
        last = json_object_get_string(json_get(student, "LastName")) ?: "";
        title = h2o_mem_alloc_pool(&req->pool, strlen(first) + strlen(last) + 2);
        sprintf(title, "%s %s", first, last);
        page = json_object_new_object();
        json_object_object_add(page, "student", student);
        json_object_object_add(page, "csrf", json_object_new_string(csrf ?: ""));
        json_object_object_add(page, "form", form_json(f->error ? f : NULL));
        if (f->error)
                json_object_object_add(page, "error", json_object_new_string(f->error));
        render_page(p, req, f->error ? 400 : 200, VIEW_STUDENT, title, page);
}

static int show_student(struct portal *p, h2o_req_t *req, struct form *f) {
        char path[48];

        snprintf(path, sizeof(path), "/students/%" PRId64, f->id);
        if (upstream_start(p, req, GRADING, "GET", path, NULL, NULL, 0, on_student_answer, f) < 0)
                return render_error(p, req, 500, "Internal error", "Out of memory.");
        return 0;
}

static int on_student(void *userdata, h2o_req_t *req, const struct route_params *params) {
        struct portal *p = userdata;
        struct form *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));

        *f = (struct form){ 0 };
        if (!route_parse_id(params->v[0], &f->id))
                return render_error(p, req, 404, "Student not found", "Student IDs are positive whole numbers.");
        return show_student(p, req, f);
}

static void on_grade_added(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data) {
        struct form *f = data;
        char location[48];

        if (res && res->status == 201) {
                /* 303: the browser GETs the student page (the seed's 307 re-POSTed). */
                snprintf(location, sizeof(location), "/students/%" PRId64, f->id);
                http_add_header(req, H2O_TOKEN_LOCATION, location);
                http_reply_empty(req, 303);
                return;
        }
        if (res && res->status == 404) {
                render_error(p, req, 404, "Student not found", "There is no student with ID %" PRId64 ".", f->id);
                return;
        }
        if (res && res->status == 400) {
                _cleanup_json_ struct json_object *o = parse_json(res);
                struct json_object *e = o ? json_get(o, "error") : NULL;
                f->error =
                        h2o_strdup(&req->pool, e ? json_object_get_string(e) : "the grade was refused", SIZE_MAX).base;
                show_student(p, req, f);
                return;
        }
        render_upstream_error(p, req, "grading service", res);
}

static const char *validate_form(struct form *f, double *ret_score) {
        char *end;
        bool type_ok = false;

        if (!f->title || !utf8_is_text(f->title, strlen(f->title), 1, 100))
                return "Title must be 1 to 100 characters.";
        for (size_t i = 0; f->type && i < ELEMENTSOF(grade_types); i++)
                type_ok = type_ok || streq(f->type, grade_types[i]);
        if (!type_ok)
                return "Type must be Quiz, Test, Exam or Homework.";
        if (!f->score || !*f->score)
                return "Score must be a number from 0 to 100.";
        *ret_score = strtod(f->score, &end);
        if (*end || !isfinite(*ret_score) || *ret_score < 0 || *ret_score > 100)
                return "Score must be a number from 0 to 100.";
        return NULL;
}

static int on_add_grade(void *userdata, h2o_req_t *req, const struct route_params *params) {
        struct portal *p = userdata;
        struct form *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));
        struct http_param fields[] = { { "Title" }, { "Type" }, { "Score" }, { "csrf" } };
        _cleanup_json_ struct json_object *grade = NULL;
        const char *error, *body;
        char path[64];
        double score;
        size_t len;

        *f = (struct form){ 0 };
        if (!route_parse_id(params->v[0], &f->id))
                return render_error(p, req, 404, "Student not found", "Student IDs are positive whole numbers.");
        if (!http_content_type_is(req, "application/x-www-form-urlencoded"))
                return render_error(p, req, 415, "Unsupported form", "The form must be sent as a web form.");
        if (http_form_parse(&req->pool, req->entity.base ?: "", req->entity.len, fields, ELEMENTSOF(fields), true,
                            &error) < 0)
                return render_error(p, req, 400, "Bad request", "The form could not be read: %s.", error);
        if (!csrf_valid(req, fields[3].value))
                return render_error(p, req, 403, "Forbidden",
                                    "The form's security token is missing or stale. Reload the page and try again.");
        f->title = fields[0].value;
        f->type = fields[1].value;
        f->score = fields[2].value;
        f->error = validate_form(f, &score);
        if (f->error)
                return show_student(p, req, f);

        grade = json_object_new_object();
        json_object_object_add(grade, "Title", json_object_new_string(f->title));
        json_object_object_add(grade, "Type", json_object_new_string(f->type));
        json_object_object_add(grade, "Score", json_object_new_double(score));
        body = json_to_string(grade, &len);
        snprintf(path, sizeof(path), "/students/%" PRId64 "/grades", f->id);
        if (upstream_start(p, req, GRADING, "POST", path, "application/json", body, len, on_grade_added, f) < 0)
                return render_error(p, req, 500, "Internal error", "Out of memory.");
        return 0;
}

/* ---- /status ---- */

struct status_page {
        int pending;
        struct json_object *services, *log;
        const char *services_error, *log_error;
};

static void status_dispose(void *p) {
        struct status_page *s = p;
        json_object_put(s->services);
        json_object_put(s->log);
}

static void render_status(struct portal *p, h2o_req_t *req, struct status_page *s) {
        struct json_object *page = json_object_new_object();

        for (size_t i = 0; s->services && i < json_object_array_length(s->services); i++) {
                struct json_object *e = json_object_array_get_idx(s->services, i);
                const char *status = json_object_get_string(json_get(e, "Status"));
                json_object_object_add(e, "passing", json_object_new_boolean(status && streq(status, "passing")));
        }
        json_object_object_add(page, "registry", json_object_new_string(p->daemon.settings->registry));
        json_object_object_add(page, "services", json_object_get(s->services));
        json_object_object_add(page, "log", json_object_get(s->log));
        if (s->services_error)
                json_object_object_add(page, "services_error", json_object_new_string(s->services_error));
        if (s->log_error)
                json_object_object_add(page, "log_error", json_object_new_string(s->log_error));
        render_page(p, req, 200, VIEW_STATUS, "System status", page);
}

static const char *describe_failure(h2o_req_t *req, const char *service, const struct httpc_response *res) {
        char text[256];

        if (!res)
                snprintf(text, sizeof(text), "No %s is registered and passing.", service);
        else if (res->status == 0)
                snprintf(text, sizeof(text), "The %s could not be reached: %s.", service,
                         res->error_message ?: "no answer");
        else
                snprintf(text, sizeof(text), "The %s answered with status %ld.", service, res->status);
        return h2o_strdup(&req->pool, text, SIZE_MAX).base;
}

static void on_status_part(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data,
                           bool services) {
        struct status_page *s = data;
        struct json_object *o = res && res->status == 200 ? parse_json(res) : NULL;

        if (o && !json_object_is_type(o, json_type_array)) {
                json_object_put(o);
                o = NULL;
        }
        if (services) {
                s->services = o;
                s->services_error = o ? NULL : describe_failure(req, "registry", res);
        } else {
                s->log = o;
                s->log_error = o ? NULL : describe_failure(req, "log service", res);
        }
        if (--s->pending == 0)
                render_status(p, req, s);
}

static void on_status_services(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data) {
        on_status_part(p, req, res, data, true);
}

static void on_status_log(struct portal *p, h2o_req_t *req, const struct httpc_response *res, void *data) {
        on_status_part(p, req, res, data, false);
}

static int on_status(void *userdata, h2o_req_t *req, const struct route_params *params) {
        struct portal *p = userdata;
        struct status_page *s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), status_dispose);

        /* Both asked at once; the page is rendered when both have answered. */
        *s = (struct status_page){ .pending = 2 };
        if (upstream_start(p, req, NULL, "GET", "/services", NULL, NULL, 0, on_status_services, s) < 0 ||
            upstream_start(p, req, "LogService", "GET", "/log?limit=30", NULL, NULL, 0, on_status_log, s) < 0)
                return render_error(p, req, 500, "Internal error", "Out of memory.");
        return 0;
}

/* ---- static files and unknown pages ---- */

static int on_stylesheet(void *userdata, h2o_req_t *req, const struct route_params *params) {
        struct portal *p = userdata;
        http_add_header(req, H2O_TOKEN_CACHE_CONTROL, "max-age=3600");
        return http_reply(req, 200, "text/css; charset=utf-8", p->stylesheet.data ?: "", p->stylesheet.len);
}

static int on_not_found(void *userdata, h2o_req_t *req, const struct route_params *params) {
        return render_error(userdata, req, 404, "Page not found", "There is no page here.");
}

static const struct route routes[] = {
        { "GET", "/", on_root },
        { "GET", "/students", on_students },
        { "GET", "/students/{id}", on_student },
        { "POST", "/students/{id}/grades", on_add_grade },
        { "GET", "/status", on_status },
        { "GET", "/static/style.css", on_stylesheet },
        { "*", "/*", on_not_found },
};

int pages_add_routes(struct portal *p) {
        return server_add_routes(&p->daemon.server, routes, ELEMENTSOF(routes), p);
}
