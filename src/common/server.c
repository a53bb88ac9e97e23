/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include "http.h"
#include "log.h"
#include "server.h"
#include "systemd.h"

bool route_match(const char *pattern, const char *path, size_t len, struct route_params *ret) {
        const char *p = pattern, *end = path + len;
        struct route_params params = { .n = 0 };

        while (*p) {
                if (*p == '*' && p[1] == '\0') {
                        /* The rest of the path, possibly empty. */
                        if (params.n == SERVER_MAX_PARAMS)
                                return false;
                        params.v[params.n++] = h2o_iovec_init(path, (size_t) (end - path));
                        path = end;
                        p++;
                        break;
                }
                if (*p == '{') {
                        const char *seg = path;
                        while (path < end && *path != '/')
                                path++;
                        if (path == seg || params.n == SERVER_MAX_PARAMS)
                                return false;
                        params.v[params.n++] = h2o_iovec_init(seg, (size_t) (path - seg));
                        p = strchr(p, '}');
                        if (!p)
                                return false;
                        p++;
                        continue;
                }
                if (path == end || *p != *path)
                        return false;
                p++;
                path++;
        }
        if (path != end)
                return false;
        if (ret)
                *ret = params;
        return true;
}

bool route_parse_id(h2o_iovec_t v, int64_t *ret) {
        int64_t id = 0;

        if (v.len == 0 || v.len > 18 || v.base[0] < '1' || v.base[0] > '9')
                return false;
        for (size_t i = 0; i < v.len; i++) {
                if (v.base[i] < '0' || v.base[i] > '9')
                        return false;
                id = id * 10 + (v.base[i] - '0');
        }
        *ret = id;
        return true;
}

static bool method_matches(const struct route *r, h2o_iovec_t method) {
        return streq(r->method, "*") || h2o_memis(method.base, method.len, r->method, strlen(r->method)) ||
               (streq(r->method, "GET") && h2o_memis(method.base, method.len, H2O_STRLIT("HEAD")));
}

static bool is_wildcard(const struct route *r) {
        return strchr(r->pattern, '*') != NULL;
}

static void on_request_done(void *p) {
        struct server *s = *(struct server **) p;
        s->busy--;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
        struct server *s = *(struct server **) (self + 1);
        size_t len = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
        char allow[128] = "";
        struct route_params params;

        /* Counted until h2o frees the request's pool, i.e. the response is done. */
        *(struct server **) h2o_mem_alloc_shared(&req->pool, sizeof(s), on_request_done) = s;
        s->busy++;
        s->n_requests++;

        /* Exact patterns first: a path they know answers 405 for another
         * method, whatever a wildcard route would have taken. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < s->n_routes; i++) {
                        const struct route *r = &s->routes[i];

                        if (is_wildcard(r) != (pass == 1) || !route_match(r->pattern, req->path.base, len, &params))
                                continue;
                        if (method_matches(r, req->method)) {
                                if (req->entity.base && req->entity.len > s->max_body)
                                        return http_reply_error(req, 413, "request body exceeds %zu bytes",
                                                                s->max_body);
                                return r->handler(r->userdata, req, &params);
                        }
                        if (strstr(allow, r->method) == NULL) {
                                size_t n = strlen(allow);
                                snprintf(allow + n, sizeof(allow) - n, "%s%s%s", n ? ", " : "", r->method,
                                         streq(r->method, "GET") ? ", HEAD" : "");
                        }
                }
                if (allow[0]) {
                        http_add_header(req, H2O_TOKEN_ALLOW, allow);
                        return http_reply_error(req, 405, "method %.*s not allowed on this path (allowed: %s)",
                                                (int) req->method.len, req->method.base, allow);
                }
        }
        return http_reply_error(req, 404, "no such path: %.*s", (int) len, req->path.base);
}

/* h2o answers some bad requests itself (413 over the hard limit, broken
 * chunked encoding) in text/plain, before any handler and bound to the
 * host's fallback path; rewrite those into the JSON error shape every client
 * of ours expects. The filter sits on the fallback path only: what a
 * handler sends (a proxied text/plain 404, say) is left alone. */
struct json_error_ostream {
        h2o_ostream_t super;
        h2o_iovec_t body;
};

static void json_error_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t st) {
        struct json_error_ostream *o = (void *) self;
        h2o_ostream_send_next(&o->super, req, &o->body, h2o_send_state_is_in_progress(st) ? 0 : 1, st);
}

