/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (1-4), or 0 when the bytes
 * there are not one: overlong forms, surrogates and code points past
 * U+10FFFF are invalid. */
size_t utf8_sequence(const char *s, size_t len);

/* Valid UTF-8 of min_chars to max_chars code points, none of them a control
 * character (C0, DEL or C1): what a name or a title may be. */
bool utf8_is_text(const char *s, size_t len, size_t min_chars, size_t max_chars);
