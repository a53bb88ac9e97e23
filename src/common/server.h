/* SPDX-License-Identifier: MIT */
#pragma once

/* The HTTP server every daemon runs: libh2o on its evloop, listening on the
 * sockets systemd passes or on --listen, routing by method and path, with
 * signals, the watchdog and timers handled inside the same loop.
 *
 * Life cycle: server_init(), add routes, server_listen(), then server_run()
 * until SIGTERM/SIGINT; it stops accepting, calls on_stop (say, to
 * deregister), finishes in-flight work within a deadline and returns. */

#include <stdbool.h>
#include <stddef.h>

#include "timer.h"

#define SERVER_MAX_PARAMS          4
#define SERVER_MAX_LISTENERS       8
#define SERVER_SHUTDOWN_TIMEOUT_MS 5000

struct server;

/* Path segments matched by "{...}" in a route's pattern, in order. */
struct route_params {
        h2o_iovec_t v[SERVER_MAX_PARAMS];
        size_t n;
};

typedef int (*route_handler_t)(void *userdata, h2o_req_t *req, const struct route_params *params);

struct route {
        const char *method; /* "GET" also answers HEAD; "*" any method */
        /* "/services/{name}": a {} matches one non-empty segment; a final "*"
         * matches the rest of the path. Patterns without "*" are tried first,
         * so a path they know gets 405 for another method. */
        const char *pattern;
        route_handler_t handler;
        void *userdata;
};

struct server_hooks {
        void (*on_stop)(void *userdata);   /* listeners closed; start async goodbyes */
        void (*on_reload)(void *userdata); /* SIGHUP */
        void (*on_watchdog)(void *userdata);
        void *userdata;
};

struct server {
        h2o_globalconf_t config;
        h2o_context_t ctx;
        h2o_accept_ctx_t accept_ctx;
        h2o_socket_t *listeners[SERVER_MAX_LISTENERS];
        size_t n_listeners;
        h2o_socket_t *signals;
        struct timers timers;
        struct timer watchdog;
        uint64_t watchdog_ms;

        struct route *routes;
        size_t n_routes;
        size_t max_body; /* larger bodies get 413 */
        struct server_hooks hooks;

        size_t busy; /* requests in flight plus server_hold()s */
        bool stop_requested;
        bool unfinished; /* the shutdown deadline passed with work left */
        uint64_t n_requests;
};

int server_init(struct server *s, size_t max_body);
void server_done(struct server *s);
int server_add_route(struct server *s, const struct route *r);
int server_add_routes(struct server *s, const struct route *r, size_t n, void *userdata);

/* Takes the sockets systemd passed or, failing that, binds "HOST:PORT".
 * -ENOTSOCK: systemd passed something else; -EDESTADDRREQ: no address. */
int server_listen(struct server *s, const char *address);
/* The URL peers reach this server at, from its first listening socket:
 * a wildcard address becomes the loopback address. */
int server_local_url(struct server *s, char **ret);

/* Returns 0 after a clean shutdown, -ETIMEDOUT when work was still
 * unfinished at the deadline, or another negative errno. */
int server_run(struct server *s);
void server_request_stop(struct server *s);
/* Work the shutdown waits for besides requests, such as a deregistration. */
static inline void server_hold(struct server *s) {
        s->busy++;
}
static inline void server_release(struct server *s) {
        s->busy--;
}

/* A path segment that is a positive decimal integer without leading zeros
 * (what "/students/{id}" takes); anything else is no id. */
bool route_parse_id(h2o_iovec_t segment, int64_t *ret);

/* Exposed for unit tests: matches a path against a pattern. */
bool route_match(const char *pattern, const char *path, size_t len, struct route_params *ret);
