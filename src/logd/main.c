/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>

#include "log.h"
#include "logd.h"

#define SETTING(field) offsetof(struct logd_settings, field)

static const struct conf_key logd_keys[] = {
        { "recent-lines", CONF_UINT, SETTING(recent_lines), "N", "entries kept in memory for GET /log (default 1000)",
          1, 1000000 },
};

static const struct conf_program logd_program = {
        .name = "grades-logd",
        .section = "log",
        .description = "The grades central log: every service's lines in one file.",
        .keys = logd_keys,
        .n_keys = ELEMENTSOF(logd_keys),
};

/* The log service's own lines go straight into the central log. */
static void own_sink(int level, const char *message, void *userdata) {
        struct logd *l = userdata;
        struct log_entry e = {
                .service = "LogService", .priority = level, .message = message, .message_len = strlen(message)
        };
        (void) logd_store(l, &e, 1);
}

static void on_reload(void *userdata) {
        struct logd *l = userdata;
        int r;

        /* What was received before the signal goes to the old file. */
        (void) logd_flush(l);
        r = central_file_reopen(&l->file);

        if (r < 0)
                log_error_errno(r, "Failed to reopen %s, still writing to the old file: %m", l->file.path);
        else
                log_info("Reopened %s.", l->file.path);
}

static int run(int argc, char **argv) {
        static struct logd l = {
                .settings = { .common.log_level = LOG_INFO, .recent_lines = 1000 },
        };
        static const struct daemon_info info = {
                .program = &logd_program,
                .service_name = "LogService",
                .default_listen = "127.0.0.1:4000",
                .max_body = 1024 * 1024,
                .ship_logs = false,
                .on_reload = on_reload,
                .userdata = &l,
        };
        int r;

        l.file.fd = -1;
        logd_batch_init(&l);
        r = daemon_init(&l.daemon, &info, &l.settings, argc, argv);
        if (r <= 0)
                goto finish;
        r = central_file_open(&l.file, l.settings.common.logs_directory);
        if (r < 0) {
                log_error_errno(r, "Failed to open the central log in %s: %m", l.settings.common.logs_directory);
                goto finish;
        }
        r = recent_init(&l.recent, l.settings.recent_lines);
        if (r < 0 || (r = logd_add_routes(&l)) < 0) {
                log_oom();
                goto finish;
        }
        r = daemon_listen(&l.daemon);
        if (r < 0)
                goto finish;
        log_set_sink(own_sink, LOG_INFO, &l);
        daemon_ready(&l.daemon, "Writing the central log.");
        r = daemon_run(&l.daemon);

finish:
        if (l.file.fd >= 0)
                (void) logd_flush(&l);
        log_set_sink(NULL, 0, NULL);
        daemon_done(&l.daemon);
        recent_done(&l.recent);
        central_file_close(&l.file);
        return r;
}

DEFINE_MAIN_FUNCTION(run);