static void json_error_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot) {
        ssize_t i;
        if (req->res.status >= 400 && (i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1)) >= 0 &&
            h2o_memis(req->res.headers.entries[i].value.base, req->res.headers.entries[i].value.len,
                      H2O_STRLIT("text/plain; charset=utf-8"))) {
                struct json_error_ostream *o = (void *) h2o_add_ostream(req, sizeof(*o), slot);
                const char *reason = req->res.reason ? req->res.reason : "error";
                o->body = http_error_body(&req->pool, reason, strlen(reason));
                o->super.do_send = json_error_do_send;
                req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json"));
                req->res.content_length = o->body.len;
                slot = &o->super.next;
        }
        h2o_setup_next_ostream(req, slot);
}

static void register_json_errors(h2o_pathconf_t *pc) {
        h2o_create_filter(pc, sizeof(h2o_filter_t))->on_setup_ostream = json_error_setup;
}

static void on_signal(h2o_socket_t *sock, const char *err) {
        struct server *s = sock->data;
        struct signalfd_siginfo si;

        while (read(h2o_socket_get_fd(sock), &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        log_debug("Received SIGHUP.");
                        if (s->hooks.on_reload)
                                s->hooks.on_reload(s->hooks.userdata);
                        continue;
                }
                if (s->stop_requested) {
                        log_debug("Received signal %u again, exiting at once.", si.ssi_signo);
                        _exit(EXIT_FAILURE);
                }
                log_debug("Received signal %u, shutting down.", si.ssi_signo);
                server_request_stop(s);
        }
}

static int setup_signals(struct server *s) {
        sigset_t mask;
        int fd;

        (void) signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        /* Blocked before any thread starts, so every thread inherits the mask. */
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        s->signals = h2o_evloop_socket_create(s->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        s->signals->data = s;
        h2o_socket_read_start(s->signals, on_signal);
        return 0;
}

static void on_watchdog(struct timer *t) {
        struct server *s = H2O_STRUCT_FROM_MEMBER(struct server, watchdog, t);
        /* Pinged from the loop itself: a hung loop stops the pings. */
        systemd_notify_watchdog();
        if (s->hooks.on_watchdog)
                s->hooks.on_watchdog(s->hooks.userdata);
        (void) timer_start(&s->timers, &s->watchdog, s->watchdog_ms);
}

static void raise_fd_limit(void) {
        struct rlimit rl;
        /* Heartbeats and proxied requests hold many sockets at once. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
}

int server_init(struct server *s, size_t max_body) {
        h2o_hostconf_t *host;
        h2o_pathconf_t *pc;
        int r;

        memset(s, 0, sizeof(*s));
        s->max_body = max_body;
        raise_fd_limit();
        h2o_config_init(&s->config);
        /* Above this h2o refuses the body itself; between max_body and it we
         * answer 413 with a JSON reason. */
        s->config.max_request_entity_size = max_body * 4 > 1024 * 1024 ? max_body * 4 : 1024 * 1024;
        host = h2o_config_register_host(&s->config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
        pc = h2o_config_register_path(host, "/", 0);
        h2o_handler_t *h = h2o_create_handler(pc, sizeof(h2o_handler_t) + sizeof(struct server *));
        h->on_req = on_req;
        *(struct server **) (h + 1) = s;
        register_json_errors(&host->fallback_path);

        h2o_context_init(&s->ctx, h2o_evloop_create(), &s->config);
        s->accept_ctx.ctx = &s->ctx;
        s->accept_ctx.hosts = s->config.hosts;

        r = timers_init(&s->timers, s->ctx.loop);
        if (r < 0)
                return r;
        timer_init(&s->watchdog, on_watchdog);
        return setup_signals(s);
}

int server_add_route(struct server *s, const struct route *r) {
        struct route *routes = reallocarray(s->routes, s->n_routes + 1, sizeof(*routes));
        if (!routes)
                return -ENOMEM;
        s->routes = routes;
        s->routes[s->n_routes++] = *r;
        return 0;
}

int server_add_routes(struct server *s, const struct route *r, size_t n, void *userdata) {
        for (size_t i = 0; i < n; i++) {
                struct route copy = r[i];
                int ret;
                copy.userdata = userdata;
                ret = server_add_route(s, &copy);
                if (ret < 0)
                        return ret;
        }
        return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err) {
        struct server *s = listener->data;
        h2o_socket_t *sock;

        if (err)
                return;
        for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)); i++)
                h2o_accept(&s->accept_ctx, sock);
}

