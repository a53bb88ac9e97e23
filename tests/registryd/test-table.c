/* SPDX-License-Identifier: MIT */
/* Unit tests for src/registryd/table.c: the registrations indexed by URL and
 * grouped by service name. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

/* The table only keeps it as a back pointer. */
static struct registry registry;

static void make_reg(struct registration *r, const char *text) {
        struct json_object *o = json_tokener_parse(text);
        const char *error = NULL;
        int ret;

        assert_non_null(o);
        ret = registration_from_json(o, r, &error);
        json_object_put(o);
        if (ret < 0)
                fail_msg("registration does not parse (%s): %s", error, text);
}

/* Registers name at url, requiring the names in required (a JSON array). */
static struct entry *add(struct table *t, const char *name, const char *url, const char *required) {
        struct registration reg;
        struct entry *e = NULL;
        char text[1024];

        snprintf(text, sizeof(text),
                 "{\"ServiceName\": \"%s\", \"ServiceURL\": \"%s\", \"RequiredServices\": %s,"
                 " \"ServiceUpdateURL\": \"%s/services\", \"HeartbeatURL\": \"%s/heartbeat\"}",
                 name, url, required ?: "[]", url, url);
        make_reg(&reg, text);
        assert_int_equal(table_add(t, &registry, &reg, &e), 0);
        assert_non_null(e);
        /* The table took the contents. */
        assert_null(reg.name);
        assert_null(reg.url);
        assert_null(reg.required);
        return e;
}

static void remove_and_free(struct table *t, struct entry *e) {
        table_remove(t, e);
        entry_free(e);
}

static void assert_members(struct entry **a, size_t n, struct entry *const *expected, size_t n_expected) {
        assert_int_equal(n, n_expected);
        for (size_t i = 0; i < n; i++)
                if (a[i] != expected[i])
                        fail_msg("member %zu is %s, expected %s", i, a[i]->reg.url, expected[i]->reg.url);
}

#define ASSERT_PROVIDERS(g, ...)                                                                                       \
        do {                                                                                                           \
                struct entry *const _e[] = { __VA_ARGS__ };                                                            \
                assert_members((g)->providers, (g)->n_providers, _e, sizeof(_e) / sizeof(_e[0]));                      \
        } while (0)
#define ASSERT_DEPENDENTS(g, ...)                                                                                      \
        do {                                                                                                           \
                struct entry *const _e[] = { __VA_ARGS__ };                                                            \
                assert_members((g)->dependents, (g)->n_dependents, _e, sizeof(_e) / sizeof(_e[0]));                    \
        } while (0)

static void test_add_find(void **state) {
        struct table t;
        struct entry *e;

        table_init(&t);
        assert_int_equal(t.n, 0);
        assert_null(table_find(&t, "http://127.0.0.1:4000"));
        assert_null(table_group(&t, "Log"));

        e = add(&t, "Log", "http://127.0.0.1:4000", NULL);
        assert_int_equal(t.n, 1);
        assert_ptr_equal(table_find(&t, "http://127.0.0.1:4000"), e);
        assert_null(table_find(&t, "http://127.0.0.1:4001"));
        assert_null(table_find(&t, "http://127.0.0.1:400"));
        assert_ptr_equal(e->registry, &registry);
        assert_string_equal(e->reg.name, "Log");
        assert_string_equal(e->reg.url, "http://127.0.0.1:4000");
        assert_string_equal(e->reg.heartbeat_url, "http://127.0.0.1:4000/heartbeat");
        assert_int_equal(e->health, HEALTH_UNKNOWN);
        assert_true(h2o_linklist_is_empty(&e->outbox));
        assert_int_equal(e->n_outbox, 0);
        assert_int_equal(e->version, 0);
        table_done(&t);
}

