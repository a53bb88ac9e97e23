/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "macro.h"
#include "registration.h"

bool service_name_valid(const char *name, size_t len) {
        if (len == 0 || len > SERVICE_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) name[i];
                if (c < 0x20 || c == 0x7f)
                        return false;
        }
        return true;
}

bool service_url_valid(const char *url) {
        CURLU *u;
        char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *fragment = NULL;
        bool ok = false;
        size_t prefix = strncasecmp(url, "http://", 7) == 0 ? 7 : strncasecmp(url, "https://", 8) == 0 ? 8 : 0;

        /* curl tidies "http:/h" and "http:///h" and drops an empty query or
         * fragment ("http://h/#"): refuse those before it sees them. */
        if (strlen(url) > SERVICE_URL_MAX || prefix == 0 || url[prefix] == '/' || strpbrk(url, "?#"))
                return false;
        for (const char *p = url; *p; p++)
                if ((unsigned char) *p <= 0x20 || *p == 0x7f)
                        return false;
        u = curl_url();
        if (!u)
                return false;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                ok = (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0) && host[0] &&
                     curl_url_get(u, CURLUPART_USER, &user, 0) != CURLUE_OK &&
                     curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK &&
                     curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) != CURLUE_OK;
        }
        curl_free(scheme);
        curl_free(host);
        curl_free(user);
        curl_free(query);
        curl_free(fragment);
        curl_url_cleanup(u);
        return ok;
}

/* A string member: NULL when absent or null; an error when not a string. */
static int get_string(struct json_object *o, const char *key, const char **ret) {
        struct json_object *v = json_get(o, key);

        *ret = NULL;
        if (!v)
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EINVAL;
        *ret = json_object_get_string(v);
        return 0;
}

static int get_url(struct json_object *o, const char *key, bool required, char **ret, const char **ret_error) {
        const char *s;

        if (get_string(o, key, &s) < 0) {
                *ret_error = required ? "a URL must be a string" : "optional URLs must be strings";
                return -EINVAL;
        }
        if (!s || !*s) {
                if (!required)
                        return 0;
                *ret_error = "ServiceURL is missing";
                return -EINVAL;
        }
        if (!service_url_valid(s)) {
                *ret_error = "a URL is not of the form http(s)://host[:port][/path]";
                return -EINVAL;
        }
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_required(struct json_object *o, struct registration *r, const char **ret_error) {
        struct json_object *v = json_get(o, "RequiredServices");
        size_t n;

        r->required = calloc(1, sizeof(char *));
        if (!r->required)
                return -ENOMEM;
        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_array)) {
                *ret_error = "RequiredServices must be an array of names";
                return -EINVAL;
        }
        n = json_object_array_length(v);
        if (n > REQUIRED_SERVICES_MAX) {
                *ret_error = "RequiredServices has too many names";
                return -EINVAL;
        }
        free(r->required);
        r->required = calloc(n + 1, sizeof(char *));
        if (!r->required)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);
                const char *name = json_object_get_string(e);

                if (!json_object_is_type(e, json_type_string) || !service_name_valid(name, strlen(name))) {
                        *ret_error = "RequiredServices holds an invalid name (1-64 bytes, no control characters)";
                        return -EINVAL;
                }
                if (registration_requires(r, name))
                        continue;
                r->required[r->n_required] = strdup(name);
                if (!r->required[r->n_required])
                        return -ENOMEM;
                r->n_required++;
        }
        return 0;
}

int registration_from_json(struct json_object *o, struct registration *ret, const char **ret_error) {
        struct registration r = { 0 };
        const char *name;
        int e;

        if (!json_object_is_type(o, json_type_object)) {
                *ret_error = "expected a JSON object";
                return -EINVAL;
        }
        if (get_string(o, "ServiceName", &name) < 0) {
                *ret_error = "ServiceName must be a string";
                return -EINVAL;
        }
        if (!name) {
                *ret_error = "ServiceName is missing";
                return -EINVAL;
        }
        if (!service_name_valid(name, strlen(name))) {
                *ret_error = "ServiceName must be 1-64 bytes without control characters";
                return -EINVAL;
        }
        r.name = strdup(name);
        if (!r.name)
                return -ENOMEM;
        if ((e = get_url(o, "ServiceURL", true, &r.url, ret_error)) < 0 ||
            (e = get_url(o, "ServiceUpdateURL", false, &r.update_url, ret_error)) < 0 ||
            (e = get_url(o, "HeartbeatURL", false, &r.heartbeat_url, ret_error)) < 0 ||
            (e = get_required(o, &r, ret_error)) < 0) {
                registration_done(&r);
                return e;
        }
        if (r.n_required > 0 && !r.update_url) {
                *ret_error = "ServiceUpdateURL is required when RequiredServices is not empty";
                registration_done(&r);
                return -EINVAL;
        }
        *ret = r;
        return 0;
}

