/* SPDX-License-Identifier: MIT */
#pragma once

/* Asynchronous HTTP client: libcurl's multi interface driven by the daemon's
 * own h2o event loop, so no daemon ever blocks on the network. A request's
 * callback runs exactly once, from the loop, unless httpc_cancel() ends it;
 * the transfer is freed right after its callback returns. */

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "timer.h"

struct httpc_transfer;

struct httpc_response {
        long status; /* 0 when no response arrived */
        int error;   /* 0, or a negative errno-like code for transport failures */
        const char *error_message;
        const char *body; /* NUL-terminated; "" when empty */
        size_t body_len;
        const char *content_type; /* NULL when none */
};

typedef void (*httpc_cb_t)(const struct httpc_response *res, void *userdata);

struct httpc_request {
        const char *method; /* default GET, or POST when body is set */
        const char *url;
        const char *content_type;
        const char *body; /* copied */
        size_t body_len;
        uint64_t timeout_ms; /* whole transfer; default 5 s */
        size_t max_response; /* larger bodies fail the transfer; default 1 MiB */
};

struct httpc {
        CURLM *multi;
        h2o_evloop_t *loop;
        struct timers *timers;
        struct timer timer;
        h2o_linklist_t transfers;
        size_t n_active;
        struct httpc_sock *in_action;
        bool in_action_removed;
        bool closing;
        CURL **idle; /* easy handles kept for the next transfers */
        size_t n_idle;
        struct httpc_sock **socks; /* by curl's fd */
        size_t n_socks;
};

int httpc_init(struct httpc *c, h2o_evloop_t *loop, struct timers *timers);
/* Idle keep-alive connections kept for reuse (default 256); each costs two
 * file descriptors. */
void httpc_set_max_connections(struct httpc *c, size_t n);
/* Ends every transfer still running: each callback runs with error
 * -ECANCELED (and may not start new transfers). */
void httpc_done(struct httpc *c);

int httpc_start(struct httpc *c, const struct httpc_request *req, httpc_cb_t cb, void *userdata,
                struct httpc_transfer **ret);
/* POST of a JSON body, the most common request here. */
int httpc_post_json(struct httpc *c, const char *url, const char *body, size_t len, uint64_t timeout_ms, httpc_cb_t cb,
                    void *userdata, struct httpc_transfer **ret);
/* Ends a transfer without calling its callback. */
void httpc_cancel(struct httpc *c, struct httpc_transfer *t);
