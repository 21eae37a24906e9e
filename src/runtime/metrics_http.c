/* A minimal loopback HTTP/1.0 endpoint for long-running VMs:
 *   GET /metrics  Prometheus text      GET /stats  the JSON snapshot
 * One thread, one connection at a time (a scraper every few seconds is the
 * load it is for), every socket operation bounded by a 1 s timeout so a slow
 * client cannot wedge it. Loopback only: the statistics say a lot about the
 * guest, and nothing here authenticates. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/export.h"

struct vmrt__metrics_server {
    int fd;           /* listening socket */
    int stop_pipe[2]; /* written once to stop the thread */
    pthread_t thread;
    vmrt__snapshot_fn fn;
    void *arg;
    int port;
};

int vmrt__parse_listen(const char *where, struct sockaddr_storage *ss, unsigned *len)
{
    const char *listen_addr = where;
    if (!listen_addr)
        return -EINVAL;
    char host[64];
    const char *colon;
    if (listen_addr[0] == '[') {
        const char *end = strchr(listen_addr, ']');
        if (!end || end[1] != ':' || (size_t)(end - listen_addr - 1) >= sizeof host)
            return -EINVAL;
        memcpy(host, listen_addr + 1, (size_t)(end - listen_addr - 1));
        host[end - listen_addr - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(listen_addr, ':');
        if (!colon || (size_t)(colon - listen_addr) >= sizeof host)
            return -EINVAL;
        memcpy(host, listen_addr, (size_t)(colon - listen_addr));
        host[colon - listen_addr] = '\0';
    }
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || colon[1] == '\0' || port > 65535)
        return -EINVAL;
    if (!strcmp(host, "localhost"))
        strcpy(host, "127.0.0.1");
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127)
            return -EADDRNOTAVAIL;
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return -EADDRNOTAVAIL;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof *in6;
        return 0;
    }
    return -EINVAL;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, const char *status, const char *type, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, type, len);
    write_all(fd, head, (size_t)n);
    write_all(fd, body, len);
}

static void serve(struct vmrt__metrics_server *srv, int fd)
{
    struct timeval tv = {.tv_sec = 1};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char req[1024];
    size_t n = 0;
    while (n < sizeof req - 1) {
        ssize_t r = read(fd, req + n, sizeof req - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    req[n] = '\0';
    bool metrics = !strncmp(req, "GET /metrics ", 13) || !strncmp(req, "GET /metrics?", 13);
    bool stats = !strncmp(req, "GET /stats ", 11);
    if (!metrics && !stats) {
        const char *msg = "not found: try /metrics or /stats\n";
        respond(fd, "404 Not Found", "text/plain", msg, strlen(msg));
        return;
    }
    json_t *snap = srv->fn(srv->arg);
    char *body = NULL;
    size_t len = 0;
    if (snap && stats) {
        body = json_dumps(snap, JSON_INDENT(2) | JSON_SORT_KEYS);
        len = body ? strlen(body) : 0;
    } else if (snap) {
        FILE *f = open_memstream(&body, &len);
        if (f) {
            vmrt__export_prometheus(snap, f);
            fclose(f);
        }
    }
    json_decref(snap);
    if (body)
        respond(fd, "200 OK", stats ? "application/json" : "text/plain; version=0.0.4", body, len);
    else
        respond(fd, "500 Internal Server Error", "text/plain", "no snapshot\n", 12);
    free(body);
}

static void *server_main(void *arg)
{
    struct vmrt__metrics_server *srv = arg;
    struct pollfd pfd[2] = {{.fd = srv->fd, .events = POLLIN},
                            {.fd = srv->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[1].revents)
            break;
        if (pfd[0].revents & POLLIN) {
            int c = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) {
                serve(srv, c);
                close(c);
            }
        }
    }
    return NULL;
}

int vmrt__metrics_start(vmrt__metrics_server_t **out, const char *where, vmrt__snapshot_fn fn,
                        void *arg)
{
    struct sockaddr_storage ss;
    unsigned len;
    int err = vmrt__parse_listen(where, &ss, &len);
    if (err)
        return err;
    struct vmrt__metrics_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return -ENOMEM;
    srv->fn = fn;
    srv->arg = arg;
    srv->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (srv->fd < 0 || setsockopt(srv->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(srv->fd, (struct sockaddr *)&ss, len) != 0 || listen(srv->fd, 16) != 0 ||
        pipe2(srv->stop_pipe, O_CLOEXEC) != 0)
        goto fail;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(srv->fd, (struct sockaddr *)&bound, &blen) != 0)
        goto fail;
    srv->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                 : ((struct sockaddr_in6 *)&bound)->sin6_port);
    err = pthread_create(&srv->thread, NULL, server_main, srv);
    if (err) {
        errno = err;
        goto fail;
    }
    *out = srv;
    return 0;
fail:
    err = -errno;
    if (srv->fd >= 0)
        close(srv->fd);
    if (srv->stop_pipe[0] > 0) {
        close(srv->stop_pipe[0]);
        close(srv->stop_pipe[1]);
    }
    free(srv);
    return err;
}

int vmrt__metrics_port(const vmrt__metrics_server_t *srv)
{
    return srv->port;
}

void vmrt__metrics_stop(vmrt__metrics_server_t *srv)
{
    if (!srv)
        return;
    ssize_t w = write(srv->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(srv->thread, NULL);
    close(srv->fd);
    close(srv->stop_pipe[0]);
    close(srv->stop_pipe[1]);
    free(srv);
}
