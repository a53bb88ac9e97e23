/* SPDX-License-Identifier: MIT */
#pragma once

/* HTML templates in a subset of Mustache, rendered from json-c values:
 *
 *   {{name}}      the value, HTML-escaped (always, unless...)
 *   {{{name}}}    the value as is: only for HTML the portal made itself
 *   {{#name}}..{{/name}}  for each element of an array, or once for a
 *                          true/non-empty value (which becomes the context)
 *   {{^name}}..{{/name}}  once when the value is missing, null, false or []
 *   {{! comment}}
 * Names are looked up from the innermost context outwards; "a.b" descends,
 * "list.0" is an array's first element;
 * "." is the current value. Templates are parsed once, at load time. */

#include <json-c/json.h>

#include "buf.h"

struct template;

/* On a syntax error returns -EINVAL and a message naming the offset. */
int template_parse(const char *text, size_t len, struct template **ret, char **ret_error);
int template_load(const char *path, struct template **ret, char **ret_error);
void template_free(struct template *t);
void template_render(const struct template *t, struct json_object *data, struct buf *out);
void html_escape(struct buf *out, const char *s, size_t len);
