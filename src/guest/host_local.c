/* The local host adapter: what exists today, on one OS thread.
 *
 * - Guest threads are vmrt coroutines from a vmrt_pool (stacks recycled),
 *   driven by a small loop on the thread that called vmrt_guest_run(): three
 *   run queues by priority, strict with anti-starvation (every 16th pick
 *   starts at Medium, every 64th at Low), FIFO within a priority.
 * - The translation tier runs on one High-priority coroutine ("jit") that the
 *   loop resumes before any guest thread whenever it has work.
 * - I/O requests are run by one Low-priority coroutine ("io") on
 *   non-blocking descriptors: a request that would block waits in poll(2),
 *   which the io coroutine calls with a zero timeout while guest threads are
 *   runnable (every 64 picks) and with the time to the next timer when
 *   nothing else can run. Regular-file operations run synchronously on it.
 * - Safepoints: the interpreter calls the hook every poll_interval polls;
 *   the hook yields if anything else is runnable, so a thread that never
 *   yields is still preempted (examples/guest/spinner.vasm).
 * - Timers: a binary heap of deadlines (sleep, select timeouts).
 * - Channels: a ring buffer plus FIFO queues of waiting senders/receivers;
 *   select waits on several receive queues with one waiter record.
 * - Deadlock: no runnable thread, no timer, no pending I/O, and guest threads
 *   still alive → vg_engine_deadlock().
 * - Heap: objects are bump-allocated from 1 MiB chunks (calloc) and all freed
 *   when the run ends. THIS ADAPTER NEVER COLLECTS: a program's memory use is
 *   the total it allocates, capped by heap_max (then 'out of memory'). The
 *   barrier hook only counts stores (a test checks that the engine calls it).
 *
 * Everything here runs on one OS thread, so there are no locks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <vmrt/coro.h>
#include <vmrt/pool.h>

#include "guest/engine.h"

#define LOCAL_STACK     (128u * 1024u)
#define CHUNK_SIZE      (1u << 20)
#define BIG_OBJECT      (CHUNK_SIZE / 4)
#define DEFAULT_HEAPMAX ((size_t)1 << 30)

enum { LT_READY, LT_RUNNING, LT_BLOCKED, LT_DONE };

typedef struct lthread lthread;
typedef struct lhost lhost;

typedef struct waiter {
    lthread *lt;
    bool done;
    int status; /* 0, VMRT_ECLOSED, VMRT_ETIMEOUT */
    uint32_t index;
    vg_value value; /* sender: value to deliver; receiver: value delivered */
} waiter;

typedef struct wnode {
    struct wnode *prev, *next;
    waiter *w;
    vg_chan *ch;
    uint32_t index;
    bool linked;
} wnode;

typedef struct wqueue {
    wnode *head, *tail;
} wqueue;

struct vg_chan {
    vg_value *buf; /* ring of cap values */
    uint32_t cap, head, count;
    bool closed;
    wqueue recvq, sendq;
    vg_chan *next_all;
};

struct lthread {
    vg_thread *t;
    vmrt_coro_t *co;
    lthread *next; /* run queue */
    int state;     /* LT_* */
    int prio;
    uint64_t wait_gen; /* bumped at each wake-up; stale timers compare it */
    int wake_status;
    lthread **joiners;
    uint32_t njoiners, joiners_cap;
};

typedef struct timer {
    uint64_t deadline;
    lthread *lt;
    uint64_t gen;
} timer;

typedef struct ionode {
    vg_io_req *req;
    lthread *lt;
    short events; /* waiting for these (0: not started or ready to retry) */
    int fd;       /* descriptor polled */
    size_t done;  /* bytes written so far */
    bool connecting;
    struct ionode *next;
} ionode;

typedef struct chunk {
    struct chunk *next;
    size_t used, size;
} chunk;

typedef struct jtask {
    void (*fn)(void *);
    void *arg;
    struct jtask *next;
} jtask;

struct lhost {
    vg_host base;
    vmrt_pool_t *pool;
    lthread *qhead[3], *qtail[3];
    uint64_t nready;
    uint64_t alive; /* guest threads started and not done */
    uint64_t picks;
    bool stop, main_done;
    bool quit; /* teardown: the io and jit coroutines return */
    lthread *current;
    vg_thread *main;
    timer *timers;
    uint32_t ntimers, timers_cap;
    ionode *io_head;
    uint32_t io_pending;
    vmrt_coro_t *io_co, *jit_co;
    jtask *jhead, *jtail;
    chunk *chunks;
    size_t heap_used, heap_max;
    vg_chan *chans;
    lthread **all; /* every lthread, for teardown */
    uint32_t nall, all_cap;
    vg_host_stats st;
};

