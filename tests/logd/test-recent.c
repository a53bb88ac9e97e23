/* SPDX-License-Identifier: MIT */
/* Unit tests for src/logd/recent.c: the bounded ring of recent entries and
 * its queries (GET /log). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "logd.h"
#include "utf8.h"

#include "tap.h"

#define T0 1764073268000LL /* 2025-11-25T12:21:08.000Z */

static void add(struct recent *r, int64_t t, const char *service, int priority, const char *message) {
        struct log_entry e = {
                .service = service, .priority = priority, .message = message, .message_len = strlen(message)
        };
        recent_add(r, t, &e);
}

/* The messages of a query's result, joined by '|'. */
static char *messages(struct json_object *a) {
        struct buf b = { 0 };

        assert_true(json_object_is_type(a, json_type_array));
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                struct json_object *o = json_object_array_get_idx(a, i), *m;
                assert_true(json_object_object_get_ex(o, "message", &m));
                if (i)
                        buf_putc(&b, '|');
                buf_append(&b, json_object_get_string(m), strlen(json_object_get_string(m)));
        }
        buf_append(&b, "", 0);
        return b.data;
}

static void expect_query(struct recent *r, const char *service, int priority, int64_t since, size_t limit,
                         const char *want) {
        struct json_object *a = recent_query(r, service, priority, since, limit);
        char *got = messages(a);

        if (strcmp(got, want) != 0)
                fail_msg("query(%s, %d, %lld, %zu): got '%s', expected '%s'", service ?: "NULL", priority,
                         (long long) since, limit, got, want);
        free(got);
        json_object_put(a);
}

static void test_empty(void **state) {
        struct recent r;

        assert_int_equal(recent_init(&r, 10), 0);
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 100, "");
        recent_done(&r);
}

static void test_order_and_fields(void **state) {
        struct recent r;
        struct json_object *a, *o, *v;

        assert_int_equal(recent_init(&r, 10), 0);
        add(&r, T0, "A", LOG_ERR, "first");
        add(&r, T0 + 5, "B", LOG_INFO, "second");
        add(&r, T0 + 1234, "A", LOG_DEBUG, "third");
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 100, "first|second|third");

        a = recent_query(&r, NULL, LOG_DEBUG, INT64_MIN, 100);
        assert_int_equal(json_object_array_length(a), 3);
        o = json_object_array_get_idx(a, 0);
        assert_int_equal(json_object_object_length(o), 4);
        assert_true(json_object_object_get_ex(o, "time", &v));
        assert_string_equal(json_object_get_string(v), "2025-11-25T12:21:08.000Z");
        assert_true(json_object_object_get_ex(o, "service", &v));
        assert_string_equal(json_object_get_string(v), "A");
        assert_true(json_object_object_get_ex(o, "priority", &v));
        assert_string_equal(json_object_get_string(v), "err");
        o = json_object_array_get_idx(a, 2);
        assert_true(json_object_object_get_ex(o, "time", &v));
        assert_string_equal(json_object_get_string(v), "2025-11-25T12:21:09.234Z");
        assert_true(json_object_object_get_ex(o, "priority", &v));
        assert_string_equal(json_object_get_string(v), "debug");
        json_object_put(a);
        recent_done(&r);
}

static void test_bounded(void **state) {
        struct recent r;
        char msg[32];

        assert_int_equal(recent_init(&r, 5), 0);
        for (int i = 0; i < 23; i++) {
                snprintf(msg, sizeof(msg), "m%d", i);
                add(&r, T0 + i, "S", LOG_INFO, msg);
        }
        assert_int_equal(r.n, 5);
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 100, "m18|m19|m20|m21|m22");
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 2, "m21|m22");
        recent_done(&r);

        /* Capacity 0 is taken as 1. */
        assert_int_equal(recent_init(&r, 0), 0);
        add(&r, T0, "S", LOG_INFO, "a");
        add(&r, T0, "S", LOG_INFO, "b");
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 100, "b");
        recent_done(&r);
}

