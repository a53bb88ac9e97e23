/* SPDX-License-Identifier: MIT */
/* Unit tests for route_match() in src/common/server.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server.h"

static bool match(const char *pattern, const char *path, struct route_params *ret) {
        return route_match(pattern, path, strlen(path), ret);
}

static void assert_param(const struct route_params *p, size_t i, const char *expected) {
        assert_true(i < p->n);
        assert_int_equal(p->v[i].len, strlen(expected));
        assert_memory_equal(p->v[i].base, expected, p->v[i].len);
}

static void test_literal(void **state) {
        struct route_params p = { .n = 99 };

        assert_true(match("/services", "/services", &p));
        assert_int_equal(p.n, 0);
        assert_true(match("/", "/", NULL));
        assert_false(match("/services", "/services/", NULL)); /* trailing slash */
        assert_false(match("/services", "/service", NULL));
        assert_false(match("/services", "/servicesx", NULL));
        assert_false(match("/services", "/Services", NULL));
        assert_false(match("/services", "", NULL));
        assert_false(match("/services", "/", NULL));
        assert_false(match("/", "/services", NULL));
}

static void test_one_param(void **state) {
        struct route_params p;

        assert_true(match("/services/{name}", "/services/Log", &p));
        assert_int_equal(p.n, 1);
        assert_param(&p, 0, "Log");

        assert_true(match("/services/{name}", "/services/Grading%20Service", &p));
        assert_param(&p, 0, "Grading%20Service"); /* raw: handlers unescape */

        assert_false(match("/services/{name}", "/services", NULL));
        assert_false(match("/services/{name}", "/services/", NULL)); /* empty segment */
        assert_false(match("/services/{name}", "/services/Log/", NULL));
        assert_false(match("/services/{name}", "/services/Log/extra", NULL));
        assert_false(match("/services/{name}", "/servicesLog", NULL));
}

static void test_param_in_the_middle(void **state) {
        struct route_params p;

        assert_true(match("/services/{name}/providers", "/services/Log/providers", &p));
        assert_int_equal(p.n, 1);
        assert_param(&p, 0, "Log");
        assert_false(match("/services/{name}/providers", "/services//providers", NULL));
        assert_false(match("/services/{name}/providers", "/services/Log/provider", NULL));
        assert_false(match("/services/{name}/providers", "/services/Log", NULL));
}

static void test_multiple_params(void **state) {
        struct route_params p;

        assert_true(match("/a/{x}/b/{y}", "/a/1/b/22", &p));
        assert_int_equal(p.n, 2);
        assert_param(&p, 0, "1");
        assert_param(&p, 1, "22");

        assert_true(match("/{a}/{b}/{c}/{d}", "/w/x/y/z", &p));
        assert_int_equal(p.n, SERVER_MAX_PARAMS);
        assert_param(&p, 0, "w");
        assert_param(&p, 3, "z");

        assert_false(match("/a/{x}/b/{y}", "/a/1/b/", NULL));
        assert_false(match("/a/{x}/b/{y}", "/a//b/2", NULL));
        assert_false(match("/a/{x}/b/{y}", "/a/1/c/2", NULL));
}

static void test_too_many_params(void **state) {
        assert_false(match("/{a}/{b}/{c}/{d}/{e}", "/v/w/x/y/z", NULL));
}

/* The path is bounded by len (the query string is cut off that way). */
static void test_len_bounds_path(void **state) {
        const char path[] = "/services/Log?verbose=1";
        struct route_params p;

        assert_true(route_match("/services/{name}", path, strlen("/services/Log"), &p));
        assert_param(&p, 0, "Log");
        assert_true(route_match("/services", path, strlen("/services"), &p));
        assert_int_equal(p.n, 0);
        assert_false(route_match("/services/{name}", path, strlen("/services/"), NULL));
        assert_false(route_match("/services", path, 2, NULL));
}

/* A failed match leaves *ret alone. */
static void test_failure_keeps_params(void **state) {
        struct route_params p = { .n = 1, .v = { { (char *) "keep", 4 } } };

        assert_false(match("/a/{x}/b", "/a/1/c", &p));
        assert_int_equal(p.n, 1);
        assert_param(&p, 0, "keep");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_literal),
                cmocka_unit_test(test_one_param),
                cmocka_unit_test(test_param_in_the_middle),
                cmocka_unit_test(test_multiple_params),
                cmocka_unit_test(test_too_many_params),
                cmocka_unit_test(test_len_bounds_path),
                cmocka_unit_test(test_failure_keeps_params),
        };

        return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
