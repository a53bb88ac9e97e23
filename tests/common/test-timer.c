/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/timer.c: the heap, driven by hand through
 * timers_run_due(), and once through the real event loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "timer.h"

#define FAR 1000000 /* ms: later than any delay used here */

static h2o_evloop_t *loop;
static struct timers timers;

/* The order callbacks ran in. */
static int fired[4096];
static uint64_t fired_due[4096];
static size_t n_fired;

struct rec {
        struct timer t;
        int id;
        int restarts; /* on_fire_restart: how often to start itself again */
        struct rec *other;
};

static void record(struct rec *r) {
        assert_true(n_fired < sizeof(fired) / sizeof(fired[0]));
        fired_due[n_fired] = r->t.due_ms;
        fired[n_fired++] = r->id;
}

static void on_fire(struct timer *t) {
        struct rec *r = H2O_STRUCT_FROM_MEMBER(struct rec, t, t);
        assert_false(timer_pending(t)); /* off the heap before its callback */
        record(r);
}

static void rec_init(struct rec *r, int id, timer_cb_t cb) {
        *r = (struct rec){ .id = id };
        timer_init(&r->t, cb);
}

static int setup(void **state) {
        loop = h2o_evloop_create();
        if (!loop || timers_init(&timers, loop) < 0)
                return -1;
        n_fired = 0;
        return 0;
}

static int teardown(void **state) {
        timers_done(&timers);
        h2o_evloop_run(loop, 0); /* h2o frees the closed timerfd socket here */
        h2o_evloop_destroy(loop);
        loop = NULL;
        return 0;
}

static void test_order_by_delay(void **state) {
        static const uint64_t delays[] = { 3000, 1000, 5000, 0, 4000, 2000 };
        struct rec r[6];

        for (int i = 0; i < 6; i++) {
                rec_init(&r[i], i, on_fire);
                assert_int_equal(timer_start(&timers, &r[i].t, delays[i]), 0);
                assert_true(timer_pending(&r[i].t));
        }
        assert_int_equal(timers.n, 6);
        timers_run_due(&timers, now_ms() + FAR);
        assert_int_equal(n_fired, 6);
        int expected[] = { 3, 1, 5, 0, 4, 2 };
        assert_memory_equal(fired, expected, sizeof(expected));
        assert_int_equal(timers.n, 0);
        for (int i = 0; i < 6; i++)
                assert_false(timer_pending(&r[i].t));
}

static void test_only_due_ones_run(void **state) {
        struct rec a, b, c;
        uint64_t base = now_ms();

        rec_init(&a, 1, on_fire);
        rec_init(&b, 2, on_fire);
        rec_init(&c, 3, on_fire);
        assert_int_equal(timer_start(&timers, &c.t, 30000), 0);
        assert_int_equal(timer_start(&timers, &a.t, 10000), 0);
        assert_int_equal(timer_start(&timers, &b.t, 20000), 0);
        assert_true(a.t.due_ms >= base + 10000);

        timers_run_due(&timers, base); /* nothing is due yet */
        assert_int_equal(n_fired, 0);
        assert_int_equal(timers.n, 3);

        timers_run_due(&timers, a.t.due_ms); /* due exactly now: runs */
        assert_int_equal(n_fired, 1);
        assert_int_equal(fired[0], 1);

        timers_run_due(&timers, base + 25000);
        assert_int_equal(n_fired, 2);
        assert_int_equal(fired[1], 2);
        assert_true(timer_pending(&c.t));
        timers_run_due(&timers, base + FAR);
        assert_int_equal(n_fired, 3);
        assert_int_equal(fired[2], 3);
}

