/* SPDX-License-Identifier: MIT */
#pragma once

/* One-shot timers of any delay on the h2o event loop (libh2o 2.2 only has
 * fixed-delay queues). All timers of a loop share one timerfd and a binary
 * heap, so ten thousand pending retries cost ten thousand small structs, not
 * ten thousand file descriptors. Embed a struct timer in its owner and get
 * back to the owner with H2O_STRUCT_FROM_MEMBER in the callback. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>

struct timer;
typedef void (*timer_cb_t)(struct timer *t);

struct timer {
        timer_cb_t cb;
        uint64_t due_ms; /* CLOCK_MONOTONIC */
        size_t slot;     /* index in the heap + 1; 0 when not pending */
};

struct timers {
        h2o_evloop_t *loop;
        h2o_socket_t *sock; /* the timerfd, watched by the loop */
        int fd;
        uint64_t armed_ms;
        struct timer **heap;
        size_t n, allocated;
};

int timers_init(struct timers *ts, h2o_evloop_t *loop);
void timers_done(struct timers *ts);

static inline void timer_init(struct timer *t, timer_cb_t cb) {
        *t = (struct timer){ .cb = cb };
}
/* (Re)starts t to fire once after delay_ms. */
int timer_start(struct timers *ts, struct timer *t, uint64_t delay_ms);
void timer_stop(struct timers *ts, struct timer *t);
static inline bool timer_pending(const struct timer *t) {
        return t->slot != 0;
}

uint64_t now_ms(void);
/* Runs every due timer; exposed for tests that drive timers by hand. */
void timers_run_due(struct timers *ts, uint64_t now);