static void test_duplicate_url(void **state) {
        struct table t;
        struct registration reg;
        struct entry *e, *e2 = NULL;

        table_init(&t);
        e = add(&t, "Log", "http://127.0.0.1:4000", NULL);
        make_reg(&reg, "{\"ServiceName\": \"Other\", \"ServiceURL\": \"http://127.0.0.1:4000\"}");
        assert_int_equal(table_add(&t, &registry, &reg, &e2), -EEXIST);
        assert_null(e2);
        /* Not taken: the caller still owns it. */
        assert_non_null(reg.name);
        assert_string_equal(reg.name, "Other");
        registration_done(&reg);
        assert_int_equal(t.n, 1);
        assert_ptr_equal(table_find(&t, "http://127.0.0.1:4000"), e);
        assert_null(table_group(&t, "Other"));
        table_done(&t);
}

static void test_groups(void **state) {
        struct table t;
        struct entry *log1, *grading, *log2, *portal;
        struct group *g;

        table_init(&t);
        log1 = add(&t, "Log", "http://h:4000", NULL);
        grading = add(&t, "Grading", "http://h:6000", "[\"Log\", \"Student\"]");
        log2 = add(&t, "Log", "http://h:4001", NULL);
        portal = add(&t, "Portal", "http://h:7000", "[\"Grading\", \"Log\"]");
        assert_int_equal(t.n, 4);

        g = table_group(&t, "Log");
        assert_non_null(g);
        assert_string_equal(g->name, "Log");
        ASSERT_PROVIDERS(g, log1, log2);
        ASSERT_DEPENDENTS(g, grading, portal);

        /* Required before anyone provides it. */
        g = table_group(&t, "Student");
        assert_non_null(g);
        assert_int_equal(g->n_providers, 0);
        ASSERT_DEPENDENTS(g, grading);

        g = table_group(&t, "Grading");
        ASSERT_PROVIDERS(g, grading);
        ASSERT_DEPENDENTS(g, portal);

        g = table_group(&t, "Portal");
        ASSERT_PROVIDERS(g, portal);
        assert_int_equal(g->n_dependents, 0);

        assert_null(table_group(&t, "log")); /* names are case-sensitive */
        table_done(&t);
}

static void test_registration_order(void **state) {
        struct table t;
        struct entry *e[5];
        size_t i = 0;
        char url[64];

        table_init(&t);
        for (int k = 0; k < 5; k++) {
                snprintf(url, sizeof(url), "http://h:%d", 5000 - k); /* not sorted by URL */
                e[k] = add(&t, "S", url, NULL);
        }
        remove_and_free(&t, e[2]);
        e[2] = add(&t, "S", "http://h:4998", NULL); /* re-registered: now last */

        struct entry *const expected[] = { e[0], e[1], e[3], e[4], e[2] };
        for (h2o_linklist_t *l = t.all.next; l != &t.all; l = l->next, i++) {
                assert_true(i < 5);
                assert_ptr_equal(H2O_STRUCT_FROM_MEMBER(struct entry, link, l), expected[i]);
        }
        assert_int_equal(i, 5);
        ASSERT_PROVIDERS(table_group(&t, "S"), e[0], e[1], e[3], e[4], e[2]);
        table_done(&t);
}

static void test_remove(void **state) {
        struct table t;
        struct entry *log1, *grading, *log2, *portal;
        struct group *g;

        table_init(&t);
        log1 = add(&t, "Log", "http://h:4000", NULL);
        grading = add(&t, "Grading", "http://h:6000", "[\"Log\", \"Student\"]");
        log2 = add(&t, "Log", "http://h:4001", NULL);
        portal = add(&t, "Portal", "http://h:7000", "[\"Log\"]");

        remove_and_free(&t, log1);
        assert_int_equal(t.n, 3);
        assert_null(table_find(&t, "http://h:4000"));
        g = table_group(&t, "Log");
        ASSERT_PROVIDERS(g, log2);
        ASSERT_DEPENDENTS(g, grading, portal);

        remove_and_free(&t, grading);
        assert_null(table_group(&t, "Grading")); /* nobody provides or requires it */
        assert_null(table_group(&t, "Student"));
        g = table_group(&t, "Log");
        ASSERT_PROVIDERS(g, log2);
        ASSERT_DEPENDENTS(g, portal);

        remove_and_free(&t, log2);
        g = table_group(&t, "Log"); /* still required by Portal */
        assert_non_null(g);
        assert_int_equal(g->n_providers, 0);
        ASSERT_DEPENDENTS(g, portal);

        remove_and_free(&t, portal);
        assert_null(table_group(&t, "Log"));
        assert_null(table_group(&t, "Portal"));
        assert_int_equal(t.n, 0);
        assert_true(h2o_linklist_is_empty(&t.all));
        assert_int_equal(t.by_url.n, 0);
        assert_int_equal(t.by_name.n, 0);

        /* The URL is free again. */
        log1 = add(&t, "Log", "http://h:4000", NULL);
        ASSERT_PROVIDERS(table_group(&t, "Log"), log1);
        table_done(&t);
}