static struct json_object *string_or_empty(const char *s) {
        return json_object_new_string(s ?: "");
}

struct json_object *registration_to_json(const struct registration *r) {
        struct json_object *o = json_object_new_object(), *req = json_object_new_array();

        for (size_t i = 0; i < r->n_required; i++)
                json_object_array_add(req, json_object_new_string(r->required[i]));
        json_object_object_add(o, "ServiceName", json_object_new_string(r->name));
        json_object_object_add(o, "ServiceURL", json_object_new_string(r->url));
        json_object_object_add(o, "RequiredServices", req);
        json_object_object_add(o, "ServiceUpdateURL", string_or_empty(r->update_url));
        json_object_object_add(o, "HeartbeatURL", string_or_empty(r->heartbeat_url));
        return o;
}

void registration_done(struct registration *r) {
        free(r->name);
        free(r->url);
        strv_free(r->required);
        free(r->update_url);
        free(r->heartbeat_url);
        *r = (struct registration){ 0 };
}

bool registration_requires(const struct registration *r, const char *name) {
        for (size_t i = 0; i < r->n_required; i++)
                if (streq(r->required[i], name))
                        return true;
        return false;
}

static int get_entries(struct json_object *o, const char *key, struct patch_entry **ret, size_t *ret_n,
                       const char **ret_error) {
        struct json_object *v = json_get(o, key);
        size_t n;

        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_array)) {
                *ret_error = "Added and Removed must be arrays";
                return -EINVAL;
        }
        n = json_object_array_length(v);
        *ret = calloc(n ? n : 1, sizeof(struct patch_entry));
        if (!*ret)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);
                const char *name, *url;

                if (!json_object_is_type(e, json_type_object) || get_string(e, "Name", &name) < 0 ||
                    get_string(e, "URL", &url) < 0 || !name || !url || !service_name_valid(name, strlen(name)) ||
                    !service_url_valid(url)) {
                        *ret_error = "a patch entry must be {\"Name\": name, \"URL\": http(s) URL}";
                        return -EINVAL;
                }
                (*ret)[i].name = strdup(name);
                (*ret)[i].url = strdup(url);
                (*ret_n)++;
                if (!(*ret)[i].name || !(*ret)[i].url)
                        return -ENOMEM;
        }
        return 0;
}

int patch_from_json(struct json_object *o, struct patch *ret, const char **ret_error) {
        struct patch p = { 0 };
        struct json_object *v;
        int e;

        if (!json_object_is_type(o, json_type_object)) {
                *ret_error = "expected a JSON object";
                return -EINVAL;
        }
        if ((e = get_entries(o, "Added", &p.added, &p.n_added, ret_error)) < 0 ||
            (e = get_entries(o, "Removed", &p.removed, &p.n_removed, ret_error)) < 0) {
                patch_done(&p);
                return e;
        }
        v = json_get(o, "Version");
        if (v && !json_object_is_type(v, json_type_null)) {
                int64_t version = json_object_get_int64(v);
                if (!json_object_is_type(v, json_type_int) || version < 0) {
                        *ret_error = "Version must be a non-negative integer";
                        patch_done(&p);
                        return -EINVAL;
                }
                p.version = (uint64_t) version;
        }
        *ret = p;
        return 0;
}

static void entries_free(struct patch_entry *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(e[i].name);
                free(e[i].url);
        }
        free(e);
}

void patch_done(struct patch *p) {
        entries_free(p->added, p->n_added);
        entries_free(p->removed, p->n_removed);
        *p = (struct patch){ 0 };
}