static void test_stop(void **state) {
        struct rec r[5];

        for (int i = 0; i < 5; i++) {
                rec_init(&r[i], i, on_fire);
                assert_int_equal(timer_start(&timers, &r[i].t, 1000 * (uint64_t) (i + 1)), 0);
        }
        timer_stop(&timers, &r[0].t); /* the earliest, at the root */
        timer_stop(&timers, &r[3].t); /* one inside */
        timer_stop(&timers, &r[4].t); /* the last slot */
        assert_false(timer_pending(&r[0].t));
        assert_false(timer_pending(&r[3].t));
        assert_int_equal(timers.n, 2);
        timer_stop(&timers, &r[3].t); /* stopping twice is harmless */
        assert_int_equal(timers.n, 2);

        timers_run_due(&timers, now_ms() + FAR);
        assert_int_equal(n_fired, 2);
        assert_int_equal(fired[0], 1);
        assert_int_equal(fired[1], 2);

        /* A stopped timer can be started again. */
        assert_int_equal(timer_start(&timers, &r[3].t, 0), 0);
        timers_run_due(&timers, now_ms() + FAR);
        assert_int_equal(n_fired, 3);
        assert_int_equal(fired[2], 3);
}

static void test_restart_moves(void **state) {
        struct rec a, b, c;

        rec_init(&a, 1, on_fire);
        rec_init(&b, 2, on_fire);
        rec_init(&c, 3, on_fire);
        assert_int_equal(timer_start(&timers, &a.t, 1000), 0);
        assert_int_equal(timer_start(&timers, &b.t, 2000), 0);
        assert_int_equal(timer_start(&timers, &c.t, 3000), 0);
        /* Later, and sooner: a restart replaces, it does not add. */
        assert_int_equal(timer_start(&timers, &a.t, 4000), 0);
        assert_int_equal(timer_start(&timers, &c.t, 500), 0);
        assert_int_equal(timers.n, 3);

        timers_run_due(&timers, now_ms() + FAR);
        assert_int_equal(n_fired, 3);
        int expected[] = { 3, 2, 1 };
        assert_memory_equal(fired, expected, sizeof(expected));
}

static void on_fire_restart(struct timer *t) {
        struct rec *r = H2O_STRUCT_FROM_MEMBER(struct rec, t, t);
        record(r);
        if (r->restarts > 0) {
                r->restarts--;
                assert_int_equal(timer_start(&timers, t, 0), 0);
        }
}

/* A callback may start its own timer again; it runs again in the same pass
 * when it is due by then. */
static void test_callback_restarts_itself(void **state) {
        struct rec a, b;

        rec_init(&a, 1, on_fire_restart);
        a.restarts = 3;
        rec_init(&b, 2, on_fire);
        assert_int_equal(timer_start(&timers, &a.t, 0), 0);
        assert_int_equal(timer_start(&timers, &b.t, FAR / 2), 0);
        timers_run_due(&timers, now_ms() + 10000);
        assert_int_equal(n_fired, 4);
        for (size_t i = 0; i < 4; i++)
                assert_int_equal(fired[i], 1);
        assert_false(timer_pending(&a.t));
        assert_true(timer_pending(&b.t));
        timer_stop(&timers, &b.t);
}

static void on_fire_stop_other(struct timer *t) {
        struct rec *r = H2O_STRUCT_FROM_MEMBER(struct rec, t, t);
        record(r);
        timer_stop(&timers, &r->other->t);
}

static void on_fire_start_other(struct timer *t) {
        struct rec *r = H2O_STRUCT_FROM_MEMBER(struct rec, t, t);
        record(r);
        assert_int_equal(timer_start(&timers, &r->other->t, 0), 0);
}

static void test_callback_stops_and_starts_others(void **state) {
        struct rec a, b, c, d;

        rec_init(&a, 1, on_fire_stop_other);
        rec_init(&b, 2, on_fire);
        rec_init(&c, 3, on_fire_start_other);
        rec_init(&d, 4, on_fire);
        a.other = &b;
        c.other = &d;
        assert_int_equal(timer_start(&timers, &a.t, 1000), 0);
        assert_int_equal(timer_start(&timers, &b.t, 2000), 0); /* due, but a stops it first */
        assert_int_equal(timer_start(&timers, &c.t, 3000), 0); /* starts d, which is due at once */
        timers_run_due(&timers, now_ms() + FAR);
        assert_int_equal(n_fired, 3);
        int expected[] = { 1, 3, 4 };
        assert_memory_equal(fired, expected, sizeof(expected));
        assert_int_equal(timers.n, 0);
}