static lhost *L(vg_host *h)
{
    return (lhost *)h;
}

/* ---- run queues ----------------------------------------------------------------------------- */

static void enqueue(lhost *h, lthread *lt)
{
    int p = lt->t->prio;
    lt->prio = p;
    lt->state = LT_READY;
    lt->next = NULL;
    if (h->qtail[p])
        h->qtail[p]->next = lt;
    else
        h->qhead[p] = lt;
    h->qtail[p] = lt;
    h->nready++;
}

static lthread *pick(lhost *h)
{
    if (!h->nready)
        return NULL;
    h->picks++;
    int first = (h->picks & 63) == 0 ? 2 : (h->picks & 15) == 0 ? 1 : 0;
    for (int k = 0; k < 3; k++) {
        int p = (first + k) % 3;
        lthread *lt = h->qhead[p];
        if (lt) {
            h->qhead[p] = lt->next;
            if (!h->qhead[p])
                h->qtail[p] = NULL;
            h->nready--;
            return lt;
        }
    }
    return NULL;
}

static void wake(lhost *h, lthread *lt, int status)
{
    if (lt->state != LT_BLOCKED)
        return;
    lt->wait_gen++;
    lt->wake_status = status;
    enqueue(h, lt);
}

/* Blocks the running guest thread until wake(); returns the wake status. */
static int block(lhost *h, lthread *lt)
{
    lt->state = LT_BLOCKED;
    vmrt_coro_yield();
    (void)h;
    return lt->wake_status;
}

/* ---- timers (binary min-heap) --------------------------------------------------------------- */

static int timer_add(lhost *h, uint64_t deadline, lthread *lt)
{
    if (h->ntimers == h->timers_cap) {
        uint32_t cap = h->timers_cap ? h->timers_cap * 2 : 16;
        timer *t = realloc(h->timers, cap * sizeof *t);
        if (!t)
            return -ENOMEM;
        h->timers = t;
        h->timers_cap = cap;
    }
    uint32_t i = h->ntimers++;
    timer nt = {deadline, lt, lt->wait_gen};
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (h->timers[parent].deadline <= deadline)
            break;
        h->timers[i] = h->timers[parent];
        i = parent;
    }
    h->timers[i] = nt;
    return 0;
}

static timer timer_pop(lhost *h)
{
    timer top = h->timers[0];
    timer last = h->timers[--h->ntimers];
    uint32_t i = 0, n = h->ntimers;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && h->timers[c + 1].deadline < h->timers[c].deadline)
            c++;
        if (last.deadline <= h->timers[c].deadline)
            break;
        h->timers[i] = h->timers[c];
        i = c;
    }
    if (n)
        h->timers[i] = last;
    return top;
}

static void fire_timers(lhost *h, uint64_t now)
{
    while (h->ntimers && h->timers[0].deadline <= now) {
        timer t = timer_pop(h);
        if (t.lt->state == LT_BLOCKED && t.lt->wait_gen == t.gen)
            wake(h, t.lt, VMRT_ETIMEOUT);
    }
}

/* ---- threads -------------------------------------------------------------------------------- */

static void *thread_entry(void *arg)
{
    lthread *lt = arg;
    lhost *h = L(lt->t->eng->host);
    vg_thread_body(lt->t);
    lt->state = LT_DONE;
    h->alive--;
    for (uint32_t i = 0; i < lt->njoiners; i++)
        wake(h, lt->joiners[i], 0);
    lt->njoiners = 0;
    if (lt->t == h->main)
        h->main_done = true;
    return NULL;
}

