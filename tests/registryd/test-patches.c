/* SPDX-License-Identifier: MIT */
/* Unit tests for src/registryd/patches.c: the patch bodies sent to
 * dependents (delivery itself is covered by the integration tests). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "registry.h"

/* Parses body strictly, as a dependent would. */
static struct json_object *parse_body(const char *body, size_t len) {
        struct json_object *o = NULL;
        const char *error = NULL;

        if (json_parse_strict(body, len, &o, &error) < 0)
                fail_msg("patch body is not JSON (%s): %s", error, body);
        return o;
}

static void assert_entry(struct json_object *list, size_t i, const char *name, const char *url) {
        struct json_object *e = json_object_array_get_idx(list, i), *v;

        assert_non_null(e);
        assert_true(json_object_is_type(e, json_type_object));
        assert_int_equal(json_object_object_length(e), 2);
        assert_true(json_object_object_get_ex(e, "Name", &v));
        assert_string_equal(json_object_get_string(v), name);
        assert_true(json_object_object_get_ex(e, "URL", &v));
        assert_string_equal(json_object_get_string(v), url);
}

static void test_body_added(void **state) {
        struct json_object *o, *added, *removed, *version;
        size_t len = 0;
        char *body = patch_body(7, "LogService", "http://127.0.0.1:4000/x", true, &len);

        assert_non_null(body);
        assert_int_equal(len, strlen(body));
        /* Compact, in the seed's key order, without "\/" escapes. */
        assert_string_equal(body, "{\"Added\":[{\"Name\":\"LogService\",\"URL\":\"http://127.0.0.1:4000/x\"}],"
                                  "\"Removed\":[],\"Version\":7}");

        o = parse_body(body, len);
        assert_int_equal(json_object_object_length(o), 3);
        assert_true(json_object_object_get_ex(o, "Added", &added));
        assert_true(json_object_is_type(added, json_type_array));
        assert_int_equal(json_object_array_length(added), 1);
        assert_entry(added, 0, "LogService", "http://127.0.0.1:4000/x");
        assert_true(json_object_object_get_ex(o, "Removed", &removed));
        assert_true(json_object_is_type(removed, json_type_array)); /* [] rather than null */
        assert_int_equal(json_object_array_length(removed), 0);
        assert_true(json_object_object_get_ex(o, "Version", &version));
        assert_true(json_object_is_type(version, json_type_int));
        assert_int_equal(json_object_get_int64(version), 7);
        json_object_put(o);
        free(body);
}

static void test_body_removed(void **state) {
        struct json_object *o, *added, *removed, *version;
        size_t len = 0;
        char *body = patch_body(1, "Student \"Records\"", "https://h:5000", false, &len);

        assert_non_null(body);
        assert_int_equal(len, strlen(body));
        o = parse_body(body, len);
        assert_true(json_object_object_get_ex(o, "Added", &added));
        assert_true(json_object_is_type(added, json_type_array));
        assert_int_equal(json_object_array_length(added), 0);
        assert_true(json_object_object_get_ex(o, "Removed", &removed));
        assert_int_equal(json_object_array_length(removed), 1);
        assert_entry(removed, 0, "Student \"Records\"", "https://h:5000");
        assert_true(json_object_object_get_ex(o, "Version", &version));
        assert_int_equal(json_object_get_int64(version), 1);
        json_object_put(o);
        free(body);
}

static void test_body_versions(void **state) {
        static const uint64_t versions[] = { 0, 1, 4294967296ULL, 9007199254740993ULL, INT64_MAX };

        for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
                size_t len;
                char *body = patch_body(versions[i], "A", "http://a", true, &len);
                struct json_object *o = parse_body(body, len), *v;
                int64_t got;

                assert_true(json_object_object_get_ex(o, "Version", &v));
                got = json_object_get_int64(v);
                json_object_put(o);
                free(body);
                assert_true((uint64_t) got == versions[i]);
        }
}

/* What the registry sends, a client parses back to the same thing. */
static void test_body_round_trip(void **state) {
        struct patch p;
        struct json_object *o;
        const char *error = NULL;
        size_t len;
        char *body;

        body = patch_body(42, "Grading", "http://h:6000/api", true, &len);
        o = parse_body(body, len);
        assert_int_equal(patch_from_json(o, &p, &error), 0);
        json_object_put(o);
        free(body);
        assert_int_equal(p.n_added, 1);
        assert_string_equal(p.added[0].name, "Grading");
        assert_string_equal(p.added[0].url, "http://h:6000/api");
        assert_int_equal(p.n_removed, 0);
        assert_int_equal(p.version, 42);
        patch_done(&p);

        body = patch_body(43, "Grading", "http://h:6000/api", false, &len);
        o = parse_body(body, len);
        assert_int_equal(patch_from_json(o, &p, &error), 0);
        json_object_put(o);
        free(body);
        assert_int_equal(p.n_added, 0);
        assert_int_equal(p.n_removed, 1);
        assert_string_equal(p.removed[0].name, "Grading");
        assert_string_equal(p.removed[0].url, "http://h:6000/api");
        assert_int_equal(p.version, 43);
        patch_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_body_added),
                cmocka_unit_test(test_body_removed),
                cmocka_unit_test(test_body_versions),
                cmocka_unit_test(test_body_round_trip),
        };

        return cmocka_run_group_tests_name("patches", tests, NULL, NULL);
}
