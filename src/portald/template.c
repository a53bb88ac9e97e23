/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "macro.h"
#include "template.h"

enum node_type { NODE_TEXT, NODE_ESCAPED, NODE_RAW, NODE_SECTION, NODE_INVERTED };

struct node {
        enum node_type type;
        char *text; /* literal text, or the name */
        size_t len;
        struct node *children; /* of a section */
        size_t n_children;
};

struct template {
        struct node root;
};

static void node_done(struct node *n) {
        for (size_t i = 0; i < n->n_children; i++)
                node_done(&n->children[i]);
        free(n->children);
        free(n->text);
}

void template_free(struct template *t) {
        if (!t)
                return;
        node_done(&t->root);
        free(t);
}

static struct node *add_child(struct node *parent, enum node_type type, const char *text, size_t len) {
        struct node *c = reallocarray(parent->children, parent->n_children + 1, sizeof(*c));

        if (!c)
                return NULL;
        parent->children = c;
        c = &c[parent->n_children];
        *c = (struct node){ .type = type, .len = len, .text = strndup(text, len) };
        if (!c->text)
                return NULL;
        parent->n_children++;
        return c;
}

static int fail(char **ret_error, const char *what, size_t offset) {
        if (ret_error && asprintf(ret_error, "%s at byte %zu", what, offset) < 0)
                *ret_error = NULL;
        return -EINVAL;
}

static size_t trim(const char **s, size_t len) {
        while (len > 0 && **s == ' ')
                (*s)++, len--;
        while (len > 0 && (*s)[len - 1] == ' ')
                len--;
        return len;
}

/* Parses into parent until "{{/name}}" (or the end, when name is NULL). */
static int parse(const char *text, size_t len, size_t *pos, struct node *parent, const char *name, size_t name_len,
                 char **ret_error) {
        while (*pos < len) {
                const char *open = memmem(text + *pos, len - *pos, "{{", 2), *close, *tag;
                bool triple;
                size_t tag_len, start;
                struct node *n;

                if (!open) {
                        if (!add_child(parent, NODE_TEXT, text + *pos, len - *pos))
                                return -ENOMEM;
                        *pos = len;
                        break;
                }
                if (open > text + *pos && !add_child(parent, NODE_TEXT, text + *pos, (size_t) (open - text - *pos)))
                        return -ENOMEM;
                start = (size_t) (open - text);
                triple = open + 2 < text + len && open[2] == '{';
                tag = open + (triple ? 3 : 2);
                close = memmem(tag, (size_t) (text + len - tag), triple ? "}}}" : "}}", triple ? 3 : 2);
                if (!close)
                        return fail(ret_error, "unclosed tag", start);
                *pos = (size_t) (close - text) + (triple ? 3 : 2);
                tag_len = (size_t) (close - tag);
                if (triple) {
                        tag_len = trim(&tag, tag_len);
                        if (!tag_len || !add_child(parent, NODE_RAW, tag, tag_len))
                                return tag_len ? -ENOMEM : fail(ret_error, "empty tag", start);
                        continue;
                }
                switch (tag_len ? tag[0] : '\0') {
                case '!': continue;
                case '/': {
                        const char *end = tag + 1;
                        size_t end_len = trim(&end, tag_len - 1);
                        if (!name || end_len != name_len || memcmp(end, name, name_len) != 0)
                                return fail(ret_error, "closing tag without its opening tag", start);
                        return 0;
                }
                case '#':
                case '^': {
                        const char *inner = tag + 1;
                        size_t inner_len = trim(&inner, tag_len - 1);
                        int r;
                        if (!inner_len)
                                return fail(ret_error, "empty section name", start);
                        n = add_child(parent, tag[0] == '#' ? NODE_SECTION : NODE_INVERTED, inner, inner_len);
                        if (!n)
                                return -ENOMEM;
                        r = parse(text, len, pos, n, n->text, n->len, ret_error);
                        if (r < 0)
                                return r;
                        continue;
                }
                default:
                        tag_len = trim(&tag, tag_len);
                        if (!tag_len)
                                return fail(ret_error, "empty tag", start);
                        if (!add_child(parent, NODE_ESCAPED, tag, tag_len))
                                return -ENOMEM;
                }
        }
        if (name)
                return fail(ret_error, "section not closed", len);
        return 0;
}

int template_parse(const char *text, size_t len, struct template **ret, char **ret_error) {
        struct template *t = calloc(1, sizeof(*t));
        size_t pos = 0;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!t)
                return -ENOMEM;
        r = parse(text, len, &pos, &t->root, NULL, 0, ret_error);
        if (r < 0) {
                template_free(t);
                return r;
        }
        *ret = t;
        return 0;
}