static int local_thread_start(vg_host *hh, vg_thread *t)
{
    lhost *h = L(hh);
    if (h->nall == h->all_cap) {
        uint32_t cap = h->all_cap ? h->all_cap * 2 : 64;
        lthread **a = realloc(h->all, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        h->all = a;
        h->all_cap = cap;
    }
    lthread *lt = calloc(1, sizeof *lt);
    if (!lt)
        return -ENOMEM;
    lt->t = t;
    lt->prio = t->prio;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "guest";
    attr.priority = VMRT_PRIO_MEDIUM;
    int rc = vmrt_pool_get(h->pool, &lt->co, &attr, thread_entry, lt);
    if (rc) {
        free(lt);
        return rc;
    }
    t->host_data = lt;
    h->all[h->nall++] = lt;
    h->alive++;
    if (h->alive > h->st.peak_threads)
        h->st.peak_threads = h->alive;
    enqueue(h, lt);
    return 0;
}

static int local_thread_join(vg_host *hh, vg_thread *self, vg_thread *target)
{
    lhost *h = L(hh);
    if (atomic_load(&target->state) == VG_T_DONE)
        return 0;
    lthread *tl = target->host_data, *me = self->host_data;
    if (tl->njoiners == tl->joiners_cap) {
        uint32_t cap = tl->joiners_cap ? tl->joiners_cap * 2 : 4;
        lthread **j = realloc(tl->joiners, cap * sizeof *j);
        if (!j)
            return -ENOMEM;
        tl->joiners = j;
        tl->joiners_cap = cap;
    }
    tl->joiners[tl->njoiners++] = me;
    block(h, me);
    return 0;
}

static void local_yield(vg_host *hh, vg_thread *self)
{
    lhost *h = L(hh);
    enqueue(h, self->host_data);
    vmrt_coro_yield();
}

static int local_sleep(vg_host *hh, vg_thread *self, uint64_t ns)
{
    lhost *h = L(hh);
    lthread *me = self->host_data;
    if (ns == 0) {
        local_yield(hh, self);
        return 0;
    }
    int rc = timer_add(h, vmrt_now_ns() + ns, me);
    if (rc)
        return rc;
    block(h, me);
    return 0;
}

/* The new priority applies when t next enters a run queue (at its next
 * safepoint, yield or wake-up). */
static void local_set_priority(vg_host *hh, vg_thread *t, int prio)
{
    (void)hh, (void)t, (void)prio;
}

static void local_safepoint(vg_host *hh, vg_thread *self)
{
    lhost *h = L(hh);
    lthread *me = self->host_data;
    if (h->nready || h->jhead) {
        h->st.preemptions++;
        enqueue(h, me);
        vmrt_coro_yield();
    }
}

static void local_stop(vg_host *hh)
{
    L(hh)->stop = true;
}

/* ---- heap ----------------------------------------------------------------------------------- */

static vg_obj *local_alloc(vg_host *hh, vg_thread *self, vg_kind kind, uint32_t len)
{
    lhost *h = L(hh);
    (void)self;
    size_t size = sizeof(vg_obj) + vg_payload_size(kind, len);
    if (h->heap_used + size > h->heap_max)
        return NULL;
    chunk *c = h->chunks;
    if (size > BIG_OBJECT || !c || c->size - c->used < size) {
        size_t csize = size > BIG_OBJECT ? size : CHUNK_SIZE;
        chunk *nc = calloc(1, sizeof(chunk) + csize);
        if (!nc)
            return NULL;
        nc->size = csize;
        if (size > BIG_OBJECT && c) { /* keep filling the current small-object chunk */
            nc->next = c->next;
            c->next = nc;
        } else {
            nc->next = c;
            h->chunks = nc;
        }
        c = nc;
    }
    vg_obj *o = (vg_obj *)((char *)(c + 1) + c->used);
    c->used += size;
    h->heap_used += size;
    o->kind = kind;
    o->len = kind == VG_KIND_CHAN ? 0 : len;
    h->st.objects++;
    h->st.bytes += size;
    return o;
}

static void local_barrier(vg_host *hh, vg_obj *holder, vg_value *slot, vg_value v)
{
    (void)holder, (void)slot, (void)v;
    L(hh)->st.barriers++;
}

/* ---- channels ------------------------------------------------------------------------------- */

static void q_push(wqueue *q, wnode *n)
{
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    n->linked = true;
}

static void q_unlink(wqueue *q, wnode *n)
{
    if (!n->linked)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->linked = false;
}

/* First waiter of q that is still waiting (drops completed ones). */
static wnode *q_first(wqueue *q)
{
    while (q->head && q->head->w->done)
        q_unlink(q, q->head);
    return q->head;
}

static void complete(lhost *h, wqueue *q, wnode *n, int status, vg_value v)
{
    waiter *w = n->w;
    q_unlink(q, n);
    w->done = true;
    w->status = status;
    w->index = n->index;
    if (status == 0 && v != (vg_value)-1)
        w->value = v;
    wake(h, w->lt, status);
}

static int local_chan_new(vg_host *hh, uint32_t cap, vg_chan **out)
{
    lhost *h = L(hh);
    size_t bytes = sizeof(vg_chan) + (size_t)cap * sizeof(vg_value);
    if (h->heap_used + bytes > h->heap_max) /* channel buffers count against the heap */
        return -ENOMEM;
    vg_chan *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    if (cap) {
        c->buf = calloc(cap, sizeof(vg_value));
        if (!c->buf) {
            free(c);
            return -ENOMEM;
        }
    }
    c->cap = cap;
    h->heap_used += bytes;
    c->next_all = h->chans;
    h->chans = c;
    *out = c;
    return 0;
}

/* Takes a value if one is available now: 1 taken, 0 none, VMRT_ECLOSED closed and drained. */
static int try_recv(lhost *h, vg_chan *c, vg_value *out)
{
    if (c->count) {
        *out = c->buf[c->head];
        c->head = (c->head + 1) % c->cap;
        c->count--;
        wnode *s = q_first(&c->sendq);
        if (s) { /* a blocked sender fills the freed slot */
            c->buf[(c->head + c->count) % c->cap] = s->w->value;
            c->count++;
            complete(h, &c->sendq, s, 0, (vg_value)-1);
        }
        return 1;
    }
    wnode *s = q_first(&c->sendq);
    if (s) {
        *out = s->w->value;
        complete(h, &c->sendq, s, 0, (vg_value)-1);
        return 1;
    }
    return c->closed ? VMRT_ECLOSED : 0;
}

static int local_chan_send(vg_host *hh, vg_thread *self, vg_chan *c, vg_value v)
{
    lhost *h = L(hh);
    if (c->closed)
        return VMRT_ECLOSED;
    wnode *r = q_first(&c->recvq);
    if (r) {
        complete(h, &c->recvq, r, 0, v);
        return 0;
    }
    if (c->count < c->cap) {
        c->buf[(c->head + c->count) % c->cap] = v;
        c->count++;
        return 0;
    }
    waiter w = {.lt = self->host_data, .value = v};
    wnode n = {.w = &w, .ch = c};
    q_push(&c->sendq, &n);
    block(h, w.lt);
    q_unlink(&c->sendq, &n);
    return w.done ? w.status : VMRT_ECLOSED;
}

static int local_chan_recv(vg_host *hh, vg_thread *self, vg_chan *c, vg_value *out)
{
    lhost *h = L(hh);
    int rc = try_recv(h, c, out);
    if (rc == 1)
        return 0;
    if (rc)
        return rc;
    waiter w = {.lt = self->host_data};
    wnode n = {.w = &w, .ch = c};
    q_push(&c->recvq, &n);
    block(h, w.lt);
    q_unlink(&c->recvq, &n);
    if (w.done && w.status == 0)
        *out = w.value;
    return w.done ? w.status : VMRT_ECLOSED;
}

static int local_chan_close(vg_host *hh, vg_chan *c)
{
    lhost *h = L(hh);
    if (c->closed)
        return VMRT_ECLOSED;
    c->closed = true;
    wnode *n;
    while ((n = q_first(&c->recvq)))
        complete(h, &c->recvq, n, VMRT_ECLOSED, 0);
    while ((n = q_first(&c->sendq)))
        complete(h, &c->sendq, n, VMRT_ECLOSED, 0);
    return 0;
}

static int local_chan_select(vg_host *hh, vg_thread *self, vg_chan *const *chans, uint32_t n,
                             int64_t timeout_ns, uint32_t *index, vg_value *out)
{
    lhost *h = L(hh);
    for (uint32_t i = 0; i < n; i++) {
        int rc = try_recv(h, chans[i], out);
        if (rc) {
            *index = i;
            return rc == 1 ? 0 : rc;
        }
    }
    if (timeout_ns == 0)
        return VMRT_ETIMEOUT;
    wnode *nodes = calloc(n, sizeof *nodes);
    if (!nodes)
        return -ENOMEM;
    waiter w = {.lt = self->host_data};
    for (uint32_t i = 0; i < n; i++) {
        nodes[i] = (wnode){.w = &w, .ch = chans[i], .index = i};
        q_push(&chans[i]->recvq, &nodes[i]);
    }
    if (timeout_ns > 0 && timer_add(h, vmrt_now_ns() + (uint64_t)timeout_ns, w.lt)) {
        for (uint32_t i = 0; i < n; i++)
            q_unlink(&chans[i]->recvq, &nodes[i]);
        free(nodes);
        return -ENOMEM;
    }
    int st = block(h, w.lt);
    for (uint32_t i = 0; i < n; i++)
        q_unlink(&chans[i]->recvq, &nodes[i]);
    free(nodes);
    if (!w.done)
        return st == VMRT_ETIMEOUT ? VMRT_ETIMEOUT : VMRT_ECLOSED;
    *index = w.index;
    if (w.status == 0)
        *out = w.value;
    return w.status;
}

/* ---- I/O ------------------------------------------------------------------------------------ */

static int loopback(struct sockaddr_in *sa, int port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return 0;
}

/* Tries to make progress on n: true when finished (n->req->result set). */
static bool io_try(ionode *n)
{
    vg_io_req *r = n->req;
    struct sockaddr_in sa;
    n->events = 0;
    switch (r->op) {
    case VG_IO_OPEN: {
        int fd = open(r->path, r->flags | O_CLOEXEC | O_NONBLOCK, 0644);
        r->result = fd < 0 ? -errno : fd;
        return true;
    }
    case VG_IO_READ: {
        ssize_t k = read(r->fd, r->buf, r->len);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            n->fd = r->fd, n->events = POLLIN;
            return false;
        }
        r->result = k < 0 ? -errno : k;
        return true;
    }
    case VG_IO_WRITE:
        while (n->done < r->len) {
            /* send(MSG_NOSIGNAL) on sockets: a closed peer is EPIPE, never SIGPIPE */
            ssize_t k = send(r->fd, (char *)r->buf + n->done, r->len - n->done, MSG_NOSIGNAL);
            if (k < 0 && errno == ENOTSOCK)
                k = write(r->fd, (char *)r->buf + n->done, r->len - n->done);
            if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                n->fd = r->fd, n->events = POLLOUT;
                return false;
            }
            if (k < 0) {
                r->result = n->done ? (int64_t)n->done : -errno;
                return true;
            }
            n->done += (size_t)k;
        }
        r->result = (int64_t)n->done;
        return true;
    case VG_IO_CLOSE:
        r->result = close(r->fd) ? -errno : 0;
        return true;
    case VG_IO_LISTEN: {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            r->result = -errno;
            return true;
        }
        int one = 1;
        loopback(&sa, r->port);
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
            bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 64)) {
            r->result = -errno;
            close(fd);
            return true;
        }
        r->result = fd;
        return true;
    }
    case VG_IO_ACCEPT: {
        int fd = accept4(r->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            n->fd = r->fd, n->events = POLLIN;
            return false;
        }
        r->result = fd < 0 ? -errno : fd;
        return true;
    }
    case VG_IO_CONNECT: {
        if (n->connecting) {
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) || soerr) {
                r->result = -(soerr ? soerr : errno);
                close(n->fd);
            } else {
                r->result = n->fd;
            }
            return true;
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            r->result = -errno;
            return true;
        }
        loopback(&sa, r->port);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
            r->result = fd;
            return true;
        }
        if (errno == EINPROGRESS) {
            n->connecting = true;
            n->fd = fd, n->events = POLLOUT;
            return false;
        }
        r->result = -errno;
        close(fd);
        return true;
    }
    case VG_IO_PORT: {
        socklen_t sl = sizeof sa;
        if (getsockname(r->fd, (struct sockaddr *)&sa, &sl))
            r->result = -errno;
        else
            r->result = ntohs(sa.sin_port);
        return true;
    }
    default:
        r->result = -ENOSYS;
        return true;
    }
}

