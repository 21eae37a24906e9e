/* I/O readiness for coroutines: one epoll instance per scheduler, served by a
 * poller thread started at the first wait.
 *
 * Each fd has a poll descriptor (allocated in chunks on first use) holding
 * at most one read and one write waiter plus "ready" bits. Fds are
 * registered once, edge-triggered, for both directions. An event wakes the
 * waiter of that direction or, if none waits, sets the ready bit, which the
 * next waiter consumes instead of parking: the classic race between an
 * EAGAIN and the event that follows it cannot lose the event.
 * The I/O functions retry the system call after each wake-up. On a plain
 * thread they use poll(2) instead.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define PD_CHUNK  1024
#define PD_CHUNKS 1024

enum { IO_READ = 1, IO_WRITE = 2 };

typedef struct pollfd_desc {
    spin_t lock;
    wait_t *rw, *ww;
    bool rready, wready;
    bool registered;
    bool nonblock;
} pd_t;

struct netpoll {
    int epfd, evfd;
    pthread_t thread;
    _Atomic(pd_t *) chunks[PD_CHUNKS];
};

/* Poll descriptors are global (fds are process-wide); the epoll instance
 * belongs to the first scheduler that waits on I/O... kept per process. */
static struct netpoll *global_np;
static pthread_mutex_t np_lock = PTHREAD_MUTEX_INITIALIZER;
static int np_users;

static pd_t *pd_get(struct netpoll *np, int fd)
{
    if (fd < 0 || fd >= PD_CHUNK * PD_CHUNKS)
        return NULL;
    _Atomic(pd_t *) *slot = &np->chunks[fd / PD_CHUNK];
    pd_t *c = atomic_load_explicit(slot, acquire);
    if (!c) {
        pd_t *fresh = calloc(PD_CHUNK, sizeof *fresh);
        if (!fresh)
            return NULL;
        if (!atomic_compare_exchange_strong_explicit(slot, &c, fresh, memory_order_acq_rel,
                                                     acquire))
            free(fresh);
        else
            c = fresh;
    }
    return &c[fd % PD_CHUNK];
}

static void *poller_main(void *arg)
{
    struct netpoll *np = arg;
    struct epoll_event ev[128];
    for (;;) {
        int n = epoll_wait(np->epfd, ev, 128, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == np->evfd)
                return NULL;
            pd_t *pd = pd_get(np, fd);
            if (!pd)
                continue;
            uint32_t e = ev[i].events;
            bool err = e & (EPOLLERR | EPOLLHUP);
            spin_lock(&pd->lock);
            if (e & (EPOLLIN | EPOLLRDHUP) || err) {
                if (pd->rw && vmrt__wake(pd->rw, 0))
                    pd->rw = NULL;
                else
                    pd->rready = true;
            }
            if (e & EPOLLOUT || err) {
                if (pd->ww && vmrt__wake(pd->ww, 0))
                    pd->ww = NULL;
                else
                    pd->wready = true;
            }
            spin_unlock(&pd->lock);
        }
    }
}

static struct netpoll *netpoll_get(struct vmrt_sched *s)
{
    pthread_mutex_lock(&s->np_lock);
    if (s->np) {
        pthread_mutex_unlock(&s->np_lock);
        return s->np;
    }
    pthread_mutex_lock(&np_lock);
    if (!global_np) {
        struct netpoll *np = calloc(1, sizeof *np);
        if (np) {
            np->epfd = epoll_create1(EPOLL_CLOEXEC);
            np->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = np->evfd};
            if (np->epfd < 0 || np->evfd < 0 ||
                epoll_ctl(np->epfd, EPOLL_CTL_ADD, np->evfd, &ev) != 0 ||
                pthread_create(&np->thread, NULL, poller_main, np) != 0) {
                if (np->epfd >= 0)
                    close(np->epfd);
                if (np->evfd >= 0)
                    close(np->evfd);
                free(np);
                np = NULL;
            }
        }
        global_np = np;
    }
    if (global_np) {
        np_users++;
        s->np = global_np;
    }
    pthread_mutex_unlock(&np_lock);
    pthread_mutex_unlock(&s->np_lock);
    return s->np;
}

void vmrt__netpoll_fini(struct vmrt_sched *s)
{
    pthread_mutex_lock(&s->np_lock);
    if (!s->np) {
        pthread_mutex_unlock(&s->np_lock);
        return;
    }
    s->np = NULL;
    pthread_mutex_lock(&np_lock);
    if (--np_users == 0) {
        struct netpoll *np = global_np;
        global_np = NULL;
        uint64_t one = 1;
        ssize_t w = write(np->evfd, &one, sizeof one);
        (void)w;
        pthread_join(np->thread, NULL);
        close(np->epfd);
        close(np->evfd);
        for (int i = 0; i < PD_CHUNKS; i++)
            free(atomic_load(&np->chunks[i]));
        free(np);
    }
    pthread_mutex_unlock(&np_lock);
    pthread_mutex_unlock(&s->np_lock);
}

