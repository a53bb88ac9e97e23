/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <string.h>

#include "httpc.h"
#include "log.h"

/* One socket curl asked us to watch. h2o gets a dup() of curl's fd: both
 * close their own copy. */
struct httpc_sock {
        struct httpc *client;
        h2o_socket_t *sock;
        curl_socket_t fd;
        int what; /* CURL_POLL_* last asked for */
};

struct httpc_transfer {
        h2o_linklist_t link;
        struct httpc *client;
        CURL *easy;
        struct curl_slist *headers;
        char *body;
        char *response;
        size_t response_len, response_allocated, max_response;
        bool too_large;
        httpc_cb_t cb;
        void *userdata;
        char error[CURL_ERROR_SIZE];
};

#define HTTPC_IDLE_HANDLES 64

/* An easy handle costs an allocation of some 20 KB and its set-up: keep a
 * few for the next transfers. */
static void handle_release(struct httpc *c, CURL *easy) {
        if (!easy)
                return;
        if (c->n_idle < HTTPC_IDLE_HANDLES && !c->closing) {
                curl_easy_reset(easy);
                c->idle[c->n_idle++] = easy;
                return;
        }
        curl_easy_cleanup(easy);
}

static CURL *handle_get(struct httpc *c) {
        return c->n_idle > 0 ? c->idle[--c->n_idle] : curl_easy_init();
}

static void transfer_free(struct httpc_transfer *t) {
        if (h2o_linklist_is_linked(&t->link))
                h2o_linklist_unlink(&t->link);
        handle_release(t->client, t->easy);
        curl_slist_free_all(t->headers);
        free(t->body);
        free(t->response);
        free(t);
}

static int curl_error_to_errno(CURLcode code) {
        switch (code) {
        case CURLE_OK: return 0;
        case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
        case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
        case CURLE_WRITE_ERROR: return -EFBIG;
        case CURLE_OUT_OF_MEMORY: return -ENOMEM;
        default: return -EIO;
        }
}

static void finish(struct httpc *c, CURL *easy, CURLcode code) {
        struct httpc_transfer *t;
        struct httpc_response res = { 0 };
        char *type = NULL;

        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &t);
        curl_multi_remove_handle(c->multi, easy);
        c->n_active--;

        if (code == CURLE_OK)
                curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res.status);
        if (code == CURLE_OK)
                curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &type);
        res.error = t->too_large ? -EFBIG : curl_error_to_errno(code);
        res.error_message = t->too_large ? "response too large"
                            : code       ? (t->error[0] ? t->error : curl_easy_strerror(code))
                                         : NULL;
        res.body = t->response ?: "";
        res.body_len = t->response_len;
        res.content_type = type;
        if (code != CURLE_OK)
                res.status = 0;

        h2o_linklist_unlink(&t->link);
        t->cb(&res, t->userdata);
        transfer_free(t);
}

static void check_done(struct httpc *c) {
        CURLMsg *m;
        int left;

        while ((m = curl_multi_info_read(c->multi, &left))) {
                if (m->msg != CURLMSG_DONE)
                        continue;
                /* m is invalid once the handle is removed: read it first. */
                finish(c, m->easy_handle, m->data.result);
        }
}

static void on_sock_in(h2o_socket_t *sock, const char *err) {
        struct httpc_sock *hs = sock->data;
        struct httpc *c = hs->client;
        int running;

        curl_multi_socket_action(c->multi, hs->fd, CURL_CSELECT_IN, &running);
        check_done(c);
}

static void on_sock_out(h2o_socket_t *sock, const char *err);

static void arm_out(struct httpc_sock *hs) {
        /* h2o_socket_notify_write() is one-shot: re-armed while curl wants OUT. */
        if ((hs->what & CURL_POLL_OUT) && !h2o_socket_is_writing(hs->sock))
                h2o_socket_notify_write(hs->sock, on_sock_out);
}

static void on_sock_out(h2o_socket_t *sock, const char *err) {
        struct httpc_sock *hs = sock->data;
        struct httpc *c = hs->client;
        int running;

        /* A pending notification cannot be cancelled; ignore a stale one. */
        if (!(hs->what & CURL_POLL_OUT))
                return;
        c->in_action = hs;
        c->in_action_removed = false;
        curl_multi_socket_action(c->multi, hs->fd, CURL_CSELECT_OUT, &running);
        c->in_action = NULL;
        if (c->in_action_removed)
                free(hs);
        else
                arm_out(hs);
        check_done(c);
}

