/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "log.h"
#include "logd.h"

int recent_init(struct recent *r, size_t capacity) {
        *r = (struct recent){ .capacity = capacity ? capacity : 1 };
        r->ring = calloc(r->capacity, sizeof(*r->ring));
        return r->ring ? 0 : -ENOMEM;
}

static struct recent_entry *at(struct recent *r, size_t i) {
        return &r->ring[(r->head + i) % r->capacity];
}

static void clear(struct recent_entry *e) {
        free(e->service); /* message lives in the same allocation */
        *e = (struct recent_entry){ 0 };
}

void recent_add(struct recent *r, int64_t time_ms, const struct log_entry *entry) {
        struct buf text = { 0 };
        size_t len = entry->message_len > LOG_RECENT_MESSAGE_MAX ? LOG_RECENT_MESSAGE_MAX : entry->message_len;
        size_t message_at;

        /* Escaped as in the file: GET /log must be valid UTF-8 JSON. One
         * allocation holds both, "service\0message\0". */
        log_escape(&text, entry->service, strlen(entry->service), NULL);
        buf_putc(&text, '\0');
        message_at = text.len;
        log_escape(&text, entry->message, len, NULL);
        if (len < entry->message_len)
                buf_appendf(&text, " [truncated %zu bytes]", entry->message_len - len);
        buf_putc(&text, '\0');
        if (text.failed) {
                buf_done(&text);
                return;
        }
        if (r->n == r->capacity) {
                clear(at(r, 0));
                r->head = (r->head + 1) % r->capacity;
                r->n--;
        }
        *at(r, r->n++) = (struct recent_entry){
                .time_ms = time_ms, .priority = entry->priority, .service = text.data, .message = text.data + message_at
        };
}

struct json_object *recent_query(struct recent *r, const char *service, int priority, int64_t since_ms, size_t limit) {
        struct json_object *a = json_object_new_array();
        size_t first = r->n, count = 0;

        /* Walk back from the newest to find where the `limit` newest matches start. */
        while (first > 0 && count < limit) {
                struct recent_entry *e = at(r, first - 1);
                if (e->time_ms <= since_ms)
                        break;
                first--;
                if (e->priority <= priority && (!service || streq(e->service, service)))
                        count++;
        }
        for (size_t i = first; i < r->n; i++) {
                struct recent_entry *e = at(r, i);
                struct json_object *o;
                char time[32];

                if (e->priority > priority || (service && !streq(e->service, service)))
                        continue;
                format_time_ms(e->time_ms, time);
                o = json_object_new_object();
                json_object_object_add(o, "time", json_object_new_string(time));
                json_object_object_add(o, "service", json_object_new_string(e->service));
                json_object_object_add(o, "priority", json_object_new_string(log_level_to_string(e->priority)));
                json_object_object_add(o, "message", json_object_new_string(e->message));
                json_object_array_add(a, o);
        }
        return a;
}

void recent_drop_newest(struct recent *r, size_t n) {
        for (; n > 0 && r->n > 0; n--)
                clear(at(r, --r->n));
}

void recent_done(struct recent *r) {
        for (size_t i = 0; i < r->n; i++)
                clear(at(r, i));
        free(r->ring);
        *r = (struct recent){ 0 };
}