static void local_io(vg_host *hh, vg_thread *self, vg_io_req *req)
{
    lhost *h = L(hh);
    ionode n = {.req = req, .lt = self->host_data, .fd = -1};
    n.next = h->io_head;
    h->io_head = &n;
    h->io_pending++;
    h->st.io_requests++;
    if (block(h, n.lt) == 0)
        return;
    for (ionode **pp = &h->io_head; *pp; pp = &(*pp)->next) { /* cancelled: unlink */
        if (*pp == &n) {
            *pp = n.next;
            h->io_pending--;
            break;
        }
    }
    if (n.connecting && n.fd >= 0)
        close(n.fd);
    req->result = -ECANCELED;
}

/* One round of the io coroutine: run new requests, poll the waiting ones. */
static void io_round(lhost *h)
{
    ionode **pp = &h->io_head;
    uint32_t waiting = 0;
    while (*pp) {
        ionode *n = *pp;
        if (n->events == 0 && io_try(n)) {
            *pp = n->next;
            h->io_pending--;
            wake(h, n->lt, 0);
            continue;
        }
        waiting++;
        pp = &n->next;
    }
    if (!waiting)
        return;
    struct pollfd *pfd = calloc(waiting, sizeof *pfd);
    if (!pfd)
        return;
    uint32_t i = 0;
    for (ionode *n = h->io_head; n; n = n->next)
        pfd[i++] = (struct pollfd){.fd = n->fd, .events = n->events};
    int timeout = 0;
    if (!h->nready && !h->jhead) {
        timeout = -1;
        if (h->ntimers) {
            uint64_t now = vmrt_now_ns(), d = h->timers[0].deadline;
            timeout = d <= now ? 0 : (int)((d - now + 999999) / 1000000);
        }
    }
    int k = poll(pfd, waiting, timeout);
    i = 0;
    for (ionode *n = h->io_head; n && k > 0; n = n->next, i++)
        if (pfd[i].revents)
            n->events = 0; /* retry on the next round */
    free(pfd);
    if (k > 0)
        io_round(h);
}