/* The wrapper of curl's fd, kept while the connection lives: curl says
 * CURL_POLL_REMOVE at the end of every transfer, also of a connection it
 * keeps for the next one, and making the wrapper again for each transfer
 * (a dup(), an epoll registration, a close()) costs more than the transfer
 * itself on loopback. It goes when curl closes the socket. */
static struct httpc_sock *sock_get(struct httpc *c, curl_socket_t fd) {
        struct httpc_sock *hs;
        int dupfd;

        if ((size_t) fd < c->n_socks && c->socks[fd])
                return c->socks[fd];
        if ((size_t) fd >= c->n_socks) {
                size_t n = (size_t) fd + 64;
                struct httpc_sock **socks = reallocarray(c->socks, n, sizeof(*socks));
                if (!socks)
                        return NULL;
                memset(socks + c->n_socks, 0, (n - c->n_socks) * sizeof(*socks));
                c->socks = socks;
                c->n_socks = n;
        }
        dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (dupfd < 0)
                return NULL;
        hs = calloc(1, sizeof(*hs));
        if (!hs) {
                close(dupfd);
                return NULL;
        }
        hs->client = c;
        hs->fd = fd;
        hs->sock = h2o_evloop_socket_create(c->loop, dupfd, H2O_SOCKET_FLAG_DONT_READ);
        hs->sock->data = hs;
        c->socks[fd] = hs;
        return hs;
}

static void sock_close(struct httpc *c, curl_socket_t fd) {
        struct httpc_sock *hs = (size_t) fd < c->n_socks ? c->socks[fd] : NULL;

        if (!hs)
                return;
        c->socks[fd] = NULL;
        h2o_socket_close(hs->sock); /* closes the dup; freed by h2o on the next turn */
        if (hs == c->in_action)
                c->in_action_removed = true; /* on_sock_out still uses it */
        else
                free(hs);
}

static int on_curl_close(void *userp, curl_socket_t fd) {
        sock_close(userp, fd);
        return close(fd);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct httpc *c = userp;
        struct httpc_sock *hs = socketp;

        if (what == CURL_POLL_REMOVE) {
                /* Idle until curl uses the connection again, or closes it. */
                if (hs) {
                        hs->what = 0;
                        if (h2o_socket_is_reading(hs->sock))
                                h2o_socket_read_stop(hs->sock);
                }
                curl_multi_assign(c->multi, fd, NULL);
                return 0;
        }
        if (!hs) {
                hs = sock_get(c, fd);
                if (!hs)
                        return -1;
                curl_multi_assign(c->multi, fd, hs);
        }
        hs->what = what;
        if (what & CURL_POLL_IN) {
                if (!h2o_socket_is_reading(hs->sock))
                        h2o_socket_read_start(hs->sock, on_sock_in);
        } else if (h2o_socket_is_reading(hs->sock))
                h2o_socket_read_stop(hs->sock);
        arm_out(hs);
        return 0;
}

static void on_timer(struct timer *timer) {
        struct httpc *c = H2O_STRUCT_FROM_MEMBER(struct httpc, timer, timer);
        int running;

        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        check_done(c);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        struct httpc *c = userp;

        /* Never act from inside curl: the timer fires from the loop. */
        if (timeout_ms < 0)
                timer_stop(c->timers, &c->timer);
        else
                (void) timer_start(c->timers, &c->timer, (uint64_t) timeout_ms);
        return 0;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        struct httpc_transfer *t = userdata;
        size_t n = size * nmemb;

        if (t->response_len + n > t->max_response) {
                t->too_large = true;
                return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        if (t->response_len + n + 1 > t->response_allocated) {
                size_t a = t->response_allocated ? t->response_allocated : 256;
                while (a < t->response_len + n + 1)
                        a *= 2;
                char *p = realloc(t->response, a);
                if (!p)
                        return 0;
                t->response = p;
                t->response_allocated = a;
        }
        memcpy(t->response + t->response_len, data, n);
        t->response_len += n;
        t->response[t->response_len] = '\0';
        return n;
}

int httpc_init(struct httpc *c, h2o_evloop_t *loop, struct timers *timers) {
        *c = (struct httpc){ .loop = loop, .timers = timers };
        /* Not thread-safe: the first httpc_init() must run before any thread starts. */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -ENOMEM;
        h2o_linklist_init_anchor(&c->transfers);
        timer_init(&c->timer, on_timer);
        c->idle = calloc(HTTPC_IDLE_HANDLES, sizeof(CURL *));
        c->multi = curl_multi_init();
        if (!c->multi || !c->idle)
                return -ENOMEM;
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
        /* Idle keep-alive connections kept for reuse; each costs two fds. */
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 256L);
        return 0;
}

