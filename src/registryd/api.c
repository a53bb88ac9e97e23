/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "log.h"
#include "registry.h"

static void on_waiting_req_disposed(void *p) {
        struct entry **slot = p;

        /* The client went away before the first patch was delivered. */
        if (*slot) {
                (*slot)->waiting_req = NULL;
                (*slot)->waiting_slot = NULL;
        }
}

void registry_remove_entry(struct registry *r, struct entry *e, bool notify) {
        bool was_visible = entry_discoverable(e);

        if (e == r->self)
                r->self = NULL;
        patches_cancel(r, e);
        health_forget(r, e);
        table_remove(&r->table, e);
        if (notify && was_visible)
                patches_broadcast(r, e->reg.name, e->reg.url, false, NULL);
        entry_free(e);
        store_changed(r);
}

int registry_add_entry(struct registry *r, struct registration *reg, struct entry **ret) {
        int e = table_add(&r->table, r, reg, ret);

        if (e < 0) {
                registration_done(reg);
                return e;
        }
        health_init_entry(*ret);
        patches_init_entry(*ret);
        return 0;
}

/* Registering a URL again replaces its entry. Its dependents hear of it only
 * if what they see changes: a new name, or an entry back from critical. */
static int on_register(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct registry *r = userdata;
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ char *old_name = NULL, *old_url = NULL;
        struct registration reg;
        struct entry *e, *old;
        bool was_visible = false;
        const char *error;
        int ret;

        if (!http_json_body(req, &o))
                return 0;
        if (registration_from_json(o, &reg, &error) < 0)
                return http_reply_error(req, 400, "%s", error);

        old = table_find(&r->table, reg.url);
        if (old) {
                was_visible = entry_discoverable(old);
                old_name = strdup(old->reg.name);
                old_url = strdup(old->reg.url);
                if (!old_name || !old_url) {
                        registration_done(&reg);
                        return http_reply_error(req, 500, "out of memory");
                }
                registry_remove_entry(r, old, false);
        }
        ret = registry_add_entry(r, &reg, &e);
        if (ret < 0) {
                if (old_name && was_visible)
                        patches_broadcast(r, old_name, old_url, false, NULL);
                return http_reply_error(req, 500, "cannot store the registration: %s", strerror(-ret));
        }
        r->n_registrations++;
        store_changed(r);
        log_info("%s %s at %s.", old_name ? "Re-registered" : "Registered", e->reg.name, e->reg.url);

        if (old_name && was_visible && !streq(old_name, e->reg.name))
                patches_broadcast(r, old_name, e->reg.url, false, NULL);
        if (!(old_name && was_visible && streq(old_name, e->reg.name)))
                patches_broadcast(r, e->reg.name, e->reg.url, true, e);
        registry_update_status(r);
        health_probe_soon(r, e);

        if (!e->reg.update_url)
                return http_reply_empty(req, 200);
        /* As in the seed, the registrant's first patch is delivered before the
         * 200, so it can look its providers up as soon as it is registered. */
        e->waiting_slot = h2o_mem_alloc_shared(&req->pool, sizeof(struct entry *), on_waiting_req_disposed);
        *e->waiting_slot = e;
        e->waiting_req = req;
        if (patches_send_initial(r, e) < 0)
                entry_answer_waiter(e);
        return 0;
}

/* Not strchr(" \t\r\n", c): that is true for '\0' too. */
static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int on_deregister(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct registry *r = userdata;
        h2o_iovec_t body = req->entity.base ? req->entity : h2o_iovec_init("", 0);
        char *url;
        struct entry *e;

        while (body.len > 0 && is_space(body.base[body.len - 1]))
                body.len--;
        while (body.len > 0 && is_space(body.base[0])) {
                body.base++;
                body.len--;
        }
        if (body.len == 0)
                return http_reply_error(req, 400, "expected the service's URL as the body");
        url = h2o_strdup(&req->pool, body.base, body.len).base;
        e = strlen(url) == body.len ? table_find(&r->table, url) : NULL;
        if (!e)
                return http_reply_error(req, 404, "no service is registered at %.200s", url);
        log_info("Deregistered %s at %s.", e->reg.name, e->reg.url);
        registry_remove_entry(r, e, true);
        registry_update_status(r);
        return http_reply_empty(req, 200);
}

static int on_list(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct registry *r = userdata;
        const struct buf *listing = table_listing(&r->table);

        if (listing->failed)
                return http_reply_error(req, 500, "out of memory");
        return http_reply(req, 200, "application/json", listing->data, listing->len);
}

/* The providers of one name that are in discovery: what a dependent's table
 * should hold, so a dependent that missed a patch resyncs from here. */
static int on_providers(void *userdata, h2o_req_t *req, const struct route_params *p) {
        struct registry *r = userdata;
        const char *name = http_unescape(&req->pool, p->v[0]);
        struct buf out = { 0 };
        struct group *g;
        bool first = true;

        if (!name || !service_name_valid(name, strlen(name)))
                return http_reply_error(req, 400, "invalid service name");
        g = table_group(&r->table, name);
        buf_putc(&out, '[');
        for (size_t i = 0; g && i < g->n_providers; i++)
                if (entry_discoverable(g->providers[i])) {
                        if (!first)
                                buf_putc(&out, ',');
                        entry_append_json(&out, g->providers[i]);
                        first = false;
                }
        buf_putc(&out, ']');
        if (out.failed) {
                buf_done(&out);
                return http_reply_error(req, 500, "out of memory");
        }
        http_reply(req, 200, "application/json", out.data, out.len);
        buf_done(&out);
        return 0;
}

static int on_heartbeat(void *userdata, h2o_req_t *req, const struct route_params *p) {
        return http_reply(req, 200, "application/json", "{\"Status\":\"passing\"}", 20);
}

/* The registry is listed (and probed) like every other service, in-process:
 * it needs no patches, finding the log service in its own table. */
int registry_add_self(struct registry *r) {
        struct registration reg = { 0 };
        struct entry *e, *old;
        int ret;

        if (!(reg.name = strdup(r->daemon.info->service_name)) || !(reg.url = strdup(r->daemon.url)) ||
            asprintf(&reg.heartbeat_url, "%s/heartbeat", r->daemon.url) < 0 ||
            !(reg.required = calloc(1, sizeof(char *)))) {
                reg.heartbeat_url = NULL;
                registration_done(&reg);
                return -ENOMEM;
        }
        old = table_find(&r->table, reg.url);
        if (old)
                registry_remove_entry(r, old, false);
        ret = registry_add_entry(r, &reg, &e);
        if (ret < 0)
                return ret;
        r->self = e;
        store_changed(r);
        return 0;
}

void registry_remove_self(struct registry *r) {
        if (r->self)
                registry_remove_entry(r, r->self, true);
        r->self = NULL;
}

static const struct route routes[] = {
        { "GET", "/heartbeat", on_heartbeat },       { "POST", "/services", on_register },
        { "DELETE", "/services", on_deregister },    { "GET", "/services", on_list },
        { "GET", "/services/{name}", on_providers },
};

int api_add_routes(struct registry *r) {
        return server_add_routes(&r->daemon.server, routes, ELEMENTSOF(routes), r);
}