static void test_requires_itself(void **state) {
        struct table t;
        struct entry *e;
        struct group *g;

        table_init(&t);
        e = add(&t, "Peer", "http://h:1", "[\"Peer\"]");
        g = table_group(&t, "Peer");
        ASSERT_PROVIDERS(g, e);
        ASSERT_DEPENDENTS(g, e);
        remove_and_free(&t, e);
        assert_null(table_group(&t, "Peer"));
        table_done(&t);
}

static void test_done_frees_everything(void **state) {
        struct table t;
        char url[64];

        table_init(&t);
        for (int i = 0; i < 200; i++) {
                snprintf(url, sizeof(url), "http://h:%d", 10000 + i);
                add(&t, i % 2 ? "Odd" : "Even", url, i % 3 ? "[\"Odd\", \"Third\"]" : "[\"Even\"]");
        }
        assert_int_equal(t.n, 200);
        assert_int_equal(table_group(&t, "Odd")->n_providers, 100);
        table_done(&t); /* valgrind and ASan check the rest */
        assert_int_equal(t.by_url.n, 0);
        assert_int_equal(t.by_name.n, 0);
}

static void test_discoverable(void **state) {
        struct table t;
        struct entry *e;

        table_init(&t);
        e = add(&t, "Log", "http://h:4000", NULL);
        /* Usable at once, as in the seed, until it fails its heartbeats. */
        assert_int_equal(e->health, HEALTH_UNKNOWN);
        assert_true(entry_discoverable(e));
        e->health = HEALTH_PASSING;
        assert_true(entry_discoverable(e));
        e->health = HEALTH_CRITICAL;
        assert_false(entry_discoverable(e));
        e->health = HEALTH_PASSING;
        assert_true(entry_discoverable(e));
        table_done(&t);
}

static void test_health_to_string(void **state) {
        assert_string_equal(health_to_string(HEALTH_UNKNOWN), "unknown");
        assert_string_equal(health_to_string(HEALTH_PASSING), "passing");
        assert_string_equal(health_to_string(HEALTH_CRITICAL), "critical");
}

/* entry_append_json() parsed back, as a client of GET /services sees it. */
static struct json_object *entry_to_json(const struct entry *e) {
        struct buf out = { 0 };
        struct json_object *o = NULL;
        const char *error;

        entry_append_json(&out, e);
        assert_false(out.failed);
        assert_int_equal(json_parse_strict(out.data, out.len, &o, &error), 0);
        buf_done(&out);
        return o;
}