static int add_listener(struct server *s, int fd) {
        if (s->n_listeners == SERVER_MAX_LISTENERS)
                return -E2BIG;
        h2o_socket_t *sock = h2o_evloop_socket_create(s->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        sock->data = s;
        h2o_socket_read_start(sock, on_accept);
        s->listeners[s->n_listeners++] = sock;
        return 0;
}

/* Splits "HOST:PORT", "[V6]:PORT" or ":PORT" (all addresses). */
static int split_host_port(const char *listen, char **ret_host, char **ret_port) {
        const char *colon = strrchr(listen, ':');
        const char *host = listen;
        size_t host_len;

        if (!colon || colon[1] == '\0')
                return -EINVAL;
        host_len = (size_t) (colon - listen);
        if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
                host++;
                host_len -= 2;
        } else if (memchr(host, ':', host_len))
                return -EINVAL;
        *ret_host = host_len ? strndup(host, host_len) : NULL;
        *ret_port = strdup(colon + 1);
        return *ret_port ? 0 : -ENOMEM;
}

static int bind_address(const char *address) {
        _cleanup_free_ char *host = NULL, *port = NULL;
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
        struct addrinfo *ai;
        int r, fd, on = 1;

        r = split_host_port(address, &host, &port);
        if (r < 0)
                return r;
        r = getaddrinfo(host, port, &hints, &ai);
        if (r != 0)
                return r == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(ai);
                return r;
        }
        freeaddrinfo(ai);
        return fd;
}

int server_listen(struct server *s, const char *address) {
        int n = systemd_listen_sockets(), r;

        if (n < 0)
                return n;
        for (int i = 0; i < n; i++)
                if ((r = add_listener(s, 3 + i)) < 0)
                        return r;
        if (n > 0)
                return 0;
        if (!address)
                return -EDESTADDRREQ;
        r = bind_address(address);
        if (r < 0)
                return r;
        return add_listener(s, r);
}

int server_local_url(struct server *s, char **ret) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        char host[INET6_ADDRSTRLEN];
        int port, v6only = 0;

        if (s->n_listeners == 0)
                return -ENOTCONN;
        if (getsockname(h2o_socket_get_fd(s->listeners[0]), (struct sockaddr *) &ss, &len) < 0)
                return -errno;
        if (ss.ss_family == AF_INET) {
                struct sockaddr_in *sin = (void *) &ss;
                if (sin->sin_addr.s_addr == htonl(INADDR_ANY))
                        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
                port = ntohs(sin->sin_port);
                return asprintf(ret, "http://%s:%d", host, port) < 0 ? -ENOMEM : 0;
        }
        if (ss.ss_family == AF_INET6) {
                struct sockaddr_in6 *sin6 = (void *) &ss;
                socklen_t optlen = sizeof(v6only);
                port = ntohs(sin6->sin6_port);
                (void) getsockopt(h2o_socket_get_fd(s->listeners[0]), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &optlen);
                if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
                        return asprintf(ret, v6only ? "http://[::1]:%d" : "http://127.0.0.1:%d", port) < 0 ? -ENOMEM
                                                                                                           : 0;
                inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
                return asprintf(ret, "http://[%s]:%d", host, port) < 0 ? -ENOMEM : 0;
        }
        return -EAFNOSUPPORT;
}

