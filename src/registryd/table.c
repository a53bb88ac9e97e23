/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "registry.h"

void table_init(struct table *t) {
        *t = (struct table){ 0 };
        hashmap_init(&t->by_url);
        hashmap_init(&t->by_name);
        h2o_linklist_init_anchor(&t->all);
        t->n = 0;
}

const char *health_to_string(enum health h) {
        switch (h) {
        case HEALTH_PASSING: return "passing";
        case HEALTH_CRITICAL: return "critical";
        default: return "unknown";
        }
}

/* Unknown entries are in discovery: a new registration is usable at once,
 * as in the seed, and leaves only after failing its heartbeats. */
bool entry_discoverable(const struct entry *e) {
        return e->health != HEALTH_CRITICAL;
}

struct entry *table_find(struct table *t, const char *url) {
        return hashmap_get(&t->by_url, url);
}

struct group *table_group(struct table *t, const char *name) {
        return hashmap_get(&t->by_name, name);
}

static struct group *group_get(struct table *t, const char *name) {
        struct group *g = table_group(t, name);

        if (g)
                return g;
        g = calloc(1, sizeof(*g));
        if (!g || !(g->name = strdup(name)) || hashmap_put(&t->by_name, g->name, g) < 0) {
                if (g)
                        free(g->name);
                free(g);
                return NULL;
        }
        return g;
}

static void group_maybe_free(struct table *t, struct group *g) {
        if (g->n_providers || g->n_dependents)
                return;
        hashmap_remove(&t->by_name, g->name);
        free(g->providers);
        free(g->dependents);
        free(g->name);
        free(g);
}

static int array_append(struct entry ***a, size_t *n, struct entry *e) {
        struct entry **p = reallocarray(*a, *n + 1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p[(*n)++] = e;
        *a = p;
        return 0;
}

/* Keeps registration order, so patches and listings are stable. */
static void array_remove(struct entry **a, size_t *n, struct entry *e) {
        for (size_t i = 0; i < *n; i++)
                if (a[i] == e) {
                        memmove(&a[i], &a[i + 1], (*n - i - 1) * sizeof(*a));
                        (*n)--;
                        return;
                }
}

static void unindex(struct table *t, struct entry *e, size_t n_required) {
        struct group *g;

        for (size_t i = 0; i < n_required; i++)
                if ((g = table_group(t, e->reg.required[i]))) {
                        array_remove(g->dependents, &g->n_dependents, e);
                        group_maybe_free(t, g);
                }
        if ((g = table_group(t, e->reg.name))) {
                array_remove(g->providers, &g->n_providers, e);
                group_maybe_free(t, g);
        }
}

static char *registration_json(const struct registration *reg, size_t *ret_len) {
        _cleanup_json_ struct json_object *o = registration_to_json(reg);
        const char *s = json_to_string(o, ret_len);
        return strndup(s, *ret_len);
}

int table_add(struct table *t, struct registry *r, struct registration *reg, struct entry **ret) {
        struct entry *e = calloc(1, sizeof(*e));
        struct group *g;
        size_t i;

        if (!e)
                return -ENOMEM;
        e->json = registration_json(reg, &e->json_len);
        if (!e->json) {
                free(e);
                return -ENOMEM;
        }
        e->reg = *reg;
        e->registry = r;
        h2o_linklist_init_anchor(&e->outbox);
        if (hashmap_put(&t->by_url, e->reg.url, e) < 0) {
                free(e->json);
                free(e);
                return -EEXIST;
        }
        if (!(g = group_get(t, e->reg.name)) || array_append(&g->providers, &g->n_providers, e) < 0)
                goto fail;
        for (i = 0; i < e->reg.n_required; i++)
                if (!(g = group_get(t, e->reg.required[i])) || array_append(&g->dependents, &g->n_dependents, e) < 0) {
                        unindex(t, e, i);
                        hashmap_remove(&t->by_url, e->reg.url);
                        free(e->json);
                        free(e);
                        return -ENOMEM;
                }
        h2o_linklist_insert(&t->all, &e->link);
        t->n++;
        t->n_health[e->health]++;
        t->listing_valid = false;
        *reg = (struct registration){ 0 };
        *ret = e;
        return 0;
fail:
        unindex(t, e, 0);
        hashmap_remove(&t->by_url, e->reg.url);
        free(e->json);
        free(e);
        return -ENOMEM;
}

void table_remove(struct table *t, struct entry *e) {
        unindex(t, e, e->reg.n_required);
        hashmap_remove(&t->by_url, e->reg.url);
        h2o_linklist_unlink(&e->link);
        t->n--;
        t->n_health[e->health]--;
        t->listing_valid = false;
}

void entry_free(struct entry *e) {
        registration_done(&e->reg);
        free(e->json);
        free(e);
}

void table_done(struct table *t) {
        while (!h2o_linklist_is_empty(&t->all)) {
                struct entry *e = H2O_STRUCT_FROM_MEMBER(struct entry, link, t->all.next);
                table_remove(t, e);
                entry_free(e);
        }
        hashmap_done(&t->by_url);
        hashmap_done(&t->by_name);
        buf_done(&t->listing);
}

void table_set_health(struct table *t, struct entry *e, enum health h, time_t last_check, unsigned failures) {
        /* LastCheck is shown to the second: a probe in the same second with
         * the same outcome changes nothing anyone can see. */
        if (e->health != h || e->failures != failures || e->last_check != last_check)
                t->listing_valid = false;
        t->n_health[e->health]--;
        t->n_health[h]++;
        e->health = h;
        e->last_check = last_check;
        e->failures = failures;
}

void entry_append_json(struct buf *out, const struct entry *e) {
        char when[32];
        struct tm tm;

        /* The registration's JSON less its closing brace, then the health. */
        buf_append(out, e->json, e->json_len - 1);
        buf_appendf(out, ",\"Status\":\"%s\",\"LastCheck\":", health_to_string(e->health));
        if (e->last_check) {
                strftime(when, sizeof(when), "\"%Y-%m-%dT%H:%M:%SZ\"", gmtime_r(&e->last_check, &tm));
                buf_append(out, when, strlen(when));
        } else
                buf_append(out, "null", 4);
        buf_appendf(out, ",\"Failures\":%u}", e->failures);
}

const struct buf *table_listing(struct table *t) {
        if (t->listing_valid && !t->listing.failed)
                return &t->listing;
        buf_done(&t->listing);
        buf_putc(&t->listing, '[');
        for (h2o_linklist_t *l = t->all.next; l != &t->all; l = l->next) {
                if (l != t->all.next)
                        buf_putc(&t->listing, ',');
                entry_append_json(&t->listing, H2O_STRUCT_FROM_MEMBER(struct entry, link, l));
        }
        buf_putc(&t->listing, ']');
        t->listing_valid = true;
        return &t->listing;
}

const char *registry_pick_log_service(void *userdata) {
        struct registry *r = userdata;
        struct group *g = table_group(&r->table, "LogService");

        for (size_t i = 0; g && i < g->n_providers; i++) {
                struct entry *e = g->providers[(r->next_log_service + i) % g->n_providers];
                if (entry_discoverable(e)) {
                        r->next_log_service += i + 1;
                        return e->reg.url;
                }
        }
        return NULL;
}