static void test_entry_to_json(void **state) {
        struct table t;
        struct entry *e;
        struct json_object *o, *v;
        const struct buf *listing;

        table_init(&t);
        e = add(&t, "Grading", "http://h:6000", "[\"Log\"]");

        o = entry_to_json(e);
        assert_true(json_object_object_get_ex(o, "ServiceName", &v));
        assert_string_equal(json_object_get_string(v), "Grading");
        assert_true(json_object_object_get_ex(o, "RequiredServices", &v));
        assert_int_equal(json_object_array_length(v), 1);
        assert_true(json_object_object_get_ex(o, "Status", &v));
        assert_string_equal(json_object_get_string(v), "unknown");
        assert_true(json_object_object_get_ex(o, "LastCheck", &v));
        assert_null(v); /* null before the first probe */
        assert_true(json_object_object_get_ex(o, "Failures", &v));
        assert_int_equal(json_object_get_int(v), 0);
        json_object_put(o);

        listing = table_listing(&t);
        assert_non_null(strstr(listing->data, "\"Status\":\"unknown\""));
        table_set_health(&t, e, HEALTH_CRITICAL, 86400 + 3600 + 61, 3); /* 1970-01-02 01:01:01 UTC */
        assert_int_equal(t.n_health[HEALTH_CRITICAL], 1);
        assert_int_equal(t.n_health[HEALTH_UNKNOWN], 0);
        /* The listing is made again after the change. */
        listing = table_listing(&t);
        assert_non_null(strstr(listing->data, "\"Status\":\"critical\""));
        assert_null(strstr(listing->data, "\"Status\":\"unknown\""));
        o = entry_to_json(e);
        assert_true(json_object_object_get_ex(o, "Status", &v));
        assert_string_equal(json_object_get_string(v), "critical");
        assert_true(json_object_object_get_ex(o, "LastCheck", &v));
        assert_string_equal(json_object_get_string(v), "1970-01-02T01:01:01Z");
        assert_true(json_object_object_get_ex(o, "Failures", &v));
        assert_int_equal(json_object_get_int(v), 3);
        json_object_put(o);
        table_done(&t);
}

static void test_pick_log_service(void **state) {
        struct registry *r = calloc(1, sizeof(*r));
        struct entry *a, *b, *c;

        assert_non_null(r);
        table_init(&r->table);
        assert_null(registry_pick_log_service(r)); /* nobody provides it */
        add(&r->table, "Other", "http://h:1", NULL);
        assert_null(registry_pick_log_service(r));

        a = add(&r->table, "LogService", "http://h:4000", NULL);
        b = add(&r->table, "LogService", "http://h:4001", NULL);
        c = add(&r->table, "LogService", "http://h:4002", NULL);
        /* Round-robin in registration order. */
        assert_string_equal(registry_pick_log_service(r), "http://h:4000");
        assert_string_equal(registry_pick_log_service(r), "http://h:4001");
        assert_string_equal(registry_pick_log_service(r), "http://h:4002");
        assert_string_equal(registry_pick_log_service(r), "http://h:4000");

        /* Critical ones are skipped, without upsetting the turn. */
        b->health = HEALTH_CRITICAL;
        assert_string_equal(registry_pick_log_service(r), "http://h:4002");
        assert_string_equal(registry_pick_log_service(r), "http://h:4000");
        assert_string_equal(registry_pick_log_service(r), "http://h:4002");
        b->health = HEALTH_PASSING;
        assert_string_equal(registry_pick_log_service(r), "http://h:4000");
        assert_string_equal(registry_pick_log_service(r), "http://h:4001");

        a->health = b->health = c->health = HEALTH_CRITICAL;
        assert_null(registry_pick_log_service(r));
        c->health = HEALTH_UNKNOWN;
        assert_string_equal(registry_pick_log_service(r), "http://h:4002");
        assert_string_equal(registry_pick_log_service(r), "http://h:4002");

        /* Removal shrinks the ring. */
        remove_and_free(&r->table, c);
        assert_null(registry_pick_log_service(r));
        a->health = HEALTH_PASSING;
        assert_string_equal(registry_pick_log_service(r), "http://h:4000");
        table_done(&r->table);
        free(r);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_add_find),
                cmocka_unit_test(test_duplicate_url),
                cmocka_unit_test(test_groups),
                cmocka_unit_test(test_registration_order),
                cmocka_unit_test(test_remove),
                cmocka_unit_test(test_requires_itself),
                cmocka_unit_test(test_done_frees_everything),
                cmocka_unit_test(test_discoverable),
                cmocka_unit_test(test_health_to_string),
                cmocka_unit_test(test_entry_to_json),
                cmocka_unit_test(test_pick_log_service),
        };

        return cmocka_run_group_tests_name("table", tests, NULL, NULL);
}
