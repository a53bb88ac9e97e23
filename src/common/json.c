/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <strings.h>

#include "json.h"
#include "utf8.h"

#define JSON_MAX_DEPTH 32

struct scanner {
        const char *p, *end;
        const char *error;
        int depth;
};

static void skip_space(struct scanner *s) {
        while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
                s->p++;
}

static bool fail(struct scanner *s, const char *error) {
        if (!s->error)
                s->error = error;
        return false;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_hex(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool scan_string(struct scanner *s) {
        s->p++; /* the opening quote */
        while (s->p < s->end) {
                unsigned char c = (unsigned char) *s->p;
                size_t n;

                if (c == '"') {
                        s->p++;
                        return true;
                }
                if (c < 0x20)
                        return fail(s, "invalid JSON: control character in a string");
                if (c == '\\') {
                        if (s->end - s->p < 2)
                                break;
                        c = (unsigned char) s->p[1];
                        if (c == 'u') {
                                if (s->end - s->p < 6 || !is_hex(s->p[2]) || !is_hex(s->p[3]) || !is_hex(s->p[4]) ||
                                    !is_hex(s->p[5]))
                                        return fail(s, "invalid JSON: bad \\u escape");
                                /* C strings end at a NUL: "a\u0000b" would silently be "a". */
                                if (memcmp(s->p + 2, "0000", 4) == 0)
                                        return fail(s, "invalid JSON: NUL character in a string");
                                s->p += 6;
                        } else if (strchr("\"\\/bfnrt", c) && c) {
                                s->p += 2;
                        } else
                                return fail(s, "invalid JSON: bad escape in a string");
                        continue;
                }
                n = utf8_sequence(s->p, (size_t) (s->end - s->p));
                if (n == 0)
                        return fail(s, "invalid JSON: not valid UTF-8");
                s->p += n;
        }
        return fail(s, "invalid JSON: unexpected end of input");
}

static bool scan_number(struct scanner *s) {
        if (s->p < s->end && *s->p == '-')
                s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
                return fail(s, "invalid JSON");
        if (*s->p == '0')
                s->p++;
        else
                while (s->p < s->end && is_digit(*s->p))
                        s->p++;
        if (s->p < s->end && *s->p == '.') {
                s->p++;
                if (s->p >= s->end || !is_digit(*s->p))
                        return fail(s, "invalid JSON: bad number");
                while (s->p < s->end && is_digit(*s->p))
                        s->p++;
        }
        if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
                s->p++;
                if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
                        s->p++;
                if (s->p >= s->end || !is_digit(*s->p))
                        return fail(s, "invalid JSON: bad number");
                while (s->p < s->end && is_digit(*s->p))
                        s->p++;
        }
        return true;
}

static bool scan_literal(struct scanner *s, const char *word) {
        size_t n = strlen(word);
        if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
                return fail(s, "invalid JSON");
        s->p += n;
        return true;
}

static bool scan_value(struct scanner *s);

static bool scan_container(struct scanner *s, char close) {
        bool first = true;

        if (++s->depth > JSON_MAX_DEPTH)
                return fail(s, "invalid JSON: nested too deeply");
        s->p++;
        for (;;) {
                skip_space(s);
                if (s->p >= s->end)
                        return fail(s, "invalid JSON: unexpected end of input");
                if (*s->p == close && first) {
                        s->p++;
                        break;
                }
                if (close == '}') {
                        if (*s->p != '"')
                                return fail(s, "invalid JSON: object keys must be strings");
                        if (!scan_string(s))
                                return false;
                        skip_space(s);
                        if (s->p >= s->end || *s->p != ':')
                                return fail(s,
                                            s->p >= s->end ? "invalid JSON: unexpected end of input" : "invalid JSON");
                        s->p++;
                }
                if (!scan_value(s))
                        return false;
                skip_space(s);
                if (s->p >= s->end)
                        return fail(s, "invalid JSON: unexpected end of input");
                if (*s->p == close) {
                        s->p++;
                        break;
                }
                if (*s->p != ',')
                        return fail(s, "invalid JSON");
                s->p++;
                first = false;
        }
        s->depth--;
        return true;
}

static bool scan_value(struct scanner *s) {
        skip_space(s);
        if (s->p >= s->end)
                return fail(s, "invalid JSON: unexpected end of input");
        switch (*s->p) {
        case '{': return scan_container(s, '}');
        case '[': return scan_container(s, ']');
        case '"': return scan_string(s);
        case 't': return scan_literal(s, "true");
        case 'f': return scan_literal(s, "false");
        case 'n': return scan_literal(s, "null");
        default: return scan_number(s);
        }
}

bool json_valid(const char *text, size_t len, const char **ret_error) {
        struct scanner s = { text, text + len, NULL, 0 };

        skip_space(&s);
        if (s.p == s.end) {
                *ret_error = "empty body, expected JSON";
                return false;
        }
        if (!scan_value(&s)) {
                *ret_error = s.error;
                return false;
        }
        skip_space(&s);
        if (s.p != s.end) {
                *ret_error = "invalid JSON: more than one value in the body";
                return false;
        }
        return true;
}

int json_parse_strict(const char *text, size_t len, struct json_object **ret, const char **ret_error) {
        struct json_tokener *tok;
        struct json_object *obj;
        enum json_tokener_error err;

        if (!json_valid(text, len, ret_error))
                return len == 0 || strspn(text, " \t\r\n") == len ? -ENODATA : -EBADMSG;
        tok = json_tokener_new_ex(JSON_MAX_DEPTH + 1);
        if (!tok)
                return -ENOMEM;
        obj = json_tokener_parse_ex(tok, text, (int) len);
        err = json_tokener_get_error(tok);
        if (err == json_tokener_continue) {
                /* A lone number or literal ends only at the end of input. */
                obj = json_tokener_parse_ex(tok, "", 1);
                err = json_tokener_get_error(tok);
        }
        json_tokener_free(tok);
        if (err != json_tokener_success) {
                json_object_put(obj);
                *ret_error = "invalid JSON";
                return -EBADMSG;
        }
        *ret = obj;
        return 0;
}

const char *json_to_string(struct json_object *obj, size_t *ret_len) {
        return json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, ret_len);
}

struct json_object *json_get(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (json_object_object_get_ex(o, key, &v))
                return v;
        json_object_object_foreach(o, k, val) if (strcasecmp(k, key) == 0) return val;
        return NULL;
}

const char *json_c_string(struct json_object *v) {
        const char *s;

        if (!v || !json_object_is_type(v, json_type_string))
                return NULL;
        s = json_object_get_string(v);
        return strlen(s) == (size_t) json_object_get_string_len(v) ? s : NULL;
}
