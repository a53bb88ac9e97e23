/* SPDX-License-Identifier: MIT */
#include <malloc.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "log.h"
#include "systemd.h"

static const char *pick_log_service(void *userdata) {
        struct daemon *d = userdata;

        if (d->info->pick_log_service)
                return d->info->pick_log_service(d->info->userdata);
        return regclient_pick(&d->regclient, "LogService");
}

static bool registers(const struct daemon *d) {
        return !d->info->pick_log_service;
}

static void on_providers_changed(void *userdata) {
        struct daemon *d = userdata;
        if (d->info->ship_logs)
                logship_kick(&d->logship);
}

static void on_stop(void *userdata) {
        struct daemon *d = userdata;

        systemd_notify_stopping("Shutting down.");
        log_info("Shutting down.");
        if (d->info->on_stop)
                d->info->on_stop(d->info->userdata);
        if (d->registering)
                regclient_stop(&d->regclient);
        if (d->info->ship_logs)
                logship_drain(&d->logship);
}

static void on_reload(void *userdata) {
        struct daemon *d = userdata;
        if (d->info->on_reload)
                d->info->on_reload(d->info->userdata);
}

int daemon_init(struct daemon *d, const struct daemon_info *info, void *settings, int argc, char **argv) {
        int r;

        *d = (struct daemon){ .info = info, .settings = settings };
        /* Large buffers (a state file, a listing) are mapped and given back
         * when freed. By default glibc raises this threshold after the first
         * such free, and then keeps every later peak in the heap. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        log_setup(info->program->name);
        r = conf_load(info->program, settings, argc, argv);
        if (r <= 0)
                return r;
        log_set_max_level(d->settings->log_level);
        if (!d->settings->listen && !(d->settings->listen = strdup(info->default_listen)))
                return log_oom();
        if (!d->settings->registry && !(d->settings->registry = strdup("http://127.0.0.1:3000")))
                return log_oom();
        if (d->settings->log_queue == 0)
                d->settings->log_queue = 10000;

        r = server_init(&d->server, info->max_body);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP server: %m");
        d->initialised = true;
        d->server.hooks = (struct server_hooks){ .on_stop = on_stop, .on_reload = on_reload, .userdata = d };
        /* Before any thread exists: curl's global set-up is not thread-safe. */
        r = httpc_init(&d->httpc, d->server.ctx.loop, &d->server.timers);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the HTTP client: %m");
        r = logship_init(&d->logship, &d->server, &d->httpc, info->service_name, d->settings->log_queue,
                         pick_log_service, d);
        if (r < 0)
                return log_oom();
        /* From here on, so that lines logged while loading state are shipped
         * too, once a log service is known. */
        if (info->ship_logs)
                logship_attach(&d->logship);
        return 1;
}

int daemon_listen(struct daemon *d) {
        int r = server_listen(&d->server, d->settings->listen);

        if (r == -EDESTADDRREQ)
                return log_error_errno(r, "No socket from systemd and no --listen=HOST:PORT.");
        if (r < 0)
                return log_error_errno(r, "Failed to listen (on %s, or on the sockets systemd passed): %m",
                                       d->settings->listen);
        if (d->settings->advertise)
                d->url = strdup(d->settings->advertise);
        else if ((r = server_local_url(&d->server, &d->url)) < 0)
                return log_error_errno(r, "Cannot tell this daemon's URL; set --advertise=URL: %m");
        if (!d->url)
                return log_oom();
        if (!registers(d))
                goto done;
        r = regclient_init(&d->regclient, &d->server, &d->httpc, d->settings->registry, d->info->service_name, d->url,
                           d->info->required);
        if (r == -EINVAL)
                return log_error_errno(r, "Invalid URL: registry '%s' or advertise '%s' is not http(s)://host[:port].",
                                       d->settings->registry, d->url);
        if (r < 0)
                return log_error_errno(r, "Failed to set up registration: %m");
        d->regclient.on_change = on_providers_changed;
        d->regclient.userdata = d;
        r = regclient_set_fallbacks(&d->regclient, d->settings->static_providers);
        if (r < 0)
                return log_error_errno(r, "Invalid static-providers '%s': expected NAME=URL, separated by spaces.",
                                       d->settings->static_providers);
done:
        return 0;
}

void daemon_ready(struct daemon *d, const char *status) {
        systemd_notify_ready(status);
        if (!registers(d)) {
                log_info("Ready: serving at %s.", d->url);
                return;
        }
        log_info("Ready: serving at %s, registering as %s with %s.", d->url, d->info->service_name,
                 d->settings->registry);
        d->registering = true;
        regclient_start(&d->regclient);
}

void daemon_providers_changed(struct daemon *d) {
        on_providers_changed(d);
}

int daemon_run(struct daemon *d) {
        int r = server_run(&d->server);

        if (r == -ETIMEDOUT) {
                log_warning("Stopped with work unfinished at the shutdown deadline.");
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        return 0;
}

void daemon_done(struct daemon *d) {
        if (d->initialised) {
                httpc_done(&d->httpc);
                logship_done(&d->logship);
                if (d->regclient.server)
                        regclient_done(&d->regclient);
                server_done(&d->server);
        }
        free(d->url);
        conf_free(d->info->program, d->settings);
}

int daemon_make_directory(const char *dir) {
        _cleanup_free_ char *path = strdup(dir);

        if (!path)
                return -ENOMEM;
        /* Like mkdir -p: each missing parent, then the directory. */
        for (char *p = path + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}
