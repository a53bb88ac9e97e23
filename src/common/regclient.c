/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "log.h"
#include "regclient.h"

static struct provider_list *find_list(struct regclient *c, const char *name) {
        for (size_t i = 0; i < c->self.n_required; i++)
                if (streq(c->providers[i].name, name))
                        return &c->providers[i];
        return NULL;
}

static bool list_has(struct provider_list *l, const char *url) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->urls[i], url))
                        return true;
        return false;
}

static int list_add(struct provider_list *l, const char *url) {
        char **urls, *copy;

        if (list_has(l, url))
                return 0;
        copy = strdup(url);
        urls = copy ? reallocarray(l->urls, l->n + 1, sizeof(char *)) : NULL;
        if (!urls) {
                free(copy);
                return -ENOMEM;
        }
        l->urls = urls;
        l->urls[l->n++] = copy;
        return 0;
}

static void list_remove(struct provider_list *l, const char *url) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->urls[i], url)) {
                        free(l->urls[i]);
                        memmove(&l->urls[i], &l->urls[i + 1], (l->n - i - 1) * sizeof(char *));
                        l->n--;
                        return;
                }
}

static void list_clear(struct provider_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->urls[i]);
        free(l->urls);
        l->urls = NULL;
        l->n = 0;
}

const char *regclient_pick(struct regclient *c, const char *name) {
        struct provider_list *l = find_list(c, name);

        if (!l)
                return NULL;
        if (l->n == 0)
                return l->fallback;
        return l->urls[l->next++ % l->n];
}

int regclient_set_fallbacks(struct regclient *c, const char *spec) {
        _cleanup_free_ char *copy = strdup(spec ?: "");
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *item = strtok_r(copy, " \t,", &save); item; item = strtok_r(NULL, " \t,", &save)) {
                char *eq = strchr(item, '=');
                struct provider_list *l;

                if (!eq || !service_url_valid(eq + 1))
                        return -EINVAL;
                *eq = '\0';
                l = find_list(c, item);
                if (!l)
                        continue; /* a service this daemon does not require */
                free(l->fallback);
                l->fallback = strdup(eq + 1);
                if (!l->fallback)
                        return -ENOMEM;
        }
        return 0;
}

static void changed(struct regclient *c) {
        if (c->on_change)
                c->on_change(c->userdata);
}

/* ---- resync: GET /services/{name} for every required name ---- */

static void resync(struct regclient *c);

struct resync_call {
        struct regclient *client;
        char *name;
};

static void on_resync_done(const struct httpc_response *res, void *userdata) {
        struct resync_call *call = userdata;
        struct regclient *c = call->client;
        struct provider_list *l = find_list(c, call->name);
        _cleanup_json_ struct json_object *o = NULL;
        const char *error;

        if (res->status == 200 && json_parse_strict(res->body, res->body_len, &o, &error) == 0 &&
            json_object_is_type(o, json_type_array)) {
                /* The registry's answer replaces what the patches said. */
                list_clear(l);
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        struct json_object *url = json_get(json_object_array_get_idx(o, i), "ServiceURL");
                        if (url && json_object_is_type(url, json_type_string))
                                (void) list_add(l, json_object_get_string(url));
                }
                changed(c);
        } else {
                log_debug("Resync of '%s' failed (%s), will retry.", call->name, res->error_message ?: "bad answer");
                c->resync_again = true;
        }
        free(call->name);
        free(call);
        if (--c->resyncs_running == 0 && c->resync_again && !c->stopping && res->error != -ECANCELED)
                (void) timer_start(&c->server->timers, &c->resync_timer, REGCLIENT_BACKOFF_MIN_MS);
}

static void on_resync_timer(struct timer *t) {
        struct regclient *c = H2O_STRUCT_FROM_MEMBER(struct regclient, resync_timer, t);
        c->resync_again = false;
        resync(c);
}

