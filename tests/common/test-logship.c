/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/logship.c: the bounded queue of lines waiting
 * for the central log, and the JSON batches built from it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "logship.h"

#include "tap.h"

static const char *pick_none(void *userdata) {
        return NULL;
}

static void init(struct logship *ls, size_t capacity) {
        assert_int_equal(logship_init(ls, NULL, NULL, "TestService", capacity, pick_none, NULL), 0);
}

static void push_n(struct logship *ls, int first, int n) {
        char msg[32];

        for (int i = first; i < first + n; i++) {
                snprintf(msg, sizeof(msg), "m%d", i);
                logship_push(ls, LOG_INFO, msg);
        }
}

/* The next batch, parsed; its line count and notice flag. */
static struct json_object *batch(struct logship *ls, size_t *ret_lines, uint64_t *ret_notice) {
        size_t len = 0;
        char *body = logship_batch(ls, &len, ret_lines, ret_notice);
        const char *error = NULL;
        struct json_object *a = NULL;

        assert_non_null(body);
        assert_int_equal(strlen(body), len);
        if (json_parse_strict(body, len, &a, &error) < 0)
                fail_msg("batch is not strict JSON (%s): %s", error, body);
        assert_true(json_object_is_type(a, json_type_array));
        free(body);
        return a;
}

static const char *field(struct json_object *a, size_t i, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(json_object_array_get_idx(a, i), key, &v))
                fail_msg("entry %zu has no '%s'", i, key);
        return json_object_get_string(v);
}

static bool rfc3339_ms(const char *s) {
        int y, mo, d, h, mi, sec, ms;
        char z;
        return strlen(s) == 24 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms, &z) == 8 &&
               z == 'Z';
}

static void test_order_and_format(void **state) {
        struct logship ls;
        struct json_object *a;
        size_t lines;
        uint64_t notice;

        init(&ls, 10);
        logship_push(&ls, LOG_ERR, "first");
        logship_push(&ls, LOG_INFO, "second");
        logship_push(&ls, LOG_WARNING, "third \"quoted\"\nwith a newline, \xc3\xbc and a tab\t");
        a = batch(&ls, &lines, &notice);
        assert_int_equal(lines, 3);
        assert_false(notice);
        assert_int_equal(json_object_array_length(a), 3);
        for (size_t i = 0; i < 3; i++) {
                struct json_object *o = json_object_array_get_idx(a, i);
                assert_int_equal(json_object_object_length(o), 4);
                assert_string_equal(field(a, i, "service"), "TestService");
                assert_true(rfc3339_ms(field(a, i, "time")));
        }
        assert_string_equal(field(a, 0, "message"), "first");
        assert_string_equal(field(a, 0, "priority"), "err");
        assert_string_equal(field(a, 1, "message"), "second");
        assert_string_equal(field(a, 1, "priority"), "info");
        assert_string_equal(field(a, 2, "message"), "third \"quoted\"\nwith a newline, \xc3\xbc and a tab\t");
        assert_string_equal(field(a, 2, "priority"), "warning");
        json_object_put(a);
        /* Building a batch takes nothing off the queue. */
        assert_int_equal(ls.n, 3);
        a = batch(&ls, &lines, &notice);
        assert_int_equal(lines, 3);
        json_object_put(a);
        logship_done(&ls);
}

static void test_batch_max_100(void **state) {
        struct logship ls;
        struct json_object *a;
        size_t lines;
        uint64_t notice;
        char want[32];

        init(&ls, 1000);
        push_n(&ls, 0, 250);
        assert_int_equal(ls.n, 250);
        a = batch(&ls, &lines, &notice);
        assert_int_equal(lines, LOGSHIP_BATCH_MAX);
        assert_int_equal(LOGSHIP_BATCH_MAX, 100);
        assert_int_equal(json_object_array_length(a), 100);
        for (size_t i = 0; i < 100; i++) {
                snprintf(want, sizeof(want), "m%zu", i);
                assert_string_equal(field(a, i, "message"), want);
        }
        json_object_put(a);
        logship_done(&ls);

        /* Fewer than 100 waiting: all of them. */
        init(&ls, 1000);
        push_n(&ls, 0, 99);
        a = batch(&ls, &lines, &notice);
        assert_int_equal(lines, 99);
        json_object_put(a);
        logship_done(&ls);
}

/* Pushes m<first> .. m<first+n-1> with stderr going to a temporary file;
 * returns what was written there. */
static char *push_quietly(struct logship *ls, int first, int n) {
        char path[] = "/tmp/test-logship-XXXXXX";
        int fd = mkstemp(path), saved;
        char *out = calloc(1, 65536);
        ssize_t r;

        assert_true(fd >= 0);
        assert_non_null(out);
        unlink(path);
        fflush(stderr);
        saved = dup(2);
        dup2(fd, 2);
        push_n(ls, first, n);
        fflush(stderr);
        dup2(saved, 2);
        close(saved);
        r = pread(fd, out, 65535, 0);
        assert_true(r >= 0);
        close(fd);
        return out;
}