int template_load(const char *path, struct template **ret, char **ret_error) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        struct buf text = { 0 };
        char chunk[4096];
        size_t n;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (!f)
                return -errno;
        while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
                buf_append(&text, chunk, n);
        if (ferror(f) || text.failed) {
                buf_done(&text);
                return -EIO;
        }
        r = template_parse(text.data ?: "", text.len, ret, ret_error);
        buf_done(&text);
        return r;
}

void html_escape(struct buf *out, const char *s, size_t len) {
        for (size_t i = 0; i < len; i++)
                switch (s[i]) {
                case '&': buf_append(out, "&amp;", 5); break;
                case '<': buf_append(out, "&lt;", 4); break;
                case '>': buf_append(out, "&gt;", 4); break;
                case '"': buf_append(out, "&quot;", 6); break;
                case '\'': buf_append(out, "&#39;", 5); break;
                default: buf_putc(out, s[i]);
                }
}

struct context {
        struct json_object *value;
        const struct context *parent;
};

static struct json_object *lookup_in(struct json_object *o, const char *name, size_t len, bool *found) {
        const char *dot = memchr(name, '.', len);
        size_t first = dot ? (size_t) (dot - name) : len;
        char key[128];
        struct json_object *v;

        if (first >= sizeof(key))
                return NULL;
        memcpy(key, name, first);
        key[first] = '\0';
        if (json_object_is_type(o, json_type_array) && first > 0 && strspn(key, "0123456789") == first) {
                /* "list.0": the first element, to test that a list is not empty. */
                v = json_object_array_get_idx(o, strtoul(key, NULL, 10));
                if (!v)
                        return NULL;
        } else if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
                return NULL;
        *found = true;
        return dot ? lookup_in(v, dot + 1, len - first - 1, found) : v;
}

static struct json_object *lookup(const struct context *ctx, const char *name, size_t len) {
        if (len == 1 && name[0] == '.')
                return ctx->value;
        for (; ctx; ctx = ctx->parent) {
                bool found = false;
                struct json_object *v = lookup_in(ctx->value, name, len, &found);
                if (found)
                        return v;
        }
        return NULL;
}

static bool truthy(struct json_object *v) {
        if (!v)
                return false;
        switch (json_object_get_type(v)) {
        case json_type_boolean: return json_object_get_boolean(v);
        case json_type_array: return json_object_array_length(v) > 0;
        case json_type_string: return json_object_get_string_len(v) > 0;
        default: return true;
        }
}

static void render_nodes(const struct node *parent, const struct context *ctx, struct buf *out);

static void render_value(struct json_object *v, bool escape, struct buf *out) {
        const char *s;
        size_t len;

        if (!v)
                return;
        if (json_object_is_type(v, json_type_string)) {
                s = json_object_get_string(v);
                len = (size_t) json_object_get_string_len(v);
        } else
                s = json_object_to_json_string_length(v, JSON_C_TO_STRING_PLAIN, &len);
        if (escape)
                html_escape(out, s, len);
        else
                buf_append(out, s, len);
}

static void render_node(const struct node *n, const struct context *ctx, struct buf *out) {
        struct json_object *v;

        switch (n->type) {
        case NODE_TEXT: buf_append(out, n->text, n->len); return;
        case NODE_ESCAPED:
        case NODE_RAW: render_value(lookup(ctx, n->text, n->len), n->type == NODE_ESCAPED, out); return;
        case NODE_SECTION:
                v = lookup(ctx, n->text, n->len);
                if (!truthy(v))
                        return;
                if (json_object_is_type(v, json_type_array)) {
                        for (size_t i = 0; i < json_object_array_length(v); i++) {
                                struct context inner = { json_object_array_get_idx(v, i), ctx };
                                render_nodes(n, &inner, out);
                        }
                } else {
                        struct context inner = { v, ctx };
                        render_nodes(n, &inner, out);
                }
                return;
        case NODE_INVERTED:
                if (!truthy(lookup(ctx, n->text, n->len)))
                        render_nodes(n, ctx, out);
                return;
        }
}

static void render_nodes(const struct node *parent, const struct context *ctx, struct buf *out) {
        for (size_t i = 0; i < parent->n_children; i++)
                render_node(&parent->children[i], ctx, out);
}

void template_render(const struct template *t, struct json_object *data, struct buf *out) {
        struct context ctx = { data, NULL };
        render_nodes(&t->root, &ctx, out);
}
