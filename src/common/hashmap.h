/* SPDX-License-Identifier: MIT */
#pragma once

/* A map from NUL-terminated string keys to pointers, with separate chaining.
 * Keys are not copied: a key must live as long as its entry (typically it is
 * a member of the value). */

#include <stddef.h>

struct hashmap_node;

struct hashmap {
        struct hashmap_node **buckets;
        size_t n_buckets, n;
};

void hashmap_init(struct hashmap *m);
void hashmap_done(struct hashmap *m);
/* Also frees every value with free_value. */
void hashmap_done_with(struct hashmap *m, void (*free_value)(void *));
void *hashmap_get(const struct hashmap *m, const char *key);
/* Returns 0, -EEXIST when the key is present, or -ENOMEM. */
int hashmap_put(struct hashmap *m, const char *key, void *value);
/* Returns the removed value, or NULL. */
void *hashmap_remove(struct hashmap *m, const char *key);
