/* SPDX-License-Identifier: MIT */
#pragma once

/* A growing byte buffer, for building output piece by piece, always
 * NUL-terminated once anything was appended. Appending never
 * fails silently: after an allocation failure buf.failed is set and later
 * appends do nothing. */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

struct buf {
        char *data;
        size_t len, allocated;
        bool failed;
};

void buf_append(struct buf *b, const void *data, size_t len);
void buf_appendf(struct buf *b, const char *format, ...) _printf_(2, 3);
static inline void buf_putc(struct buf *b, char c) {
        if (b->len + 1 < b->allocated) {
                b->data[b->len++] = c;
                b->data[b->len] = '\0';
        } else
                buf_append(b, &c, 1);
}
void buf_done(struct buf *b);