/* GET /services/{name}: the providers of one required name. */
static int start_resync_call(struct regclient *c, const char *name) {
        _cleanup_free_ char *url = NULL;
        struct resync_call *call;
        char *escaped = curl_easy_escape(NULL, name, 0);
        int r;

        if (!escaped)
                return -ENOMEM;
        r = asprintf(&url, "%s/services/%s", c->registry_url, escaped);
        curl_free(escaped);
        if (r < 0)
                return -ENOMEM;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (struct resync_call){ .client = c, .name = strdup(name) };
        r = call->name ? httpc_start(c->httpc, &(struct httpc_request){ .url = url, .timeout_ms = 2000 },
                                     on_resync_done, call, NULL)
                       : -ENOMEM;
        if (r < 0) {
                free(call->name);
                free(call);
        }
        return r;
}

static void resync(struct regclient *c) {
        if (c->resyncs_running > 0) {
                /* A patch arrived during a resync: its answer may be older. */
                c->resync_again = true;
                return;
        }
        c->n_resyncs++;
        for (size_t i = 0; i < c->self.n_required; i++) {
                if (start_resync_call(c, c->self.required[i]) < 0) {
                        c->resync_again = true;
                        continue;
                }
                c->resyncs_running++;
        }
}

/* ---- routes served for the registry ---- */

static int on_heartbeat(void *userdata, h2o_req_t *req, const struct route_params *p) {
        return http_reply(req, 200, "application/json", "{\"Status\":\"passing\"}", 20);
}

static int on_patch(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct regclient *c = userdata;
        _cleanup_json_ struct json_object *o = NULL;
        struct patch patch;
        const char *error;
        bool gap;

        if (!http_json_body(req, &o))
                return 0;
        if (patch_from_json(o, &patch, &error) < 0)
                return http_reply_error(req, 400, "%s", error);

        for (size_t i = 0; i < patch.n_added; i++) {
                struct provider_list *l = find_list(c, patch.added[i].name);
                if (l)
                        (void) list_add(l, patch.added[i].url);
        }
        for (size_t i = 0; i < patch.n_removed; i++) {
                struct provider_list *l = find_list(c, patch.removed[i].name);
                if (l)
                        list_remove(l, patch.removed[i].url);
        }
        /* The seed's registry sends no Version; ours counts from 1 per registration. */
        gap = patch.version != 0 && patch.version != c->version + 1;
        if (gap)
                log_debug("Patch version %" PRIu64 " after %" PRIu64 ": resyncing providers.", patch.version,
                          c->version);
        c->version = patch.version;
        c->n_patches++;
        patch_done(&patch);
        changed(c);
        if (gap)
                resync(c);
        return http_reply_empty(req, 200);
}

static int on_providers(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct regclient *c = userdata;
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *lists = json_object_new_object();

        for (size_t i = 0; i < c->self.n_required; i++) {
                struct json_object *a = json_object_new_array();
                for (size_t j = 0; j < c->providers[i].n; j++)
                        json_object_array_add(a, json_object_new_string(c->providers[i].urls[j]));
                json_object_object_add(lists, c->providers[i].name, a);
        }
        json_object_object_add(o, "Registered", json_object_new_boolean(c->registered));
        json_object_object_add(o, "Version", json_object_new_int64((int64_t) c->version));
        json_object_object_add(o, "Providers", lists);
        return http_reply_json(req, 200, o);
}

static const struct route routes[] = {
        { "GET", "/heartbeat", on_heartbeat },
        { "POST", "/providers", on_patch },
        { "GET", "/providers", on_providers },
};

/* ---- registration ---- */

static void send_registration(struct regclient *c);

static void schedule_retry(struct regclient *c) {
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : REGCLIENT_BACKOFF_MIN_MS;
        if (c->backoff_ms > REGCLIENT_BACKOFF_MAX_MS)
                c->backoff_ms = REGCLIENT_BACKOFF_MAX_MS;
        (void) timer_start(&c->server->timers, &c->retry, c->backoff_ms);
}

static void on_retry(struct timer *t) {
        send_registration(H2O_STRUCT_FROM_MEMBER(struct regclient, retry, t));
}

static void on_registered(const struct httpc_response *res, void *userdata) {
        struct regclient *c = userdata;

        c->call = NULL;
        if (res->error == -ECANCELED)
                return;
        if (res->status == 200) {
                /* Log at debug: the registry itself logs every registration at info. */
                log_debug("Registered as %s at %s with %s.", c->self.name, c->self.url, c->registry_url);
                c->registered = true;
                c->backoff_ms = 0;
                return;
        }
        if (res->status >= 400 && res->status < 500)
                log_debug("Registry refused registration (%ld): %s", res->status, res->body);
        else
                log_debug("Registry at %s unreachable (%s), retrying.", c->registry_url,
                          res->error_message ?: "bad status");
        schedule_retry(c);
}