/* Waits for fd readiness on a coroutine of s. */
static int wait_fd(struct vmrt_sched *s, int fd, int events, uint64_t deadline)
{
    struct netpoll *np = netpoll_get(s);
    pd_t *pd = np ? pd_get(np, fd) : NULL;
    if (!pd)
        return np ? -EBADF : -ENOMEM;
    spin_lock(&pd->lock);
    if (!pd->registered) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        if (epoll_ctl(np->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) {
            int err = -errno;
            spin_unlock(&pd->lock);
            return err;
        }
        pd->registered = true;
    }
    if (((events & IO_READ) && pd->rready) || ((events & IO_WRITE) && pd->wready)) {
        if (events & IO_READ)
            pd->rready = false;
        if (events & IO_WRITE)
            pd->wready = false;
        spin_unlock(&pd->lock);
        return 0;
    }
    if (((events & IO_READ) && pd->rw) || ((events & IO_WRITE) && pd->ww)) {
        spin_unlock(&pd->lock);
        return -EBUSY; /* one waiter per direction */
    }
    wait_t w;
    vmrt__wait_init(&w);
    if (events & IO_READ)
        pd->rw = &w;
    if (events & IO_WRITE)
        pd->ww = &w;
    spin_unlock(&pd->lock);
    int r = vmrt__park(&w, deadline);
    spin_lock(&pd->lock);
    if (pd->rw == &w)
        pd->rw = NULL;
    if (pd->ww == &w)
        pd->ww = NULL;
    spin_unlock(&pd->lock);
    return r;
}

/* Plain thread: poll(2). */
static int wait_thread(int fd, int events, uint64_t deadline)
{
    struct pollfd p = {
        .fd = fd,
        .events = (short)(((events & IO_READ) ? POLLIN : 0) | ((events & IO_WRITE) ? POLLOUT : 0))};
    for (;;) {
        int ms = -1;
        if (deadline) {
            uint64_t now = vmrt_now_ns();
            if (now >= deadline)
                return VMRT_ETIMEOUT;
            ms = (int)((deadline - now + 999999) / 1000000);
        }
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0;
        if (n == 0)
            continue;
        if (errno != EINTR)
            return -errno;
    }
}

static int io_wait(int fd, int events, uint64_t deadline)
{
    vmrt_sched_t *s = vmrt_sched_current();
    return s ? wait_fd(s, fd, events, deadline) : wait_thread(fd, events, deadline);
}

static void make_nonblock(int fd)
{
    vmrt_sched_t *s = vmrt_sched_current();
    pd_t *pd = NULL;
    if (s && s->np)
        pd = pd_get(s->np, fd);
    if (pd && pd->nonblock)
        return;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && !(fl & O_NONBLOCK))
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    if (pd)
        pd->nonblock = true;
}

int vmrt_io_wait(int fd, int events, uint64_t timeout_ns)
{
    if (fd < 0 || !(events & 3))
        return -EINVAL;
    return io_wait(fd, events & 3, vmrt__deadline(timeout_ns));
}

ssize_t vmrt_io_read(int fd, void *buf, size_t n, uint64_t timeout_ns)
{
    uint64_t deadline = vmrt__deadline(timeout_ns);
    make_nonblock(fd);
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int err = io_wait(fd, IO_READ, deadline);
        if (err)
            return err;
    }
}

ssize_t vmrt_io_write(int fd, const void *buf, size_t n, uint64_t timeout_ns)
{
    uint64_t deadline = vmrt__deadline(timeout_ns);
    make_nonblock(fd);
    size_t done = 0;
    while (done < n) {
        ssize_t r = write(fd, (const char *)buf + done, n - done);
        if (r >= 0) {
            done += (size_t)r;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return done ? (ssize_t)done : -errno;
        int err = io_wait(fd, IO_WRITE, deadline);
        if (err)
            return done ? (ssize_t)done : err;
    }
    return (ssize_t)done;
}

int vmrt_io_accept(int fd, uint64_t timeout_ns)
{
    uint64_t deadline = vmrt__deadline(timeout_ns);
    make_nonblock(fd);
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0)
            return c;
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int err = io_wait(fd, IO_READ, deadline);
        if (err)
            return err;
    }
}

int vmrt_io_connect(int fd, const void *addr, unsigned addrlen, uint64_t timeout_ns)
{
    make_nonblock(fd);
    if (connect(fd, addr, addrlen) == 0)
        return 0;
    if (errno != EINPROGRESS && errno != EINTR)
        return -errno;
    int err = io_wait(fd, IO_WRITE, vmrt__deadline(timeout_ns));
    if (err)
        return err;
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return -errno;
    return -soerr;
}

int vmrt_io_close(int fd)
{
    pthread_mutex_lock(&np_lock);
    struct netpoll *np = global_np;
    pd_t *pd = np ? pd_get(np, fd) : NULL;
    if (pd) {
        spin_lock(&pd->lock);
        if (pd->registered)
            (void)epoll_ctl(np->epfd, EPOLL_CTL_DEL, fd, NULL);
        if (pd->rw)
            vmrt__wake(pd->rw, -EBADF);
        if (pd->ww)
            vmrt__wake(pd->ww, -EBADF);
        pd->rw = pd->ww = NULL;
        pd->registered = pd->rready = pd->wready = pd->nonblock = false;
        spin_unlock(&pd->lock);
    }
    pthread_mutex_unlock(&np_lock);
    return close(fd) == 0 ? 0 : -errno;
}
