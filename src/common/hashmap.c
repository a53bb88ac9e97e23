/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"

struct hashmap_node {
        struct hashmap_node *next;
        const char *key;
        void *value;
        uint64_t hash;
};

static uint64_t hash_string(const char *s) {
        uint64_t h = 14695981039346656037ULL; /* FNV-1a */
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 1099511628211ULL;
        return h;
}

void hashmap_init(struct hashmap *m) {
        *m = (struct hashmap){ 0 };
}

void hashmap_done_with(struct hashmap *m, void (*free_value)(void *)) {
        for (size_t i = 0; i < m->n_buckets; i++)
                for (struct hashmap_node *n = m->buckets[i], *next; n; n = next) {
                        next = n->next;
                        if (free_value)
                                free_value(n->value);
                        free(n);
                }
        free(m->buckets);
        hashmap_init(m);
}

void hashmap_done(struct hashmap *m) {
        hashmap_done_with(m, NULL);
}

static struct hashmap_node **find(const struct hashmap *m, const char *key, uint64_t hash) {
        struct hashmap_node **p;

        if (m->n_buckets == 0)
                return NULL;
        for (p = &m->buckets[hash & (m->n_buckets - 1)]; *p; p = &(*p)->next)
                if ((*p)->hash == hash && strcmp((*p)->key, key) == 0)
                        return p;
        return NULL;
}

void *hashmap_get(const struct hashmap *m, const char *key) {
        struct hashmap_node **p = find(m, key, hash_string(key));
        return p ? (*p)->value : NULL;
}

static int grow(struct hashmap *m) {
        size_t n = m->n_buckets ? m->n_buckets * 2 : 16;
        struct hashmap_node **b = calloc(n, sizeof(*b));

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_buckets; i++)
                for (struct hashmap_node *node = m->buckets[i], *next; node; node = next) {
                        next = node->next;
                        node->next = b[node->hash & (n - 1)];
                        b[node->hash & (n - 1)] = node;
                }
        free(m->buckets);
        m->buckets = b;
        m->n_buckets = n;
        return 0;
}

int hashmap_put(struct hashmap *m, const char *key, void *value) {
        uint64_t hash = hash_string(key);
        struct hashmap_node *node;

        if (find(m, key, hash))
                return -EEXIST;
        if (m->n >= m->n_buckets && grow(m) < 0)
                return -ENOMEM;
        node = malloc(sizeof(*node));
        if (!node)
                return -ENOMEM;
        *node = (struct hashmap_node){ m->buckets[hash & (m->n_buckets - 1)], key, value, hash };
        m->buckets[hash & (m->n_buckets - 1)] = node;
        m->n++;
        return 0;
}

void *hashmap_remove(struct hashmap *m, const char *key) {
        struct hashmap_node **p = find(m, key, hash_string(key)), *node;
        void *value;

        if (!p)
                return NULL;
        node = *p;
        value = node->value;
        *p = node->next;
        free(node);
        m->n--;
        return value;
}
