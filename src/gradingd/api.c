/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "grading.h"
#include "log.h"

/* Another grading process may have written to the shared database. */
static void sync_cache(struct grading *g) {
        if (db_changed_elsewhere(&g->db))
                cache_clear(&g->cache);
}

static int reply_db_error(h2o_req_t *req, int r) {
        if (r == -EBUSY)
                return http_reply_error(req, 503, "the database is busy, try again");
        return http_reply_error(req, 500, "database error");
}

static int reply_cached(h2o_req_t *req, int status, const struct cached *c) {
        return http_reply(req, status, "application/json", c->body, c->len);
}

static int on_list(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct grading *g = userdata;
        _cleanup_json_ struct json_object *o = NULL;
        struct cached *c;
        int r;

        sync_cache(g);
        c = cache_get(&g->cache, "*");
        if (c)
                return reply_cached(req, 200, c);
        if ((r = db_students(&g->db, &o)) < 0)
                return reply_db_error(req, r);
        c = cache_put(&g->cache, "*", o);
        return c ? reply_cached(req, 200, c) : http_reply_json(req, 200, o);
}

static int on_student(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct grading *g = userdata;
        _cleanup_json_ struct json_object *o = NULL;
        struct cached *c;
        char key[24];
        int64_t id;
        int r;

        if (!route_parse_id(p->v[0], &id))
                return http_reply_error(req, 404, "no such student: ids are positive integers");
        sync_cache(g);
        snprintf(key, sizeof(key), "%" PRId64, id);
        c = cache_get(&g->cache, key);
        if (c)
                return reply_cached(req, 200, c);
        r = db_student(&g->db, id, &o);
        if (r == -ENOENT)
                return http_reply_error(req, 404, "no student with ID %" PRId64, id);
        if (r < 0)
                return reply_db_error(req, r);
        c = cache_put(&g->cache, key, o);
        return c ? reply_cached(req, 200, c) : http_reply_json(req, 200, o);
}

static void set_location(h2o_req_t *req, const char *format, ...) _printf_(2, 3);
static void set_location(h2o_req_t *req, const char *format, ...) {
        char location[96];
        va_list ap;

        va_start(ap, format);
        vsnprintf(location, sizeof(location), format, ap);
        va_end(ap);
        http_add_header(req, H2O_TOKEN_LOCATION, location);
}

static int on_add_student(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct grading *g = userdata;
        _cleanup_json_ struct json_object *body = NULL, *o = NULL;
        struct student_input in;
        const char *error;
        int64_t id;
        int r;

        if (!http_json_body(req, &body))
                return 0;
        if (student_from_json(body, &in, &error) < 0)
                return http_reply_error(req, 400, "%s", error);
        r = db_add_student(&g->db, &in, &id);
        cache_clear(&g->cache);
        if (r < 0)
                return reply_db_error(req, r);
        log_info("Added student %" PRId64 ".", id);
        if ((r = db_student(&g->db, id, &o)) < 0)
                return reply_db_error(req, r);
        set_location(req, "/students/%" PRId64, id);
        return http_reply_json(req, 201, o);
}

static int on_add_grade(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct grading *g = userdata;
        _cleanup_json_ struct json_object *body = NULL, *o = NULL;
        struct grade_input in;
        const char *error;
        int64_t id, grade_id;
        int r;

        if (!route_parse_id(p->v[0], &id))
                return http_reply_error(req, 404, "no such student: ids are positive integers");
        if (!http_json_body(req, &body))
                return 0;
        if (grade_from_json(body, &in, &error) < 0)
                return http_reply_error(req, 400, "%s", error);
        r = db_add_grade(&g->db, id, &in, &grade_id);
        if (r == -ENOENT)
                return http_reply_error(req, 404, "no student with ID %" PRId64, id);
        cache_clear(&g->cache);
        if (r < 0)
                return reply_db_error(req, r);
        /* Committed with synchronous=FULL: the 201 promises it is on disk. */
        g->n_grades_added++;
        log_debug("Added grade %" PRId64 " for student %" PRId64 ".", grade_id, id);
        o = grade_to_json(grade_id, in.title, in.type, in.score);
        set_location(req, "/students/%" PRId64 "/grades/%" PRId64, id, grade_id);
        return http_reply_json(req, 201, o);
}

static int on_delete_grade(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct grading *g = userdata;
        int64_t id, grade_id;
        int r;

        if (!route_parse_id(p->v[0], &id) || !route_parse_id(p->v[1], &grade_id))
                return http_reply_error(req, 404, "no such grade: ids are positive integers");
        r = db_delete_grade(&g->db, id, grade_id);
        if (r == -ENOENT)
                return http_reply_error(req, 404, "student %" PRId64 " has no grade %" PRId64, id, grade_id);
        cache_clear(&g->cache);
        if (r < 0)
                return reply_db_error(req, r);
        log_info("Deleted grade %" PRId64 " of student %" PRId64 ".", grade_id, id);
        return http_reply_empty(req, 204);
}

static const struct route routes[] = {
        { "GET", "/students", on_list },
        { "POST", "/students", on_add_student },
        { "GET", "/students/{id}", on_student },
        { "POST", "/students/{id}/grades", on_add_grade },
        { "DELETE", "/students/{id}/grades/{gradeId}", on_delete_grade },
};

int grading_add_routes(struct grading *g) {
        return server_add_routes(&g->daemon.server, routes, ELEMENTSOF(routes), g);
}
