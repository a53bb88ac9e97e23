/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "log.h"
#include "registry.h"

#define DELIVERY_BACKOFF_MIN_MS 100
#define DELIVERY_BACKOFF_MAX_MS 5000

/* One patch waiting for delivery to one dependent. */
struct patch_out {
        h2o_linklist_t link;
        char *body;
        size_t len;
        uint64_t version;
};

static struct json_object *entry_array(const char *name, const char *url) {
        struct json_object *a = json_object_new_array(), *e;

        if (!name)
                return a;
        e = json_object_new_object();
        json_object_object_add(e, "Name", json_object_new_string(name));
        json_object_object_add(e, "URL", json_object_new_string(url));
        json_object_array_add(a, e);
        return a;
}

static char *serialise(struct json_object *added, struct json_object *removed, uint64_t version, size_t *ret_len) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        const char *s;

        json_object_object_add(o, "Added", added);
        json_object_object_add(o, "Removed", removed);
        json_object_object_add(o, "Version", json_object_new_int64((int64_t) version));
        s = json_to_string(o, ret_len);
        return strndup(s, *ret_len);
}

char *patch_body(uint64_t version, const char *name, const char *url, bool added, size_t *ret_len) {
        return serialise(entry_array(added ? name : NULL, url), entry_array(added ? NULL : name, url), version,
                         ret_len);
}

static void deliver(struct registry *r, struct entry *e);

static void patch_out_free(struct patch_out *p) {
        h2o_linklist_unlink(&p->link);
        free(p->body);
        free(p);
}

void entry_answer_waiter(struct entry *e) {
        h2o_req_t *req = e->waiting_req;

        if (!req)
                return;
        /* The registration succeeded whatever became of the delivery. */
        *e->waiting_slot = NULL;
        e->waiting_req = NULL;
        e->waiting_slot = NULL;
        http_reply_empty(req, 200);
}

static void on_delivered(const struct httpc_response *res, void *userdata) {
        struct entry *e = userdata;
        struct registry *r = e->registry;
        struct patch_out *p = H2O_STRUCT_FROM_MEMBER(struct patch_out, link, e->outbox.next);

        e->delivery = NULL;
        if (res->error == -ECANCELED)
                return;
        entry_answer_waiter(e);
        if (res->status >= 200 && res->status < 300) {
                r->n_patches_sent++;
                e->delivery_backoff_ms = 0;
                patch_out_free(p);
                e->n_outbox--;
                deliver(r, e);
                return;
        }
        r->n_patches_failed++;
        if (e->delivery_backoff_ms == 0)
                log_debug("Patch %" PRIu64 " to %s failed (%s), retrying.", p->version, e->reg.update_url,
                          res->error_message ?: "bad status");
        e->delivery_backoff_ms = e->delivery_backoff_ms ? e->delivery_backoff_ms * 2 : DELIVERY_BACKOFF_MIN_MS;
        if (e->delivery_backoff_ms > DELIVERY_BACKOFF_MAX_MS)
                e->delivery_backoff_ms = DELIVERY_BACKOFF_MAX_MS;
        (void) timer_start(r->timers, &e->delivery_retry, e->delivery_backoff_ms);
}

static void on_delivery_retry(struct timer *t) {
        struct entry *e = H2O_STRUCT_FROM_MEMBER(struct entry, delivery_retry, t);
        deliver(e->registry, e);
}

/* One patch in flight per dependent, so they arrive in Version order. */
static void deliver(struct registry *r, struct entry *e) {
        struct patch_out *p;

        if (e->delivery || timer_pending(&e->delivery_retry) || h2o_linklist_is_empty(&e->outbox))
                return;
        p = H2O_STRUCT_FROM_MEMBER(struct patch_out, link, e->outbox.next);
        if (httpc_post_json(r->httpc, e->reg.update_url, p->body, p->len, r->settings.patch_timeout_ms, on_delivered, e,
                            &e->delivery) < 0) {
                entry_answer_waiter(e);
                (void) timer_start(r->timers, &e->delivery_retry, DELIVERY_BACKOFF_MAX_MS);
        }
}

static int enqueue(struct registry *r, struct entry *e, char *body, size_t len) {
        struct patch_out *p;

        if (!body)
                return -ENOMEM;
        p = calloc(1, sizeof(*p));
        if (!p) {
                free(body);
                return -ENOMEM;
        }
        *p = (struct patch_out){ .body = body, .len = len, .version = e->version };
        h2o_linklist_insert(&e->outbox, &p->link);
        e->n_outbox++;
        /* A dependent that stays unreachable loses its oldest patches, never
         * the newest: the gap in Version tells it to resync once it is back.
         * The patch in flight, if any, is the first and stays too. */
        while (e->n_outbox > r->settings.patch_queue) {
                h2o_linklist_t *victim = e->outbox.next;
                if (e->delivery)
                        victim = victim->next;
                patch_out_free(H2O_STRUCT_FROM_MEMBER(struct patch_out, link, victim));
                e->n_outbox--;
        }
        deliver(r, e);
        return 0;
}

void patches_init_entry(struct entry *e) {
        timer_init(&e->delivery_retry, on_delivery_retry);
}

void patches_broadcast(struct registry *r, const char *name, const char *url, bool added, struct entry *except) {
        struct group *g = table_group(&r->table, name);

        if (added && streq(name, "LogService"))
                daemon_providers_changed(&r->daemon);
        if (!g)
                return;
        for (size_t i = 0; i < g->n_dependents; i++) {
                struct entry *d = g->dependents[i];
                size_t len;
                char *body;

                if (d == except)
                        continue;
                body = patch_body(++d->version, name, url, added, &len);
                if (enqueue(r, d, body, len) < 0)
                        log_warning("Out of memory: patch for %s dropped; it will resync.", d->reg.url);
        }
}

int patches_send_initial(struct registry *r, struct entry *e) {
        struct json_object *added = json_object_new_array();
        size_t len;
        char *body;

        for (size_t i = 0; i < e->reg.n_required; i++) {
                struct group *g = table_group(&r->table, e->reg.required[i]);
                for (size_t j = 0; g && j < g->n_providers; j++) {
                        struct entry *p = g->providers[j];
                        if (!entry_discoverable(p))
                                continue;
                        struct json_object *item = json_object_new_object();
                        json_object_object_add(item, "Name", json_object_new_string(p->reg.name));
                        json_object_object_add(item, "URL", json_object_new_string(p->reg.url));
                        json_object_array_add(added, item);
                }
        }
        body = serialise(added, json_object_new_array(), ++e->version, &len);
        return enqueue(r, e, body, len);
}

void patches_cancel(struct registry *r, struct entry *e) {
        if (e->delivery)
                httpc_cancel(r->httpc, e->delivery);
        e->delivery = NULL;
        timer_stop(r->timers, &e->delivery_retry);
        while (!h2o_linklist_is_empty(&e->outbox))
                patch_out_free(H2O_STRUCT_FROM_MEMBER(struct patch_out, link, e->outbox.next));
        e->n_outbox = 0;
        entry_answer_waiter(e);
}
