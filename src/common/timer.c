/* SPDX-License-Identifier: MIT */
#include <sys/timerfd.h>
#include <time.h>

#include "macro.h"
#include "timer.h"

uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

static bool before(const struct timer *a, const struct timer *b) {
        return a->due_ms < b->due_ms;
}

static void heap_set(struct timers *ts, size_t i, struct timer *t) {
        ts->heap[i] = t;
        t->slot = i + 1;
}

static void sift_up(struct timers *ts, size_t i) {
        struct timer *t = ts->heap[i];
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (!before(t, ts->heap[parent]))
                        break;
                heap_set(ts, i, ts->heap[parent]);
                i = parent;
        }
        heap_set(ts, i, t);
}

static void sift_down(struct timers *ts, size_t i) {
        struct timer *t = ts->heap[i];
        for (;;) {
                size_t child = 2 * i + 1;
                if (child >= ts->n)
                        break;
                if (child + 1 < ts->n && before(ts->heap[child + 1], ts->heap[child]))
                        child++;
                if (!before(ts->heap[child], t))
                        break;
                heap_set(ts, i, ts->heap[child]);
                i = child;
        }
        heap_set(ts, i, t);
}

/* Arms the timerfd for the earliest timer, lazily: a timer pushed later or
 * stopped leaves the timerfd armed early, and that wake-up (cheap) re-arms
 * it. Only a sooner deadline costs a system call, and libcurl pushes its
 * timeout later on nearly every call. */
static void rearm(struct timers *ts) {
        struct itimerspec its = { 0 };
        uint64_t due;

        if (ts->n == 0 || ts->fd < 0)
                return;
        due = ts->heap[0]->due_ms;
        if (ts->armed_ms != 0 && ts->armed_ms <= due)
                return;
        ts->armed_ms = due;
        its.it_value.tv_sec = (time_t) (due / 1000);
        its.it_value.tv_nsec = (long) (due % 1000) * 1000000;
        /* An all-zero it_value would disarm it: "due at 0" is long past. */
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                its.it_value.tv_nsec = 1;
        (void) timerfd_settime(ts->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void remove_at(struct timers *ts, size_t i) {
        struct timer *last = ts->heap[--ts->n];

        ts->heap[i]->slot = 0;
        if (i == ts->n)
                return;
        heap_set(ts, i, last);
        if (i > 0 && before(last, ts->heap[(i - 1) / 2]))
                sift_up(ts, i);
        else
                sift_down(ts, i);
}

void timer_stop(struct timers *ts, struct timer *t) {
        if (!t->slot)
                return;
        remove_at(ts, t->slot - 1);
        rearm(ts);
}

int timer_start(struct timers *ts, struct timer *t, uint64_t delay_ms) {
        if (t->slot)
                remove_at(ts, t->slot - 1);
        if (ts->n == ts->allocated) {
                size_t n = ts->allocated ? ts->allocated * 2 : 16;
                struct timer **heap = reallocarray(ts->heap, n, sizeof(*heap));
                if (!heap)
                        return -ENOMEM;
                ts->heap = heap;
                ts->allocated = n;
        }
        t->due_ms = now_ms() + delay_ms;
        ts->heap[ts->n++] = t;
        sift_up(ts, ts->n - 1);
        rearm(ts);
        return 0;
}

void timers_run_due(struct timers *ts, uint64_t now) {
        /* A callback may start or stop timers, this one included. */
        while (ts->n && ts->heap[0]->due_ms <= now) {
                struct timer *t = ts->heap[0];
                remove_at(ts, 0);
                t->cb(t);
        }
        rearm(ts);
}

static void on_timerfd(h2o_socket_t *sock, const char *err) {
        struct timers *ts = sock->data;
        uint64_t expirations;

        if (read(ts->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
                return;
        ts->armed_ms = 0;
        timers_run_due(ts, now_ms());
}

int timers_init(struct timers *ts, h2o_evloop_t *loop) {
        *ts = (struct timers){ .loop = loop, .fd = -1 };
        ts->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (ts->fd < 0)
                return -errno;
        ts->sock = h2o_evloop_socket_create(loop, ts->fd, H2O_SOCKET_FLAG_DONT_READ);
        ts->sock->data = ts;
        h2o_socket_read_start(ts->sock, on_timerfd);
        return 0;
}

void timers_done(struct timers *ts) {
        for (size_t i = 0; i < ts->n; i++)
                ts->heap[i]->slot = 0;
        free(ts->heap);
        ts->heap = NULL;
        ts->n = ts->allocated = 0;
        if (ts->sock)
                h2o_socket_close(ts->sock); /* closes ts->fd too */
        ts->sock = NULL;
        ts->fd = -1;
}
