/* SPDX-License-Identifier: MIT */
#pragma once

/* What every grades daemon does around its own routes, written once:
 * settings, the HTTP server and client, registration with the registry,
 * shipping its log lines to the central log, readiness and shutdown.
 *
 *   daemon_init()    settings from file and argv, server and client set up
 *   (add routes, load state)
 *   daemon_listen()  sockets from systemd or --listen; registration prepared
 *   daemon_ready()   READY=1, then register
 *   daemon_run()     the event loop until SIGTERM, then a graceful stop
 *   daemon_done()    frees everything */

#include <stdbool.h>

#include "conf.h"
#include "httpc.h"
#include "logship.h"
#include "regclient.h"
#include "server.h"

struct daemon_info {
        const struct conf_program *program;
        const char *service_name;    /* "LogService" */
        const char *const *required; /* NULL-terminated, or NULL */
        const char *default_listen;  /* "127.0.0.1:4000" */
        size_t max_body;
        bool ship_logs; /* false for the log service itself */
        /* The registry neither registers with itself nor asks itself for
         * patches: it finds the log service in its own table. */
        const char *(*pick_log_service)(void *userdata);
        void (*on_stop)(void *userdata);   /* before deregistering */
        void (*on_reload)(void *userdata); /* SIGHUP */
        void *userdata;
};

struct daemon {
        const struct daemon_info *info;
        struct conf_common *settings;
        struct server server;
        struct httpc httpc;
        struct regclient regclient;
        struct logship logship;
        char *url; /* what it registers as */
        bool initialised, registering;
};

/* Returns 1 to go on, 0 to exit successfully (--help), or a negative errno
 * (already reported). settings starts with a struct conf_common and holds
 * the defaults. */
int daemon_init(struct daemon *d, const struct daemon_info *info, void *settings, int argc, char **argv);
int daemon_listen(struct daemon *d);
void daemon_ready(struct daemon *d, const char *status);
int daemon_run(struct daemon *d);
/* Creates dir and its parents unless they exist: outside systemd the state
 * and logs directories may be new. */
int daemon_make_directory(const char *dir);
/* Tells the log shipper that a log service may have appeared. */
void daemon_providers_changed(struct daemon *d);
void daemon_done(struct daemon *d);