/* Many timers with random delays, random stops and restarts: every pending
 * timer fires exactly once, in due order. */
static void test_heap_stress(void **state) {
        enum { N = 2000 };
        struct rec *r = calloc(N, sizeof(*r));
        bool *expect_fire = calloc(N, sizeof(bool));
        int *count = calloc(N, sizeof(int));
        uint32_t seed = 12345;
        size_t n_expected = 0;

        assert_non_null(r);
        assert_non_null(expect_fire);
        assert_non_null(count);
        for (int i = 0; i < N; i++) {
                seed = seed * 1103515245u + 12345u;
                rec_init(&r[i], i, on_fire);
                assert_int_equal(timer_start(&timers, &r[i].t, (seed >> 8) % 100000), 0);
                expect_fire[i] = true;
        }
        for (int i = 0; i < N; i++) {
                seed = seed * 1103515245u + 12345u;
                switch ((seed >> 16) % 4) {
                case 0:
                        timer_stop(&timers, &r[i].t);
                        expect_fire[i] = false;
                        break;
                case 1: assert_int_equal(timer_start(&timers, &r[i].t, (seed >> 4) % 100000), 0); break;
                default: break;
                }
        }
        for (int i = 0; i < N; i++)
                n_expected += expect_fire[i];
        assert_int_equal(timers.n, n_expected);

        timers_run_due(&timers, now_ms() + FAR);
        assert_int_equal(n_fired, n_expected);
        for (size_t i = 0; i < n_fired; i++) {
                count[fired[i]]++;
                if (i > 0 && fired_due[i] < fired_due[i - 1])
                        fail_msg("timer %d (due %" PRIu64 ") ran after one due at %" PRIu64, fired[i], fired_due[i],
                                 fired_due[i - 1]);
        }
        for (int i = 0; i < N; i++)
                if (count[i] != (expect_fire[i] ? 1 : 0))
                        fail_msg("timer %d ran %d times", i, count[i]);
        assert_int_equal(timers.n, 0);
        free(r);
        free(expect_fire);
        free(count);
}

/* timers_done() forgets pending timers: they are no longer pending. */
static void test_done_clears_pending(void **state) {
        struct rec a;

        rec_init(&a, 1, on_fire);
        assert_int_equal(timer_start(&timers, &a.t, 1000), 0);
        timers_done(&timers);
        assert_false(timer_pending(&a.t));
        assert_int_equal(timers.n, 0);
        /* teardown calls timers_done() again */
}

/* Through the loop: the timerfd is armed for the earliest timer. */
static void test_fires_from_event_loop(void **state) {
        struct rec a, b;
        uint64_t start = now_ms(), deadline = start + 5000;

        rec_init(&a, 1, on_fire);
        rec_init(&b, 2, on_fire);
        assert_int_equal(timer_start(&timers, &b.t, 60000), 0);
        assert_int_equal(timer_start(&timers, &a.t, 20), 0);
        while (n_fired == 0 && now_ms() < deadline)
                h2o_evloop_run(loop, 100);
        assert_int_equal(n_fired, 1);
        assert_int_equal(fired[0], 1);
        assert_true(now_ms() >= start + 20);
        assert_true(timer_pending(&b.t));
        timer_stop(&timers, &b.t);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_order_by_delay, setup, teardown),
                cmocka_unit_test_setup_teardown(test_only_due_ones_run, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_moves, setup, teardown),
                cmocka_unit_test_setup_teardown(test_callback_restarts_itself, setup, teardown),
                cmocka_unit_test_setup_teardown(test_callback_stops_and_starts_others, setup, teardown),
                cmocka_unit_test_setup_teardown(test_heap_stress, setup, teardown),
                cmocka_unit_test_setup_teardown(test_done_clears_pending, setup, teardown),
                cmocka_unit_test_setup_teardown(test_fires_from_event_loop, setup, teardown),
        };

        return cmocka_run_group_tests_name("timer", tests, NULL, NULL);
}
