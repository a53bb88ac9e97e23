/* SPDX-License-Identifier: MIT */
#pragma once

/* The registry client every daemon runs: it registers the daemon (retrying
 * with backoff while the registry is unreachable, never blocking start-up or
 * serving), answers the registry's heartbeats on GET /heartbeat, keeps a
 * table of providers from the patches POSTed to /providers (resyncing from
 * GET /services/{name} when a patch's Version shows a gap), picks providers
 * round-robin, and deregisters on a clean shutdown. GET /providers shows the
 * table. */

#include <stdbool.h>
#include <stdint.h>

#include "httpc.h"
#include "registration.h"
#include "server.h"

#define REGCLIENT_BACKOFF_MIN_MS 100
#define REGCLIENT_BACKOFF_MAX_MS 5000

struct provider_list {
        char *name;
        char **urls;
        size_t n, next;
        char *fallback; /* from static-providers: used while discovery has none */
};

struct regclient {
        struct server *server;
        struct httpc *httpc;
        char *registry_url; /* without a trailing slash */
        struct registration self;

        bool registered, stopping;
        struct httpc_transfer *call; /* registration or deregistration in flight */
        struct timer retry;
        uint64_t backoff_ms;

        struct provider_list *providers; /* one per required name */
        uint64_t version;                /* of the last patch applied */
        struct timer resync_timer;
        size_t resyncs_running;
        bool resync_again;
        uint64_t n_patches, n_resyncs;

        void (*on_change)(void *userdata);
        void *userdata;
};

/* advertise is the URL the daemon is reached at; /heartbeat and /providers
 * are served under it. required is NULL-terminated (or NULL). */
int regclient_init(struct regclient *c, struct server *s, struct httpc *h, const char *registry_url, const char *name,
                   const char *advertise, const char *const *required);
void regclient_done(struct regclient *c);
void regclient_start(struct regclient *c);
/* Deregisters; the server's shutdown waits for it (bounded by its deadline). */
void regclient_stop(struct regclient *c);
/* The next provider of name, round-robin; while discovery knows none, the
 * static fallback for name, if any; else NULL. */
const char *regclient_pick(struct regclient *c, const char *name);
/* "Name=URL Name=URL ...": where to find a required service while the
 * registry has not (yet) told of any, so that a socket-activated provider
 * is started by the first call to it. */
int regclient_set_fallbacks(struct regclient *c, const char *spec);
