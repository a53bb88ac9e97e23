/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>

#include "log.h"
#include "registry.h"

#define SETTING(field) offsetof(struct registry_settings, field)

static const struct conf_key registry_keys[] = {
        { "heartbeat-interval", CONF_DURATION, SETTING(heartbeat_interval_ms), "DURATION",
          "time between heartbeat rounds (default 3s)", 10, 3600000 },
        { "heartbeat-timeout", CONF_DURATION, SETTING(heartbeat_timeout_ms), "DURATION",
          "time a heartbeat may take (default 1s)", 10, 600000 },
        { "heartbeat-retry", CONF_DURATION, SETTING(heartbeat_retry_ms), "DURATION",
          "delay before retrying a failed heartbeat (default 1s)", 10, 600000 },
        { "heartbeat-failures", CONF_UINT, SETTING(heartbeat_failures), "N",
          "consecutive failures that make a service critical (default 3)", 1, 100 },
        { "max-probes", CONF_UINT, SETTING(max_probes), "N", "heartbeats in flight at once (default 256)", 1, 100000 },
        { "patch-timeout", CONF_DURATION, SETTING(patch_timeout_ms), "DURATION",
          "time a patch delivery may take (default 2s)", 10, 600000 },
        { "patch-queue", CONF_UINT, SETTING(patch_queue), "N", "undelivered patches kept per dependent (default 100)",
          2, 100000 },
};

static const struct conf_program registry_program = {
        .name = "grades-registryd",
        .section = "registry",
        .description = "The grades service registry: registrations, heartbeats and patches.",
        .keys = registry_keys,
        .n_keys = ELEMENTSOF(registry_keys),
};

static void on_stop(void *userdata) {
        struct registry *r = userdata;

        health_stop(r);
        registry_remove_self(r);
        /* Registrations still waiting for their first patch have succeeded:
         * answer them now rather than hold the shutdown. */
        for (h2o_linklist_t *l = r->table.all.next; l != &r->table.all; l = l->next)
                entry_answer_waiter(H2O_STRUCT_FROM_MEMBER(struct entry, link, l));
}

static int run(int argc, char **argv) {
        static struct registry r = {
                .settings = {
                        .common.log_level = LOG_INFO,
                        .heartbeat_interval_ms = 3000,
                        .heartbeat_timeout_ms = 1000,
                        .heartbeat_retry_ms = 1000,
                        .heartbeat_failures = 3,
                        .max_probes = 256,
                        .patch_timeout_ms = 2000,
                        .patch_queue = 100,
                },
        };
        static const struct daemon_info info = {
                .program = &registry_program,
                .service_name = "RegistryService",
                .default_listen = "127.0.0.1:3000",
                .max_body = 64 * 1024,
                .ship_logs = true,
                .pick_log_service = registry_pick_log_service,
                .on_stop = on_stop,
                .userdata = &r,
        };
        int ret;

        table_init(&r.table);
        ret = daemon_init(&r.daemon, &info, &r.settings, argc, argv);
        if (ret <= 0)
                goto finish;
        r.timers = &r.daemon.server.timers;
        r.httpc = &r.daemon.httpc;
        /* Keep a connection to each peer a round of probes talks to at once. */
        httpc_set_max_connections(r.httpc, r.settings.max_probes + 64);
        ret = api_add_routes(&r);
        if (ret < 0) {
                log_oom();
                goto finish;
        }
        ret = store_open(&r);
        if (ret < 0) {
                log_error_errno(ret, "Failed to open the state directory %s: %m", r.settings.common.state_directory);
                goto finish;
        }
        ret = store_load(&r);
        if (ret < 0)
                goto finish;
        ret = daemon_listen(&r.daemon);
        if (ret < 0)
                goto finish;
        ret = registry_add_self(&r);
        if (ret < 0) {
                log_oom();
                goto finish;
        }

        health_start(&r);
        log_info("%zu services registered (itself included), state in %s.", r.table.n, r.store.path);
        daemon_ready(&r.daemon, "Serving.");
        registry_update_status(&r);
        ret = daemon_run(&r.daemon);

finish:
        if (r.timers) {
                health_stop(&r);
                if (store_close(&r) < 0 && ret == 0)
                        ret = -EIO;
                /* Cancels transfers in flight, whose callbacks still see the table. */
                httpc_done(r.httpc);
                for (h2o_linklist_t *l = r.table.all.next; l != &r.table.all; l = l->next)
                        patches_cancel(&r, H2O_STRUCT_FROM_MEMBER(struct entry, link, l));
        }
        table_done(&r.table);
        daemon_done(&r.daemon);
        return ret;
}

DEFINE_MAIN_FUNCTION(run);