void server_request_stop(struct server *s) {
        s->stop_requested = true;
}

static bool has_connections(struct server *s) {
        return !h2o_linklist_is_empty(&s->ctx.http1._conns) || !h2o_linklist_is_empty(&s->ctx.http2._conns);
}

static void run_until(struct server *s, bool (*done)(struct server *), uint64_t deadline) {
        while (!done(s) && now_ms() < deadline)
                if (h2o_evloop_run(s->ctx.loop, 100) != 0 && errno != EINTR)
                        break;
}

static bool is_idle(struct server *s) {
        return s->busy == 0;
}

static bool is_disconnected(struct server *s) {
        return !has_connections(s);
}

int server_run(struct server *s) {
        uint64_t usec = systemd_watchdog_usec(), deadline;

        if (usec > 0) {
                s->watchdog_ms = usec / 2000 ? usec / 2000 : 1;
                (void) timer_start(&s->timers, &s->watchdog, s->watchdog_ms);
        }

        while (!s->stop_requested)
                if (h2o_evloop_run(s->ctx.loop, INT32_MAX) != 0 && errno != EINTR)
                        return -errno;

        /* Shutdown in h2o's order: stop accepting, then let the work drain. */
        for (size_t i = 0; i < s->n_listeners; i++) {
                h2o_socket_read_stop(s->listeners[i]);
                h2o_socket_close(s->listeners[i]);
        }
        s->n_listeners = 0;
        if (s->hooks.on_stop)
                s->hooks.on_stop(s->hooks.userdata);
        deadline = now_ms() + SERVER_SHUTDOWN_TIMEOUT_MS;
        run_until(s, is_idle, deadline);
        /* HTTP/1 in h2o 2.2 has no graceful shutdown: idle keep-alive
         * connections (a peer's heartbeats, say) wait on req_timeout. With
         * nothing in flight, let that expire them at once. */
        s->ctx.http1.req_timeout.timeout = 0;
        h2o_context_request_shutdown(&s->ctx);
        run_until(s, is_disconnected, deadline);
        /* Requests still open keep h2o's timers linked: disposing of the
         * context would assert. The process exits right after anyway. */
        s->unfinished = s->busy > 0 || has_connections(s);
        return s->unfinished ? -ETIMEDOUT : 0;
}

void server_done(struct server *s) {
        if (!s->ctx.loop)
                return;
        timer_stop(&s->timers, &s->watchdog);
        for (size_t i = 0; i < s->n_listeners; i++)
                h2o_socket_close(s->listeners[i]);
        if (s->signals)
                h2o_socket_close(s->signals);
        timers_done(&s->timers);
        /* h2o frees closed sockets on the next turn of the loop. */
        h2o_evloop_run(s->ctx.loop, 0);
        if (s->unfinished) {
                free(s->routes);
                s->routes = NULL;
                s->ctx.loop = NULL;
                return;
        }
        /* h2o_context_request_shutdown() arms a one-second HTTP/2 timer even
         * without HTTP/2 connections; dispose asserts that none is pending. */
        if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
                h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
        h2o_context_dispose(&s->ctx);
        h2o_evloop_destroy(s->ctx.loop);
        h2o_config_dispose(&s->config);
        free(s->routes);
        s->ctx.loop = NULL;
}