static void *io_entry(void *arg)
{
    lhost *h = arg;
    while (!h->quit) {
        io_round(h);
        vmrt_coro_yield();
    }
    return NULL;
}

/* ---- translation tasks ---------------------------------------------------------------------- */

static int local_jit_submit(vg_host *hh, void (*task)(void *), void *arg)
{
    lhost *h = L(hh);
    jtask *j = malloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    *j = (jtask){task, arg, NULL};
    if (h->jtail)
        h->jtail->next = j;
    else
        h->jhead = j;
    h->jtail = j;
    return 0;
}

static void *jit_entry(void *arg)
{
    lhost *h = arg;
    for (;;) {
        jtask *j = h->jhead;
        if (j) {
            h->jhead = j->next;
            if (!h->jhead)
                h->jtail = NULL;
            j->fn(j->arg);
            free(j);
            h->st.jit_tasks++;
        } else if (h->quit) {
            return NULL;
        }
        vmrt_coro_yield();
    }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void sleep_until(uint64_t deadline)
{
    uint64_t now = vmrt_now_ns();
    if (deadline <= now)
        return;
    uint64_t d = deadline - now;
    struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
    nanosleep(&ts, NULL);
}

static void reap(lhost *h, lthread *lt)
{
    vmrt_pool_release(h->pool, lt->co);
    lt->co = NULL;
    lt->t->host_data = NULL;
}

/* Teardown: wakes every blocked guest thread with VMRT_ECANCELED and runs
 * all threads until they return (the engine is halted, so they unwind at
 * once), then lets the jit coroutine drain its queue and both helper
 * coroutines return. No coroutine is left suspended mid-stack. */
static void unwind_all(lhost *h)
{
    vg_engine_halt(h->base.eng);
    h->stop = true;
    for (uint32_t i = 0; i < h->nall; i++)
        if (h->all[i]->co && h->all[i]->state == LT_BLOCKED)
            wake(h, h->all[i], VMRT_ECANCELED);
    lthread *lt;
    while ((lt = pick(h))) {
        lt->state = LT_RUNNING;
        vmrt_coro_resume(lt->co);
        if (vmrt_coro_state(lt->co) == VMRT_CORO_TERMINATED)
            reap(h, lt);
        else if (lt->state == LT_BLOCKED) /* blocked again while unwinding: cancel again */
            wake(h, lt, VMRT_ECANCELED);
    }
    h->quit = true;
    while (vmrt_coro_state(h->jit_co) != VMRT_CORO_TERMINATED)
        vmrt_coro_resume(h->jit_co);
    while (vmrt_coro_state(h->io_co) != VMRT_CORO_TERMINATED)
        vmrt_coro_resume(h->io_co);
}

static int local_run(vg_host *hh, vg_thread *main_t)
{
    lhost *h = L(hh);
    h->main = main_t;
    int rc = local_thread_start(hh, main_t);
    if (rc) {
        unwind_all(h);
        return rc;
    }
    while (!h->stop && !h->main_done) {
        if (h->ntimers)
            fire_timers(h, vmrt_now_ns());
        if (h->jhead) {
            vmrt_coro_resume(h->jit_co);
            continue;
        }
        lthread *lt = pick(h);
        if (lt) {
            lt->state = LT_RUNNING;
            h->current = lt;
            h->st.switches++;
            vmrt_coro_resume(lt->co);
            h->current = NULL;
            if (vmrt_coro_state(lt->co) == VMRT_CORO_TERMINATED)
                reap(h, lt);
            if (h->io_pending && (h->picks & 63) == 0)
                vmrt_coro_resume(h->io_co);
            continue;
        }
        if (h->io_pending) {
            vmrt_coro_resume(h->io_co);
            continue;
        }
        if (h->ntimers) {
            sleep_until(h->timers[0].deadline);
            continue;
        }
        if (h->alive) {
            vg_engine_deadlock(hh->eng);
            break;
        }
        break;
    }
    unwind_all(h);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void local_stats(vg_host *hh, vg_host_stats *out)
{
    *out = L(hh)->st;
}

static void local_destroy(vg_host *hh)
{
    lhost *h = L(hh);
    for (uint32_t i = 0; i < h->nall; i++) {
        lthread *lt = h->all[i];
        if (lt->co)
            reap(h, lt);
        free(lt->joiners);
        free(lt);
    }
    free(h->all);
    vmrt_coro_destroy(h->io_co);
    vmrt_coro_destroy(h->jit_co);
    vmrt_pool_destroy(h->pool);
    while (h->jhead) { /* every submitted task runs exactly once */
        jtask *j = h->jhead;
        h->jhead = j->next;
        j->fn(j->arg);
        free(j);
    }
    while (h->chunks) {
        chunk *c = h->chunks;
        h->chunks = c->next;
        free(c);
    }
    while (h->chans) {
        vg_chan *c = h->chans;
        h->chans = c->next_all;
        free(c->buf);
        free(c);
    }
    free(h->timers);
    free(h);
}

static const vg_host_ops local_ops = {
    .name = "local",
    .run = local_run,
    .destroy = local_destroy,
    .stats = local_stats,
    .thread_start = local_thread_start,
    .thread_join = local_thread_join,
    .yield = local_yield,
    .sleep = local_sleep,
    .set_priority = local_set_priority,
    .safepoint = local_safepoint,
    .stop = local_stop,
    .alloc = local_alloc,
    .barrier = local_barrier,
    .chan_new = local_chan_new,
    .chan_send = local_chan_send,
    .chan_recv = local_chan_recv,
    .chan_close = local_chan_close,
    .chan_select = local_chan_select,
    .io = local_io,
    .jit_submit = local_jit_submit,
};

int vg_host_local_new(vg_host **out, vg_engine *eng)
{
    lhost *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->base.ops = &local_ops;
    h->base.eng = eng;
    h->base.poll_interval = (int32_t)(eng->opts.poll_interval ? eng->opts.poll_interval : 1000);
    h->heap_max = eng->opts.heap_max ? eng->opts.heap_max : DEFAULT_HEAPMAX;
    vmrt_pool_config_t pc;
    vmrt_pool_config_init(&pc);
    pc.stack_size = LOCAL_STACK;
    int rc = vmrt_pool_new(&h->pool, &pc);
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.stack_size = LOCAL_STACK;
    if (rc == 0) {
        attr.name = "io";
        attr.priority = VMRT_PRIO_LOW;
        rc = vmrt_coro_create(&h->io_co, &attr, io_entry, h);
    }
    if (rc == 0) {
        attr.name = "jit";
        attr.priority = VMRT_PRIO_HIGH;
        rc = vmrt_coro_create(&h->jit_co, &attr, jit_entry, h);
    }
    if (rc) {
        vmrt_coro_destroy(h->io_co);
        if (h->pool)
            vmrt_pool_destroy(h->pool);
        free(h);
        return rc;
    }
    *out = &h->base;
    return 0;
}