static void test_overflow(void **state) {
        struct logship ls;
        struct json_object *a;
        size_t lines;
        uint64_t notice;
        char want[32], *err;

        init(&ls, 10);
        err = push_quietly(&ls, 0, 25);
        /* Said at once, on stderr, as a warning, with the count at 1, 2, 4
         * and 8 of the 15 drops, never once per dropped line. */
        assert_non_null(strstr(err, "<4>TestService: Log queue full (10 lines): 1 of the oldest lines dropped"));
        assert_non_null(strstr(err, "Log queue full (10 lines): 2 of the oldest lines dropped"));
        assert_non_null(strstr(err, "Log queue full (10 lines): 4 of the oldest lines dropped"));
        assert_non_null(strstr(err, "Log queue full (10 lines): 8 of the oldest lines dropped"));
        assert_null(strstr(err, "Log queue full (10 lines): 3 "));
        assert_null(strstr(err, "Log queue full (10 lines): 15 "));
        free(err);
        assert_int_equal(ls.n, 10);
        assert_int_equal(ls.n_dropped, 15);
        assert_int_equal(ls.dropped_unreported, 15);

        /* The next batch starts with the count, then the newest lines in order. */
        a = batch(&ls, &lines, &notice);
        assert_true(notice);
        assert_int_equal(lines, 10);
        assert_int_equal(json_object_array_length(a), 11);
        assert_string_equal(field(a, 0, "message"), "Dropped 15 log lines while the log service was unreachable.");
        assert_string_equal(field(a, 0, "priority"), "warning");
        assert_string_equal(field(a, 0, "service"), "TestService");
        assert_true(rfc3339_ms(field(a, 0, "time")));
        for (size_t i = 0; i < 10; i++) {
                snprintf(want, sizeof(want), "m%zu", i + 15);
                assert_string_equal(field(a, i + 1, "message"), want);
        }
        json_object_put(a);

        /* Still unreported: the count goes on, said again only at 16. */
        err = push_quietly(&ls, 25, 5);
        assert_non_null(strstr(err, "Log queue full (10 lines): 16 of the oldest lines dropped"));
        assert_null(strstr(err, "Log queue full (10 lines): 17 "));
        assert_null(strstr(err, "Log queue full (10 lines): 20 "));
        free(err);
        assert_int_equal(ls.dropped_unreported, 20);
        a = batch(&ls, &lines, &notice);
        assert_string_equal(field(a, 0, "message"), "Dropped 20 log lines while the log service was unreachable.");
        assert_string_equal(field(a, 1, "message"), "m20");
        assert_string_equal(field(a, 10, "message"), "m29");
        json_object_put(a);
        logship_done(&ls);
}

static void test_overflow_batch_of_100_plus_notice(void **state) {
        struct logship ls;
        struct json_object *a;
        size_t lines;
        uint64_t notice;

        init(&ls, 150);
        push_n(&ls, 0, 200);
        a = batch(&ls, &lines, &notice);
        assert_true(notice);
        assert_int_equal(lines, 100);
        assert_int_equal(json_object_array_length(a), 101);
        assert_string_equal(field(a, 0, "message"), "Dropped 50 log lines while the log service was unreachable.");
        assert_string_equal(field(a, 1, "message"), "m50");
        assert_string_equal(field(a, 100, "message"), "m149");
        json_object_put(a);
        logship_done(&ls);
}

/* While a batch is on its way, overflow evicts its lines first: they are
 * lost only if that batch fails, so they are not counted as dropped yet. */
static void test_overflow_in_flight(void **state) {
        struct logship ls;
        size_t len;
        char *body;

        init(&ls, 5);
        push_n(&ls, 0, 5);
        body = logship_batch(&ls, &len, &ls.in_flight, &ls.in_flight_notice);
        free(body);
        assert_int_equal(ls.in_flight, 5);
        assert_false(ls.in_flight_notice);

        free(push_quietly(&ls, 5, 5));
        assert_int_equal(ls.n, 5);
        assert_int_equal(ls.in_flight, 0);
        assert_int_equal(ls.in_flight_evicted, 5);
        assert_int_equal(ls.dropped_unreported, 0);
        assert_int_equal(ls.n_dropped, 0);

        free(push_quietly(&ls, 10, 25));
        assert_int_equal(ls.n, 5);
        assert_int_equal(ls.in_flight_evicted, 5);
        assert_int_equal(ls.dropped_unreported, 25);
        assert_int_equal(ls.n_dropped, 25);
        ls.in_flight_evicted = 0;
        logship_done(&ls);
}

static void test_capacity_zero_is_one(void **state) {
        struct logship ls;
        struct json_object *a;
        size_t lines;
        uint64_t notice;
        char *err;

        init(&ls, 0);
        assert_int_equal(ls.capacity, 1);
        err = push_quietly(&ls, 25, 5);
        free(err);
        assert_int_equal(ls.n, 1);
        assert_int_equal(ls.dropped_unreported, 4);
        a = batch(&ls, &lines, &notice);
        assert_int_equal(lines, 1);
        assert_string_equal(field(a, 1, "message"), "m29");
        json_object_put(a);
        logship_done(&ls);
}

static void test_empty_queue(void **state) {
        struct logship ls;
        struct json_object *a;
        size_t lines = 99;
        uint64_t notice;

        init(&ls, 10);
        a = batch(&ls, &lines, &notice);
        assert_int_equal(lines, 0);
        assert_false(notice);
        assert_int_equal(json_object_array_length(a), 0);
        json_object_put(a);
        logship_done(&ls);
}

static void test_done_frees(void **state) {
        struct logship ls;

        /* Under ASan, a leak here fails the run. */
        init(&ls, 100);
        free(push_quietly(&ls, 0, 250));
        logship_done(&ls);
        assert_null(ls.ring);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_and_format),
                cmocka_unit_test(test_batch_max_100),
                cmocka_unit_test(test_overflow),
                cmocka_unit_test(test_overflow_batch_of_100_plus_notice),
                cmocka_unit_test(test_overflow_in_flight),
                cmocka_unit_test(test_capacity_zero_is_one),
                cmocka_unit_test(test_empty_queue),
                cmocka_unit_test(test_done_frees),
        };

        return cmocka_run_group_tests_name("logship", tests, NULL, NULL);
}
