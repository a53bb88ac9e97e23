/* SPDX-License-Identifier: MIT */
/* Unit tests for src/common/hashmap.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

#define MANY 10000

static void test_empty(void **state) {
        struct hashmap m;

        hashmap_init(&m);
        assert_int_equal(m.n, 0);
        assert_null(hashmap_get(&m, "a"));
        assert_null(hashmap_remove(&m, "a"));
        assert_int_equal(m.n, 0);
        hashmap_done(&m);
        hashmap_done(&m); /* twice is harmless */
}

static void test_put_get_remove(void **state) {
        struct hashmap m;
        int a = 1, b = 2, c = 3;
        char key_a[] = "alpha";

        hashmap_init(&m);
        assert_int_equal(hashmap_put(&m, key_a, &a), 0);
        assert_int_equal(hashmap_put(&m, "beta", &b), 0);
        assert_int_equal(hashmap_put(&m, "", &c), 0); /* the empty key is a key */
        assert_int_equal(m.n, 3);

        /* Looked up by content, not by pointer. */
        assert_ptr_equal(hashmap_get(&m, "alpha"), &a);
        assert_ptr_equal(hashmap_get(&m, "beta"), &b);
        assert_ptr_equal(hashmap_get(&m, ""), &c);
        assert_null(hashmap_get(&m, "alph"));
        assert_null(hashmap_get(&m, "alphaa"));
        assert_null(hashmap_get(&m, "Alpha"));

        assert_ptr_equal(hashmap_remove(&m, "alpha"), &a);
        assert_int_equal(m.n, 2);
        assert_null(hashmap_get(&m, "alpha"));
        assert_null(hashmap_remove(&m, "alpha"));
        assert_int_equal(m.n, 2);
        assert_ptr_equal(hashmap_get(&m, "beta"), &b);

        /* A removed key can be put again. */
        assert_int_equal(hashmap_put(&m, "alpha", &c), 0);
        assert_ptr_equal(hashmap_get(&m, "alpha"), &c);
        assert_int_equal(m.n, 3);
        hashmap_done(&m);
        assert_int_equal(m.n, 0);
        assert_null(m.buckets);
}

static void test_put_existing(void **state) {
        struct hashmap m;
        int a = 1, b = 2;
        char other_copy[] = "key";

        hashmap_init(&m);
        assert_int_equal(hashmap_put(&m, "key", &a), 0);
        assert_int_equal(hashmap_put(&m, other_copy, &b), -EEXIST);
        assert_int_equal(m.n, 1);
        assert_ptr_equal(hashmap_get(&m, "key"), &a); /* the first value stays */
        hashmap_done(&m);
}

static void test_null_value(void **state) {
        struct hashmap m;

        hashmap_init(&m);
        assert_int_equal(hashmap_put(&m, "k", NULL), 0);
        assert_int_equal(m.n, 1);
        assert_int_equal(hashmap_put(&m, "k", NULL), -EEXIST);
        hashmap_done(&m);
}

static char keys[MANY][16];

static void test_growth(void **state) {
        struct hashmap m;

        hashmap_init(&m);
        for (size_t i = 0; i < MANY; i++) {
                snprintf(keys[i], sizeof(keys[i]), "key-%zu", i);
                if (hashmap_put(&m, keys[i], keys[i]) != 0)
                        fail_msg("put %s failed", keys[i]);
        }
        assert_int_equal(m.n, MANY);
        assert_true(m.n_buckets >= MANY);
        assert_int_equal(m.n_buckets & (m.n_buckets - 1), 0); /* a power of two */

        for (size_t i = 0; i < MANY; i++) {
                char probe[16];
                snprintf(probe, sizeof(probe), "key-%zu", i);
                if (hashmap_get(&m, probe) != keys[i])
                        fail_msg("get %s after growth", probe);
        }
        assert_null(hashmap_get(&m, "key-10000"));

        /* Every other one goes; the rest stay reachable. */
        for (size_t i = 0; i < MANY; i += 2)
                if (hashmap_remove(&m, keys[i]) != keys[i])
                        fail_msg("remove %s", keys[i]);
        assert_int_equal(m.n, MANY / 2);
        for (size_t i = 0; i < MANY; i++) {
                void *v = hashmap_get(&m, keys[i]);
                if (i % 2 == 0 ? v != NULL : v != keys[i])
                        fail_msg("get %s after removals", keys[i]);
        }
        for (size_t i = 0; i < MANY; i += 2)
                assert_int_equal(hashmap_put(&m, keys[i], keys[i]), 0);
        for (size_t i = 1; i < MANY; i += 2)
                assert_int_equal(hashmap_put(&m, keys[i], NULL), -EEXIST);
        assert_int_equal(m.n, MANY);
        hashmap_done(&m);
}

static void test_reuse_after_done(void **state) {
        struct hashmap m;
        int a = 1;

        hashmap_init(&m);
        assert_int_equal(hashmap_put(&m, "x", &a), 0);
        hashmap_done(&m);
        assert_null(hashmap_get(&m, "x"));
        assert_int_equal(hashmap_put(&m, "x", &a), 0);
        assert_ptr_equal(hashmap_get(&m, "x"), &a);
        hashmap_done(&m);
}

static int n_freed;

static void free_counted(void *p) {
        free(p);
        n_freed++;
}

static void test_done_with(void **state) {
        struct hashmap m;
        char *k[50];

        hashmap_init(&m);
        for (int i = 0; i < 50; i++) {
                assert_true(asprintf(&k[i], "value-%d", i) > 0);
                assert_int_equal(hashmap_put(&m, k[i], k[i]), 0); /* the value holds its own key */
        }
        free_counted(hashmap_remove(&m, k[7]));
        n_freed = 0;
        hashmap_done_with(&m, free_counted);
        assert_int_equal(n_freed, 49); /* the removed one is not freed twice */
        assert_int_equal(m.n, 0);
        assert_null(m.buckets);

        /* No function: the values stay the caller's. */
        hashmap_init(&m);
        assert_int_equal(hashmap_put(&m, "x", &n_freed), 0);
        hashmap_done_with(&m, NULL);
        assert_int_equal(m.n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),        cmocka_unit_test(test_put_get_remove),
                cmocka_unit_test(test_put_existing), cmocka_unit_test(test_null_value),
                cmocka_unit_test(test_growth),       cmocka_unit_test(test_reuse_after_done),
                cmocka_unit_test(test_done_with),
        };

        return cmocka_run_group_tests_name("hashmap", tests, NULL, NULL);
}
