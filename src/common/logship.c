/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "clock.h"
#include "http.h"
#include "log.h"
#include "logship.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

static struct logship_line *line_at(struct logship *ls, size_t i) {
        return &ls->ring[(ls->head + i) % ls->capacity];
}

static void pop(struct logship *ls) {
        struct logship_line *l = line_at(ls, 0);

        free(l->message);
        l->message = NULL;
        ls->head = (ls->head + 1) % ls->capacity;
        ls->n--;
}

void logship_push(struct logship *ls, int priority, const char *message) {
        struct logship_line *l;
        char *copy = strdup(message);

        if (!copy)
                return;
        if (ls->n == ls->capacity) {
                /* The count, at once, at 1, 2, 4, 8... drops: never silent, never a flood. */
                uint64_t dropped = ls->dropped_unreported + ls->in_flight_evicted + 1;
                if ((dropped & (dropped - 1)) == 0)
                        fprintf(stderr,
                                "<4>%s: Log queue full (%zu lines): %" PRIu64 " of the oldest lines dropped so far "
                                "while the log service is unreachable.\n",
                                ls->service, ls->capacity, dropped);
                if (ls->in_flight > 0) {
                        /* Already on its way; lost only if that batch fails. */
                        ls->in_flight--;
                        ls->in_flight_evicted++;
                } else {
                        ls->dropped_unreported++;
                        ls->n_dropped++;
                }
                pop(ls);
        }
        l = line_at(ls, ls->n++);
        l->priority = priority;
        l->message = copy;
        format_time_ms(now_epoch_ms(), l->time);
}

static void add_line(struct json_object *a, const char *service, int priority, const char *message, const char *time) {
        struct json_object *o = json_object_new_object();

        json_object_object_add(o, "service", json_object_new_string(service));
        json_object_object_add(o, "priority", json_object_new_string(log_level_to_string(priority)));
        json_object_object_add(o, "message", json_object_new_string(message));
        json_object_object_add(o, "time", json_object_new_string(time));
        json_object_array_add(a, o);
}

char *logship_batch(struct logship *ls, size_t *ret_len, size_t *ret_lines, uint64_t *ret_notice) {
        _cleanup_json_ struct json_object *a = json_object_new_array();
        size_t n = ls->n < LOGSHIP_BATCH_MAX ? ls->n : LOGSHIP_BATCH_MAX;
        const char *s;

        *ret_notice = ls->dropped_unreported;
        if (*ret_notice) {
                char message[128], now[32];
                snprintf(message, sizeof(message),
                         "Dropped %" PRIu64 " log lines while the log service was unreachable.",
                         ls->dropped_unreported);
                format_time_ms(now_epoch_ms(), now);
                add_line(a, ls->service, LOG_WARNING, message, now);
        }
        for (size_t i = 0; i < n; i++) {
                struct logship_line *l = line_at(ls, i);
                add_line(a, ls->service, l->priority, l->message, l->time);
        }
        *ret_lines = n;
        s = json_to_string(a, ret_len);
        return strndup(s, *ret_len);
}

static void send_next(struct logship *ls);

static void on_sent(const struct httpc_response *res, void *userdata) {
        struct logship *ls = userdata;

        ls->call = NULL;
        if (res->status == 200) {
                for (size_t i = 0; i < ls->in_flight; i++)
                        pop(ls);
                ls->n_shipped += ls->in_flight + ls->in_flight_evicted;
                if (ls->in_flight_notice) {
                        /* Said on stderr too, which the journal keeps. Drops
                         * since the batch was built go in the next notice. */
                        fprintf(stderr, "<4>%s: Dropped %" PRIu64 " log lines while the log service was unreachable.\n",
                                ls->service, ls->in_flight_notice);
                        ls->dropped_unreported -= ls->in_flight_notice;
                }
                ls->backoff_ms = 0;
        } else {
                ls->dropped_unreported += ls->in_flight_evicted;
                ls->n_dropped += ls->in_flight_evicted;
                ls->backoff_ms = ls->backoff_ms ? ls->backoff_ms * 2 : BACKOFF_MIN_MS;
                if (ls->backoff_ms > BACKOFF_MAX_MS)
                        ls->backoff_ms = BACKOFF_MAX_MS;
        }
        ls->in_flight = ls->in_flight_evicted = 0;
        ls->in_flight_notice = 0;
        if (res->error == -ECANCELED)
                return;
        if (ls->draining && (res->status != 200 || ls->n == 0)) {
                ls->draining = false;
                server_release(ls->server);
                return;
        }
        if (ls->n > 0 || ls->dropped_unreported > 0)
                (void) timer_start(&ls->server->timers, &ls->kick, ls->backoff_ms);
}

static void send_next(struct logship *ls) {
        const char *base;
        _cleanup_free_ char *url = NULL, *body = NULL;
        size_t len;

        if (ls->call || (ls->n == 0 && ls->dropped_unreported == 0))
                return;
        base = ls->pick(ls->pick_userdata);
        if (!base) {
                if (ls->draining) {
                        ls->draining = false;
                        server_release(ls->server);
                }
                return; /* logship_kick() when a provider appears */
        }
        body = logship_batch(ls, &len, &ls->in_flight, &ls->in_flight_notice);
        if (!body || asprintf(&url, "%s/log", base) < 0 ||
            httpc_post_json(ls->httpc, url, body, len, 5000, on_sent, ls, &ls->call) < 0) {
                ls->in_flight = 0;
                ls->in_flight_notice = 0;
                (void) timer_start(&ls->server->timers, &ls->kick, BACKOFF_MAX_MS);
        }
}

static void on_kick(struct timer *t) {
        send_next(H2O_STRUCT_FROM_MEMBER(struct logship, kick, t));
}

void logship_kick(struct logship *ls) {
        if (!ls->call && !timer_pending(&ls->kick) && (ls->n > 0 || ls->dropped_unreported > 0))
                (void) timer_start(&ls->server->timers, &ls->kick, 0);
}

static void sink(int level, const char *message, void *userdata) {
        struct logship *ls = userdata;

        logship_push(ls, level, message);
        /* Never sends from here: the sink may run inside any callback. */
        if (!ls->call && !timer_pending(&ls->kick) && ls->backoff_ms == 0)
                (void) timer_start(&ls->server->timers, &ls->kick, 0);
}

int logship_init(struct logship *ls, struct server *s, struct httpc *h, const char *service, size_t capacity,
                 logship_pick_t pick, void *pick_userdata) {
        *ls = (struct logship){ .server = s,
                                .httpc = h,
                                .service = service,
                                .pick = pick,
                                .pick_userdata = pick_userdata,
                                .capacity = capacity ? capacity : 1 };
        timer_init(&ls->kick, on_kick);
        ls->ring = calloc(ls->capacity, sizeof(*ls->ring));
        return ls->ring ? 0 : -ENOMEM;
}

void logship_attach(struct logship *ls) {
        log_set_sink(sink, LOG_INFO, ls);
}

void logship_drain(struct logship *ls) {
        if (ls->draining || (ls->n == 0 && !ls->call))
                return;
        ls->draining = true;
        server_hold(ls->server);
        timer_stop(&ls->server->timers, &ls->kick);
        ls->backoff_ms = 0;
        if (!ls->call)
                send_next(ls);
}

void logship_done(struct logship *ls) {
        log_set_sink(NULL, 0, NULL);
        if (ls->server)
                timer_stop(&ls->server->timers, &ls->kick);
        while (ls->n > 0)
                pop(ls);
        free(ls->ring);
        ls->ring = NULL;
}
