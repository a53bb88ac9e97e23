/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>

#include "grading.h"
#include "log.h"

#define SETTING(field) offsetof(struct grading_settings, field)

static const struct conf_key grading_keys[] = {
        { "data-directory", CONF_STRING, SETTING(data_directory), "DIR",
          "where schema/ and students.json are (default " PKGDATADIR ")" },
        { "busy-timeout", CONF_DURATION, SETTING(busy_timeout_ms), "DURATION",
          "how long to wait for another process's lock on the database (default 5s)", 0, 600000 },
};

static const struct conf_program grading_program = {
        .name = "grades-gradingd",
        .section = "grading",
        .description = "The grades grading service: students and their grades, in SQLite.",
        .keys = grading_keys,
        .n_keys = ELEMENTSOF(grading_keys),
};

static int run(int argc, char **argv) {
        static const char *const required[] = { "LogService", NULL };
        static struct grading g = {
                .settings = { .common.log_level = LOG_INFO, .busy_timeout_ms = 5000 },
        };
        static const struct daemon_info info = {
                .program = &grading_program,
                .service_name = "GradingService",
                .required = required,
                .default_listen = "127.0.0.1:6000",
                .max_body = 64 * 1024,
                .ship_logs = true,
        };
        _cleanup_free_ char *path = NULL;
        int r;

        cache_init(&g.cache);
        r = daemon_init(&g.daemon, &info, &g.settings, argc, argv);
        if (r <= 0)
                goto finish;
        if (!g.settings.data_directory && !(g.settings.data_directory = strdup(PKGDATADIR))) {
                r = log_oom();
                goto finish;
        }
        if (asprintf(&path, "%s/grades.db", g.settings.common.state_directory) < 0) {
                r = log_oom();
                goto finish;
        }
        if ((r = daemon_make_directory(g.settings.common.state_directory)) < 0) {
                log_error_errno(r, "Cannot create the state directory %s: %m", g.settings.common.state_directory);
                goto finish;
        }
        /* The schema is migrated and the data loaded before READY=1. */
        if ((r = db_open(&g.db, path, g.settings.busy_timeout_ms)) < 0 ||
            (r = db_migrate(&g.db, g.settings.data_directory)) < 0 || (r = db_prepare(&g.db)) < 0)
                goto finish;
        (void) db_changed_elsewhere(&g.db);
        if ((r = grading_add_routes(&g)) < 0) {
                log_oom();
                goto finish;
        }
        r = daemon_listen(&g.daemon);
        if (r < 0)
                goto finish;
        log_info("Database %s open.", path);
        daemon_ready(&g.daemon, "Serving grades.");
        r = daemon_run(&g.daemon);

finish:
        daemon_done(&g.daemon);
        cache_clear(&g.cache);
        db_close(&g.db);
        return r;
}

DEFINE_MAIN_FUNCTION(run);
