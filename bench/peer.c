/* SPDX-License-Identifier: MIT */
/* bench/peer: a fake heartbeat peer that answers every HTTP request on
 * 127.0.0.1:PORT with 200 and then closes the connection, so each probe of
 * the registry opens a new TCP connection, as it would with 10,000 providers
 * on distinct hosts. (h2o, the keep-alive peer of bench/registry.sh, lets
 * curl reuse connections across providers.) SIGUSR1 prints the number of
 * requests answered so far on stdout.
 *
 *   cc -O2 -o peer bench/peer.c && ./peer PORT */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char response[] = "HTTP/1.1 200 OK\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: 16\r\n"
                               "Connection: close\r\n"
                               "\r\n"
                               "{\"status\":\"ok\"}\n";

struct conn {
        int fd;
        size_t len;
        char buf[8192];
};

static volatile sig_atomic_t report, quit;

static void on_usr1(int sig) {
        report = 1;
}

static void on_term(int sig) {
        quit = 1;
}

static void conn_close(struct conn *c) {
        close(c->fd);
        free(c);
}

/* Done when the headers and the Content-Length body are in. */
static int request_complete(struct conn *c) {
        char *end, *cl;
        size_t head, body = 0;

        c->buf[c->len] = '\0';
        end = strstr(c->buf, "\r\n\r\n");
        if (!end)
                return 0;
        head = (size_t) (end - c->buf) + 4;
        cl = strcasestr(c->buf, "\r\ncontent-length:");
        if (cl && cl < end)
                body = strtoul(cl + 17, NULL, 10);
        return c->len >= head + body;
}

int main(int argc, char **argv) {
        struct sockaddr_in addr = { .sin_family = AF_INET };
        struct epoll_event ev, events[256];
        unsigned long answered = 0;
        int ls, ep, one = 1;

        if (argc != 2) {
                fprintf(stderr, "usage: %s PORT\n", argv[0]);
                return 2;
        }
        signal(SIGPIPE, SIG_IGN);
        signal(SIGUSR1, on_usr1);
        signal(SIGTERM, on_term);
        signal(SIGINT, on_term);
        addr.sin_port = htons((unsigned short) atoi(argv[1]));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(ls, (struct sockaddr *) &addr, sizeof(addr)) < 0 || listen(ls, 4096) < 0) {
                perror("peer: listen");
                return 1;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = NULL };
        epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
        printf("ready\n");
        fflush(stdout);

        while (!quit) {
                int n = epoll_wait(ep, events, 256, 100);

                if (report) {
                        report = 0;
                        printf("%lu\n", answered);
                        fflush(stdout);
                }
                for (int i = 0; i < n; i++) {
                        struct conn *c = events[i].data.ptr;

                        if (!c) {
                                int fd;
                                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                                        c = malloc(sizeof(*c));
                                        if (!c) {
                                                close(fd);
                                                continue;
                                        }
                                        c->fd = fd;
                                        c->len = 0;
                                        ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
                                        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                                }
                                continue;
                        }
                        ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
                        if (r < 0 && (errno == EAGAIN || errno == EINTR))
                                continue;
                        if (r <= 0) {
                                conn_close(c);
                                continue;
                        }
                        c->len += (size_t) r;
                        if (request_complete(c)) {
                                /* Small enough for a fresh socket's buffer. */
                                if (write(c->fd, response, sizeof(response) - 1) == (ssize_t) sizeof(response) - 1)
                                        answered++;
                                conn_close(c);
                        } else if (c->len == sizeof(c->buf) - 1)
                                conn_close(c);
                }
        }
        return 0;
}