int httpc_post_json(struct httpc *c, const char *url, const char *body, size_t len, uint64_t timeout_ms, httpc_cb_t cb,
                    void *userdata, struct httpc_transfer **ret) {
        return httpc_start(c,
                           &(struct httpc_request){ .method = "POST",
                                                    .url = url,
                                                    .content_type = "application/json",
                                                    .body = body,
                                                    .body_len = len,
                                                    .timeout_ms = timeout_ms },
                           cb, userdata, ret);
}

void httpc_set_max_connections(struct httpc *c, size_t n) {
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long) n);
}

void httpc_cancel(struct httpc *c, struct httpc_transfer *t) {
        curl_multi_remove_handle(c->multi, t->easy);
        c->n_active--;
        transfer_free(t);
}

void httpc_done(struct httpc *c) {
        if (!c->multi)
                return;
        c->closing = true;
        while (!h2o_linklist_is_empty(&c->transfers)) {
                struct httpc_transfer *t = H2O_STRUCT_FROM_MEMBER(struct httpc_transfer, link, c->transfers.next);
                struct httpc_response res = { .error = -ECANCELED, .error_message = "cancelled", .body = "" };

                curl_multi_remove_handle(c->multi, t->easy);
                c->n_active--;
                h2o_linklist_unlink(&t->link);
                t->cb(&res, t->userdata);
                transfer_free(t);
        }
        while (c->n_idle > 0)
                curl_easy_cleanup(c->idle[--c->n_idle]);
        free(c->idle);
        c->idle = NULL;
        /* Closing the connection cache closes each socket through on_curl_close(). */
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        for (size_t fd = 0; fd < c->n_socks; fd++)
                sock_close(c, (curl_socket_t) fd);
        free(c->socks);
        c->socks = NULL;
        c->n_socks = 0;
        timer_stop(c->timers, &c->timer);
        curl_global_cleanup();
}

int httpc_start(struct httpc *c, const struct httpc_request *req, httpc_cb_t cb, void *userdata,
                struct httpc_transfer **ret) {
        struct httpc_transfer *t;
        const char *method = req->method ?: (req->body ? "POST" : "GET");

        if (c->closing)
                return -ESHUTDOWN;
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->client = c;
        t->cb = cb;
        t->userdata = userdata;
        t->max_response = req->max_response ?: 1024 * 1024;
        t->easy = handle_get(c);
        if (!t->easy)
                goto oom;

        curl_easy_setopt(t->easy, CURLOPT_URL, req->url);
        curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
        curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
        curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, (long) (req->timeout_ms ?: 5000));
        curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETFUNCTION, on_curl_close);
        curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETDATA, c);
        curl_easy_setopt(t->easy, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
        if (!streq(method, "GET"))
                curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, method);
        if (streq(method, "HEAD"))
                curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);

        /* No "Expect: 100-continue" round trip for our small bodies. */
        t->headers = curl_slist_append(NULL, "Expect:");
        if (req->content_type) {
                char header[256];
                snprintf(header, sizeof(header), "Content-Type: %s", req->content_type);
                struct curl_slist *h = curl_slist_append(t->headers, header);
                if (!h)
                        goto oom;
                t->headers = h;
        }
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
        if (req->body) {
                t->body = malloc(req->body_len + 1);
                if (!t->body)
                        goto oom;
                memcpy(t->body, req->body, req->body_len);
                curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
                curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_len);
        }

        if (curl_multi_add_handle(c->multi, t->easy) != CURLM_OK)
                goto oom;
        c->n_active++;
        h2o_linklist_insert(&c->transfers, &t->link);
        if (ret)
                *ret = t;
        return 0;

oom:
        transfer_free(t);
        return -ENOMEM;
}