static void test_filters(void **state) {
        struct recent r;

        assert_int_equal(recent_init(&r, 100), 0);
        add(&r, T0 + 0, "A", LOG_ERR, "a-err");
        add(&r, T0 + 1, "B", LOG_WARNING, "b-warning");
        add(&r, T0 + 2, "A", LOG_INFO, "a-info");
        add(&r, T0 + 3, "B", LOG_DEBUG, "b-debug");
        add(&r, T0 + 4, "A", LOG_CRIT, "a-crit");
        add(&r, T0 + 5, "B", LOG_INFO, "b-info");

        expect_query(&r, "A", LOG_DEBUG, INT64_MIN, 100, "a-err|a-info|a-crit");
        expect_query(&r, "B", LOG_DEBUG, INT64_MIN, 100, "b-warning|b-debug|b-info");
        expect_query(&r, "C", LOG_DEBUG, INT64_MIN, 100, "");
        expect_query(&r, NULL, LOG_WARNING, INT64_MIN, 100, "a-err|b-warning|a-crit");
        expect_query(&r, NULL, LOG_EMERG, INT64_MIN, 100, "");
        expect_query(&r, NULL, LOG_INFO, INT64_MIN, 100, "a-err|b-warning|a-info|a-crit|b-info");
        /* since: strictly after */
        expect_query(&r, NULL, LOG_DEBUG, T0 + 2, 100, "b-debug|a-crit|b-info");
        expect_query(&r, NULL, LOG_DEBUG, T0 + 5, 100, "");
        expect_query(&r, NULL, LOG_DEBUG, T0 - 1, 100, "a-err|b-warning|a-info|b-debug|a-crit|b-info");
        /* limit: the newest matches, oldest first */
        expect_query(&r, "A", LOG_DEBUG, INT64_MIN, 2, "a-info|a-crit");
        expect_query(&r, "A", LOG_DEBUG, INT64_MIN, 1, "a-crit");
        expect_query(&r, NULL, LOG_WARNING, INT64_MIN, 2, "b-warning|a-crit");
        expect_query(&r, "B", LOG_INFO, T0, 1, "b-info");
        expect_query(&r, "B", LOG_WARNING, T0 + 1, 5, "");
        recent_done(&r);
}

static void test_limit_after_wrap(void **state) {
        struct recent r;
        char msg[32];

        assert_int_equal(recent_init(&r, 7), 0);
        for (int i = 0; i < 30; i++) {
                snprintf(msg, sizeof(msg), "%c%d", i % 3 ? 'x' : 'y', i);
                add(&r, T0 + i, i % 3 ? "X" : "Y", LOG_INFO, msg);
        }
        /* Kept: 23..29; Y at 24 and 27. */
        expect_query(&r, "Y", LOG_DEBUG, INT64_MIN, 100, "y24|y27");
        expect_query(&r, "X", LOG_DEBUG, INT64_MIN, 3, "x26|x28|x29");
        expect_query(&r, NULL, LOG_DEBUG, T0 + 26, 100, "y27|x28|x29");
        recent_done(&r);
}

static void test_escaped_and_truncated(void **state) {
        struct recent r;
        struct json_object *a, *m;
        char *big = malloc(5000);
        const char *s;

        assert_non_null(big);
        assert_int_equal(recent_init(&r, 10), 0);
        add(&r, T0, "S", LOG_INFO, "two\nlines\tand \x1b[31m and \\");
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 100, "two\\nlines\\tand \\x1b[31m and \\\\");

        memset(big, 'b', 5000);
        {
                struct log_entry e = { .service = "S", .priority = LOG_INFO, .message = big, .message_len = 5000 };
                recent_add(&r, T0 + 1, &e);
        }
        a = recent_query(&r, NULL, LOG_DEBUG, INT64_MIN, 1);
        assert_true(json_object_object_get_ex(json_object_array_get_idx(a, 0), "message", &m));
        s = json_object_get_string(m);
        assert_int_equal(strspn(s, "b"), LOG_RECENT_MESSAGE_MAX);
        assert_string_equal(s + LOG_RECENT_MESSAGE_MAX, " [truncated 3976 bytes]");
        json_object_put(a);

        /* Invalid UTF-8 in a message is escaped: the JSON stays valid UTF-8. */
        add(&r, T0 + 2, "S", LOG_INFO, "bad \xff\xfe");
        expect_query(&r, NULL, LOG_DEBUG, INT64_MIN, 1, "bad \\xff\\xfe");
        recent_done(&r);
        free(big);
}

/* Whatever bytes an entry holds, the JSON GET /log sends is valid UTF-8. */
static void test_output_is_utf8(void **state) {
        struct recent r;
        struct json_object *a;
        const char *json;
        size_t len, bad = SIZE_MAX;

        assert_int_equal(recent_init(&r, 10), 0);
        add(&r, T0, "Svc\xff", LOG_INFO, "message \xc0\xaf");
        a = recent_query(&r, NULL, LOG_DEBUG, INT64_MIN, 10);
        json = json_to_string(a, &len);
        for (size_t i = 0; i < len;) {
                size_t n = utf8_sequence(json + i, len - i);
                if (n == 0) {
                        bad = i;
                        printf("# invalid UTF-8 at byte %zu of %s\n", i, json);
                        break;
                }
                i += n;
        }
        /* Freed first, so that a failure is not also a leak under ASan. */
        json_object_put(a);
        recent_done(&r);
        if (bad != SIZE_MAX)
                fail_msg("GET /log's JSON is not valid UTF-8 (byte %zu)", bad);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_order_and_fields),
                cmocka_unit_test(test_bounded),
                cmocka_unit_test(test_filters),
                cmocka_unit_test(test_limit_after_wrap),
                cmocka_unit_test(test_escaped_and_truncated),
                cmocka_unit_test(test_output_is_utf8),
        };

        return cmocka_run_group_tests_name("logd recent", tests, NULL, NULL);
}
