/* SPDX-License-Identifier: MIT */
#pragma once

/* Ships the daemon's own log lines (info and above) to the central log
 * service, in order, in batches, without ever blocking: the log sink only
 * appends to a bounded in-memory queue, and the event loop sends.
 *
 * While no log service is reachable lines wait in the queue. When it is
 * full the oldest lines are dropped; that is said on stderr at once and, as
 * a line of its own, in the central log once it is reachable again. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "httpc.h"
#include "server.h"

#define LOGSHIP_BATCH_MAX 100

struct logship_line {
        int priority;
        char *message;
        char time[32]; /* RFC 3339, UTC, milliseconds */
};

/* Where to send: the base URL of a log service, or NULL when none is known. */
typedef const char *(*logship_pick_t)(void *userdata);

struct logship {
        struct server *server;
        struct httpc *httpc;
        const char *service;
        logship_pick_t pick;
        void *pick_userdata;

        struct logship_line *ring;
        size_t capacity, head, n;
        size_t in_flight;          /* lines at the head being sent */
        size_t in_flight_evicted;  /* of those, evicted by overflow meanwhile */
        uint64_t in_flight_notice; /* drops told of in the batch's notice, or 0 */
        struct httpc_transfer *call;
        struct timer kick;
        uint64_t backoff_ms;
        bool draining;

        uint64_t dropped_unreported; /* still to be told to the central log */
        uint64_t n_dropped, n_shipped;
};

int logship_init(struct logship *ls, struct server *s, struct httpc *h, const char *service, size_t capacity,
                 logship_pick_t pick, void *pick_userdata);
/* Starts taking the lines of log_*() at info and above. */
void logship_attach(struct logship *ls);
void logship_done(struct logship *ls);
/* A provider may have appeared: try to send now. */
void logship_kick(struct logship *ls);
/* At shutdown: keeps the server busy until the queue is delivered (or the
 * server's deadline passes). */
void logship_drain(struct logship *ls);

/* Exposed for unit tests: queue a line as the sink does, and build the JSON
 * body of the next batch. */
void logship_push(struct logship *ls, int priority, const char *message);
char *logship_batch(struct logship *ls, size_t *ret_len, size_t *ret_lines, uint64_t *ret_notice);
