/* SPDX-License-Identifier: MIT */
#include <malloc.h>

#include "log.h"
#include "registry.h"
#include "systemd.h"

/* Every interval, all providers are probed concurrently (up to max_probes in
 * flight, the rest queued). A failed probe is retried after the retry delay;
 * the Nth consecutive failure makes the provider critical and removes it from
 * discovery. A critical provider is probed each round and comes back on its
 * first success. So a provider that dies is out within
 * interval + (N-1) * retry + N * timeout. */

static void probe(struct registry *r, struct entry *e);

static void start_queued(struct registry *r) {
        struct heartbeats *h = &r->health;

        while (!h->stopped && h->n_probing < r->settings.max_probes && !h2o_linklist_is_empty(&h->queue)) {
                struct entry *e = H2O_STRUCT_FROM_MEMBER(struct entry, probe_queue, h->queue.next);
                h2o_linklist_unlink(&e->probe_queue);
                probe(r, e);
        }
}

static void enqueue(struct registry *r, struct entry *e) {
        if (!e->reg.heartbeat_url || e->probe || timer_pending(&e->probe_retry) ||
            h2o_linklist_is_linked(&e->probe_queue))
                return;
        h2o_linklist_insert(&r->health.queue, &e->probe_queue);
}

void registry_update_status(struct registry *r) {
        size_t passing = r->table.n_health[HEALTH_PASSING], critical = r->table.n_health[HEALTH_CRITICAL];

        systemd_notify_statusf("Serving %zu services: %zu passing, %zu critical, %zu unknown.", r->table.n, passing,
                               critical, r->table.n - passing - critical);
}

static void set_health(struct registry *r, struct entry *e, enum health health, time_t now, unsigned failures) {
        enum health old = e->health;

        table_set_health(&r->table, e, health, now, failures);
        if (old == health)
                return;
        if (health == HEALTH_CRITICAL) {
                log_warning("Service %s at %s is critical after %u failed heartbeats; removed from discovery.",
                            e->reg.name, e->reg.url, e->failures);
                patches_broadcast(r, e->reg.name, e->reg.url, false, NULL);
        } else if (old == HEALTH_CRITICAL) {
                log_info("Service %s at %s is passing again; back in discovery.", e->reg.name, e->reg.url);
                patches_broadcast(r, e->reg.name, e->reg.url, true, e);
        } else
                log_info("Service %s at %s is %s.", e->reg.name, e->reg.url, health_to_string(health));
        registry_update_status(r);
}

static void on_probe_done(const struct httpc_response *res, void *userdata) {
        struct entry *e = userdata;
        struct registry *r = e->registry;

        e->probe = NULL;
        r->health.n_probing--;
        if (res->error == -ECANCELED)
                return;
        if (res->status >= 200 && res->status < 300)
                set_health(r, e, HEALTH_PASSING, time(NULL), 0);
        else {
                unsigned failures = e->failures + 1;
                log_debug("Heartbeat of %s failed (%u): %s", e->reg.url, failures, res->error_message ?: "bad status");
                if (failures >= r->settings.heartbeat_failures)
                        set_health(r, e, HEALTH_CRITICAL, time(NULL), failures);
                else {
                        set_health(r, e, e->health, time(NULL), failures);
                        if (e->health != HEALTH_CRITICAL)
                                (void) timer_start(r->timers, &e->probe_retry, r->settings.heartbeat_retry_ms);
                }
        }
        start_queued(r);
        /* A round of probes allocated a transfer each; once it is over,
         * give the memory back rather than keep the peak. */
        if (r->health.n_probing == 0 && h2o_linklist_is_empty(&r->health.queue))
                (void) malloc_trim(0);
}

static void probe(struct registry *r, struct entry *e) {
        r->health.n_probes++;
        if (httpc_start(r->httpc,
                        &(struct httpc_request){ .url = e->reg.heartbeat_url,
                                                 .timeout_ms = r->settings.heartbeat_timeout_ms,
                                                 .max_response = 64 * 1024 },
                        on_probe_done, e, &e->probe) == 0)
                r->health.n_probing++;
}

static void on_probe_retry(struct timer *t) {
        struct entry *e = H2O_STRUCT_FROM_MEMBER(struct entry, probe_retry, t);
        enqueue(e->registry, e);
        start_queued(e->registry);
}

static void on_round(struct timer *t) {
        struct registry *r = H2O_STRUCT_FROM_MEMBER(struct registry, health.round, t);

        for (h2o_linklist_t *l = r->table.all.next; l != &r->table.all; l = l->next)
                enqueue(r, H2O_STRUCT_FROM_MEMBER(struct entry, link, l));
        start_queued(r);
        (void) timer_start(r->timers, &r->health.round, r->settings.heartbeat_interval_ms);
}

void health_probe_soon(struct registry *r, struct entry *e) {
        enqueue(r, e);
        start_queued(r);
}

void health_init_entry(struct entry *e) {
        timer_init(&e->probe_retry, on_probe_retry);
}

void health_start(struct registry *r) {
        h2o_linklist_init_anchor(&r->health.queue);
        timer_init(&r->health.round, on_round);
        /* The first round at once: loaded entries are unknown until probed. */
        (void) timer_start(r->timers, &r->health.round, 0);
}

void health_forget(struct registry *r, struct entry *e) {
        if (e->probe) {
                httpc_cancel(r->httpc, e->probe);
                e->probe = NULL;
                r->health.n_probing--;
        }
        timer_stop(r->timers, &e->probe_retry);
        if (h2o_linklist_is_linked(&e->probe_queue))
                h2o_linklist_unlink(&e->probe_queue);
        start_queued(r);
}

void health_stop(struct registry *r) {
        r->health.stopped = true;
        timer_stop(r->timers, &r->health.round);
        for (h2o_linklist_t *l = r->table.all.next; l != &r->table.all; l = l->next)
                health_forget(r, H2O_STRUCT_FROM_MEMBER(struct entry, link, l));
}
