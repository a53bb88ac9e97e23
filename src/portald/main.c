/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>

#include "log.h"
#include "portal.h"

#define SETTING(field) offsetof(struct portal_settings, field)

static const struct conf_key portal_keys[] = {
        { "data-directory", CONF_STRING, SETTING(data_directory), "DIR",
          "where templates/ and static/ are (default " PKGDATADIR ")" },
        { "upstream-timeout", CONF_DURATION, SETTING(upstream_timeout_ms), "DURATION",
          "time a call to another service may take (default 5s)", 10, 600000 },
};

static const struct conf_program portal_program = {
        .name = "grades-portald",
        .section = "portal",
        .description = "The grades portal: the web app, and the gateway to the services' APIs.",
        .keys = portal_keys,
        .n_keys = ELEMENTSOF(portal_keys),
};

static int run(int argc, char **argv) {
        static const char *const required[] = { "LogService", "GradingService", NULL };
        static struct portal p = {
                .settings = { .common.log_level = LOG_INFO, .upstream_timeout_ms = 5000 },
        };
        static const struct daemon_info info = {
                .program = &portal_program,
                .service_name = "PortalService",
                .required = required,
                .default_listen = "127.0.0.1:5005",
                .max_body = 64 * 1024,
                .ship_logs = true,
        };
        int r;

        r = daemon_init(&p.daemon, &info, &p.settings, argc, argv);
        if (r <= 0)
                goto finish;
        if (!p.settings.data_directory && !(p.settings.data_directory = strdup(PKGDATADIR))) {
                r = log_oom();
                goto finish;
        }
        if ((r = views_load(&p)) < 0)
                goto finish;
        /* The gateway's wildcard routes go before the pages' catch-all. */
        if ((r = gateway_add_routes(&p)) < 0 || (r = pages_add_routes(&p)) < 0) {
                log_oom();
                goto finish;
        }
        r = daemon_listen(&p.daemon);
        if (r < 0)
                goto finish;
        daemon_ready(&p.daemon, "Serving pages.");
        r = daemon_run(&p.daemon);

finish:
        daemon_done(&p.daemon);
        views_free(&p);
        return r;
}

DEFINE_MAIN_FUNCTION(run);