static void send_registration(struct regclient *c) {
        _cleanup_json_ struct json_object *o = registration_to_json(&c->self);
        _cleanup_free_ char *url = NULL;
        const char *body;
        size_t len;

        if (c->stopping || c->call)
                return;
        body = json_to_string(o, &len);
        if (asprintf(&url, "%s/services", c->registry_url) < 0 ||
            httpc_post_json(c->httpc, url, body, len, 5000, on_registered, c, &c->call) < 0)
                schedule_retry(c);
}

void regclient_start(struct regclient *c) {
        send_registration(c);
}

static void on_deregistered(const struct httpc_response *res, void *userdata) {
        struct regclient *c = userdata;

        c->call = NULL;
        c->registered = false;
        if (res->status == 200)
                log_debug("Deregistered %s from %s.", c->self.url, c->registry_url);
        else
                log_debug("Deregistration from %s failed: %s", c->registry_url, res->error_message ?: "bad status");
        server_release(c->server);
}

void regclient_stop(struct regclient *c) {
        _cleanup_free_ char *url = NULL;

        if (c->stopping)
                return;
        c->stopping = true;
        timer_stop(&c->server->timers, &c->retry);
        if (c->call) {
                /* A registration still in flight may land after the DELETE: send
                 * the DELETE anyway, the registry answers 404 if it never did. */
                httpc_cancel(c->httpc, c->call);
                c->call = NULL;
        }
        if (asprintf(&url, "%s/services", c->registry_url) < 0)
                return;
        server_hold(c->server);
        if (httpc_start(c->httpc,
                        &(struct httpc_request){ .method = "DELETE",
                                                 .url = url,
                                                 .content_type = "text/plain",
                                                 .body = c->self.url,
                                                 .body_len = strlen(c->self.url),
                                                 .timeout_ms = 2000 },
                        on_deregistered, c, &c->call) < 0)
                server_release(c->server);
}

static int join_url(const char *base, const char *path, char **ret) {
        size_t n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
                n--;
        return asprintf(ret, "%.*s%s", (int) n, base, path) < 0 ? -ENOMEM : 0;
}

int regclient_init(struct regclient *c, struct server *s, struct httpc *h, const char *registry_url, const char *name,
                   const char *advertise, const char *const *required) {
        size_t n = 0;
        int r;

        *c = (struct regclient){ .server = s, .httpc = h };
        timer_init(&c->retry, on_retry);
        timer_init(&c->resync_timer, on_resync_timer);
        while (required && required[n])
                n++;
        if ((r = join_url(registry_url, "", &c->registry_url)) < 0 || !(c->self.name = strdup(name)) ||
            (r = join_url(advertise, "", &c->self.url)) < 0 ||
            (r = join_url(advertise, "/heartbeat", &c->self.heartbeat_url)) < 0 ||
            !(c->self.required = calloc(n + 1, sizeof(char *))) ||
            !(c->providers = calloc(n ? n : 1, sizeof(struct provider_list))))
                return r < 0 ? r : -ENOMEM;
        if (!service_url_valid(c->registry_url) || !service_url_valid(c->self.url))
                return -EINVAL;
        if (n > 0 && (r = join_url(advertise, "/providers", &c->self.update_url)) < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (!(c->self.required[i] = strdup(required[i])))
                        return -ENOMEM;
                c->self.n_required++;
                c->providers[i].name = c->self.required[i];
        }
        return server_add_routes(s, routes, ELEMENTSOF(routes), c);
}

void regclient_done(struct regclient *c) {
        timer_stop(&c->server->timers, &c->retry);
        timer_stop(&c->server->timers, &c->resync_timer);
        for (size_t i = 0; c->providers && i < c->self.n_required; i++) {
                list_clear(&c->providers[i]);
                free(c->providers[i].fallback);
        }
        free(c->providers);
        registration_done(&c->self);
        free(c->registry_url);
        c->providers = NULL;
        c->registry_url = NULL;
}
