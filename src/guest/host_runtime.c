/* The runtime host adapter: the guest engine on a vmrt_runtime.
 *
 * - Guest threads are coroutines of the M:N scheduler, at the guest's
 *   priority (Medium by default: the spec's "vCPU execution"); translation
 *   tasks are High-priority coroutines (the spec's JIT compile tasks); every
 *   I/O request runs on its own Low-priority coroutine with the scheduler's
 *   coroutine-aware I/O (files through vmrt_blocking), while the requesting
 *   thread waits.
 * - Objects live in the GC heap. Records and arrays are traced by a callback
 *   that visits only slots holding references (values are tagged: odd =
 *   integer, 0 = nil). The roots — every guest thread's registers and
 *   result, every channel buffer and every value in flight — are
 *   visited by one root enumerator (vmrt_gc_root_fn_add), so the collector
 *   may move objects ([VG-MOVE]). The write barrier hook passes the old
 *   value of a reference slot to the GC's SATB barrier.
 * - Synchronisation: one coroutine-aware mutex (vmrt_mutex) guards the
 *   adapter's state; each guest thread waits on its own vmrt_cond. Channels
 *   follow Go's design: a ring buffer plus queues of waiting senders and
 *   receivers; an unbuffered send completes when a receiver takes the value.
 * - Deadlock: every live guest thread waits without a timeout (channel,
 *   join) and no I/O is pending → vg_engine_deadlock().
 *
 * The adapter needs the runtime it runs on: vg_host_runtime_use() sets it
 * before vmrt_guest_run() (the CLI does this).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vmrt/runtime.h>
#include <vmrt/sync.h>

#include "guest/engine.h"
#include "guest/waitq.h"
#include "guest/host_runtime.h"

#define RT_STACK (256u * 1024u)

typedef struct rthread rthread;
typedef struct rhost rhost;

/* A waiting thread's record in a channel queue. For select, one waiter is
 * linked into several channels' receive queues; the first channel to
 * complete it wins (done). */
typedef struct vg_waiter {
    rthread *rt;
    bool done;
    int status;     /* 0, VMRT_ECLOSED */
    uint32_t index; /* select: which channel completed it */
    vg_value value; /* sender: value to deliver; receiver: value delivered (root) */
} waiter;

struct vg_chan {
    vg_value *buf; /* ring of cap values (roots) */
    uint32_t cap, head, count;
    bool closed;
    wqueue recvq, sendq;
    vg_chan *next_all;
};

struct rthread {
    vg_thread *t;
    vmrt_coro_t *co;      /* set under h->mu once spawned; NULL once joined */
    vmrt_cond_t *cv;      /* this thread waits here, under h->mu */
    waiter *waiting;      /* the waiter it blocks on (its value is a root) */
    bool done;            /* vg_thread_body returned */
    bool blocked;         /* counted in h->blocked (waits with no timeout) */
    rthread *joiners;     /* threads waiting in join for this one */
    rthread *next_joiner; /* link in the target's joiners */
    rthread *next_all;
};

/* An I/O request in flight (on the requester's stack). */
typedef struct io_job {
    rhost *h;
    vg_io_req *req;
    rthread *requester;
    waiter w;
    vmrt_coro_t *co; /* the Low-priority coroutine running it */
} io_job;

struct rhost {
    vg_host base;
    vmrt_runtime_t *rt;
    vmrt_sched_t *sched;
    vmrt_gc_t *gc;
    vmrt_mutex_t *mu;     /* everything below */
    vmrt_cond_t *done_cv; /* main finished / run stopping */
    rthread *threads;     /* every guest thread */
    vg_chan *chans;       /* every channel (freed at destroy) */
    uint64_t alive;       /* started, not done */
    uint64_t blocked;     /* waiting without a timeout */
    uint64_t io_pending;  /* I/O requests in flight */
    bool stop, main_done, deadlock;
    _Atomic uint64_t jit_pending;
    struct {
        _Atomic uint64_t switches, preemptions, objects, bytes, barriers, jit_tasks, io_requests;
        uint64_t peak_threads;
    } st;
};

static vmrt_runtime_t *current_runtime;

void vg_host_runtime_use(vmrt_runtime_t *rt)
{
    current_runtime = rt;
}

static rhost *R(vg_host *h)
{
    return (rhost *)h;
}

static vmrt_gc_mutator_t *mutator(rhost *h)
{
    return vmrt_runtime_mutator(h->rt);
}

/* ---- heap ------------------------------------------------------------------------------------ */

static void trace_values(void *obj, vmrt_gc_visitor_t *v)
{
    vg_obj *o = obj;
    vg_value *s = vg_slots(o);
    for (uint32_t i = 0; i < o->len; i++)
        if (vg_is_obj(vg_slot_load(&s[i])))
            vmrt_gc_visit(v, (void **)&s[i]);
}

/* Payload: the vg_obj header (one word) then the elements. */
static const vmrt_gc_type_t type_values = {.name = "guest.values",
                                           .size = sizeof(vg_obj),
                                           .elem_size = sizeof(vg_value),
                                           .trace = trace_values};
static const vmrt_gc_type_t type_bytes = {
    .name = "guest.bytes", .size = sizeof(vg_obj), .elem_size = 8};
static const vmrt_gc_type_t type_chan = {.name = "guest.chan",
                                         .size = sizeof(vg_obj) + sizeof(void *)};

static void visit_value(vmrt_gc_visitor_t *v, vg_value *slot)
{
    if (vg_is_obj(*slot))
        vmrt_gc_visit(v, (void **)slot);
}

static void visit_queue(vmrt_gc_visitor_t *v, wqueue *q)
{
    for (wnode *n = q->head; n; n = n->next)
        visit_value(v, &n->w->value);
}

/* The root enumerator; runs with the world stopped. */
static void visit_roots(vmrt_gc_visitor_t *v, void *arg)
{
    rhost *h = arg;
    for (rthread *r = h->threads; r; r = r->next_all) {
        vg_thread *t = r->t;
        for (uint32_t i = 0; t->stack && i < t->sp; i++)
            visit_value(v, &t->stack[i]);
        visit_value(v, &t->result);
        if (r->waiting)
            visit_value(v, &r->waiting->value);
    }
    for (vg_chan *c = h->chans; c; c = c->next_all) {
        for (uint32_t i = 0; i < c->count; i++)
            visit_value(v, &c->buf[(c->head + i) % c->cap]);
        visit_queue(v, &c->sendq);
        visit_queue(v, &c->recvq);
    }
}

static vg_obj *rt_alloc(vg_host *hh, vg_thread *self, vg_kind kind, uint32_t len)
{
    (void)self;
    rhost *h = R(hh);
    vmrt_gc_mutator_t *m = mutator(h);
    if (!m)
        return NULL;
    const vmrt_gc_type_t *type;
    size_t n;
    switch (kind) {
    case VG_KIND_RECORD:
    case VG_KIND_ARRAY:
        type = &type_values;
        n = len;
        break;
    case VG_KIND_BYTES:
        type = &type_bytes;
        n = ((size_t)len + 7) / 8;
        break;
    case VG_KIND_CHAN:
        type = &type_chan;
        n = 0;
        break;
    default:
        return NULL;
    }
    vg_obj *o = n || type->elem_size ? vmrt_gc_alloc_array(m, type, n) : vmrt_gc_alloc(m, type);
    if (!o)
        return NULL;
    o->kind = kind;
    o->len = len;
    atomic_fetch_add_explicit(&h->st.objects, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->st.bytes, sizeof(vg_obj) + vg_payload_size(kind, len),
                              memory_order_relaxed);
    return o;
}

static void rt_barrier(vg_host *hh, vg_obj *holder, vg_value *slot, vg_value v)
{
    rhost *h = R(hh);
    atomic_fetch_add_explicit(&h->st.barriers, 1, memory_order_relaxed);
    /* SATB: only a deleted reference matters (the slot still holds it; other
     * vCPUs use the same slot with relaxed atomics, so this load does too);
     * generational: a stored reference marks the holder's card. The engine
     * stores v right after this returns, with no safepoint in between, and
     * cards are read only with the world stopped, so marking the card first
     * is the same as after the store. */
    vmrt_gc_mutator_t *m = mutator(h);
    vg_value old = vg_slot_load(slot);
    if (vg_is_obj(old))
        vmrt_gc_write_satb(m, (void *)(uintptr_t)old);
    if (vg_is_obj(v))
        vmrt_gc_write_card(m, holder, slot);
}

/* ---- waiting --------------------------------------------------------------------------------- */

/* Every live guest thread waits with no timeout and no I/O can wake one:
 * nothing will ever run again. h->mu held. */
static void check_deadlock(rhost *h)
{
    if (h->alive && h->blocked >= h->alive && !h->io_pending && !h->deadlock) {
        h->deadlock = true;
        vmrt_cond_broadcast(h->done_cv);
    }
}

/* Wakes r. It stops counting as blocked at once, not when it next runs:
 * otherwise a thread woken but not yet running would make its waker's own
 * wait look like a deadlock. h->mu held. */
static void wake(rhost *h, rthread *r)
{
    if (r->blocked) {
        r->blocked = false;
        h->blocked--;
    }
    vmrt_cond_signal(r->cv);
}

/* Waits once on self's condition with no timeout, counted as blocked. */
static void block_forever(rhost *h, rthread *self)
{
    self->blocked = true;
    h->blocked++;
    check_deadlock(h);
    vmrt_cond_wait(self->cv, h->mu, 0);
    if (self->blocked) { /* spurious wake-up */
        self->blocked = false;
        h->blocked--;
    }
}

/* Waits on self's condition until w is done (or the run stops). h->mu held.
 * timeout_ns 0 = no timeout (counts as blocked for deadlock detection).
 * Returns 0, VMRT_ETIMEOUT, or VMRT_ECANCELED. */
static int wait_done(rhost *h, rthread *self, waiter *w, uint64_t timeout_ns, const char *what)
{
    uint64_t deadline = timeout_ns ? vmrt_now_ns() + timeout_ns : 0;
    self->waiting = w;
    self->t->waiting = what;
    int rc = 0;
    while (!w->done) {
        if (h->stop || atomic_load(&self->t->eng->halt)) {
            rc = VMRT_ECANCELED;
            break;
        }
        if (!timeout_ns) {
            block_forever(h, self);
            continue;
        }
        uint64_t now = vmrt_now_ns();
        if (now >= deadline) {
            rc = VMRT_ETIMEOUT;
            break;
        }
        vmrt_cond_wait(self->cv, h->mu, deadline - now);
    }
    self->waiting = NULL;
    self->t->waiting = NULL;
    return rc;
}

static void complete(rhost *h, waiter *w, int status, uint32_t index)
{
    w->done = true;
    w->status = status;
    w->index = index;
    wake(h, w->rt);
}

/* First waiter of q not yet completed (select waiters may be done elsewhere). */
static wnode *q_first(wqueue *q)
{
    while (q->head && q->head->w->done)
        q_unlink(q, q->head);
    return q->head;
}

/* ---- channels -------------------------------------------------------------------------------- */

static int rt_chan_new(vg_host *hh, uint32_t cap, vg_chan **out)
{
    rhost *h = R(hh);
    vg_chan *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->cap = cap;
    if (cap && !(c->buf = calloc(cap, sizeof *c->buf))) {
        free(c);
        return -ENOMEM;
    }
    vmrt_mutex_lock(h->mu);
    c->next_all = h->chans;
    h->chans = c;
    vmrt_mutex_unlock(h->mu);
    *out = c;
    return 0;
}

/* Takes a value if one is available. h->mu held. 0, VMRT_ECLOSED, or
 * -EAGAIN (nothing yet). */
static int try_recv(rhost *h, vg_chan *c, vg_value *out)
{
    if (c->count) {
        *out = c->buf[c->head];
        c->buf[c->head] = VG_NIL;
        c->head = (c->head + 1) % c->cap;
        c->count--;
        wnode *s = q_first(&c->sendq); /* a blocked sender moves into the buffer */
        if (s) {
            q_unlink(&c->sendq, s);
            c->buf[(c->head + c->count) % c->cap] = s->w->value;
            c->count++;
            complete(h, s->w, 0, s->index);
        }
        return 0;
    }
    wnode *s = q_first(&c->sendq);
    if (s) { /* unbuffered hand-off */
        q_unlink(&c->sendq, s);
        *out = s->w->value;
        complete(h, s->w, 0, s->index);
        return 0;
    }
    return c->closed ? VMRT_ECLOSED : -EAGAIN;
}

static int rt_chan_send(vg_host *hh, vg_thread *self, vg_chan *c, vg_value v)
{
    rhost *h = R(hh);
    rthread *me = self->host_data;
    vmrt_mutex_lock(h->mu);
    int rc = 0;
    if (c->closed) {
        rc = VMRT_ECLOSED;
    } else if (q_first(&c->recvq)) {
        wnode *r = c->recvq.head;
        q_unlink(&c->recvq, r);
        r->w->value = v;
        complete(h, r->w, 0, r->index);
    } else if (c->count < c->cap) {
        c->buf[(c->head + c->count) % c->cap] = v;
        c->count++;
    } else {
        waiter w = {.rt = me, .value = v};
        wnode n = {.w = &w};
        q_push(&c->sendq, &n);
        rc = wait_done(h, me, &w, 0, "channel send");
        q_unlink(&c->sendq, &n);
        if (!rc)
            rc = w.status;
    }
    vmrt_mutex_unlock(h->mu);
    return rc;
}

static int rt_chan_recv(vg_host *hh, vg_thread *self, vg_chan *c, vg_value *out)
{
    rhost *h = R(hh);
    rthread *me = self->host_data;
    vmrt_mutex_lock(h->mu);
    int rc = try_recv(h, c, out);
    if (rc == -EAGAIN) {
        waiter w = {.rt = me};
        wnode n = {.w = &w};
        q_push(&c->recvq, &n);
        rc = wait_done(h, me, &w, 0, "channel receive");
        q_unlink(&c->recvq, &n);
        if (!rc) {
            rc = w.status;
            *out = w.value;
        }
    }
    vmrt_mutex_unlock(h->mu);
    return rc;
}

static int rt_chan_close(vg_host *hh, vg_chan *c)
{
    rhost *h = R(hh);
    vmrt_mutex_lock(h->mu);
    int rc = 0;
    if (c->closed) {
        rc = VMRT_ECLOSED;
    } else {
        c->closed = true;
        wnode *n;
        while ((n = q_first(&c->recvq))) {
            q_unlink(&c->recvq, n);
            complete(h, n->w, VMRT_ECLOSED, n->index);
        }
        while ((n = q_first(&c->sendq))) {
            q_unlink(&c->sendq, n);
            complete(h, n->w, VMRT_ECLOSED, n->index);
        }
    }
    vmrt_mutex_unlock(h->mu);
    return rc;
}

static int rt_chan_select(vg_host *hh, vg_thread *self, vg_chan *const *chans, uint32_t n,
                          int64_t timeout_ns, uint32_t *index, vg_value *out)
{
    rhost *h = R(hh);
    rthread *me = self->host_data;
    vmrt_mutex_lock(h->mu);
    for (uint32_t i = 0; i < n; i++) {
        int rc = try_recv(h, chans[i], out);
        if (rc != -EAGAIN) {
            *index = i;
            vmrt_mutex_unlock(h->mu);
            return rc;
        }
    }
    if (timeout_ns == 0) {
        vmrt_mutex_unlock(h->mu);
        return VMRT_ETIMEOUT;
    }
    waiter w = {.rt = me};
    wnode *nodes = calloc(n, sizeof *nodes);
    if (!nodes) {
        vmrt_mutex_unlock(h->mu);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        nodes[i] = (wnode){.w = &w, .index = i};
        q_push(&chans[i]->recvq, &nodes[i]);
    }
    int rc = wait_done(h, me, &w, timeout_ns > 0 ? (uint64_t)timeout_ns : 0, "select");
    for (uint32_t i = 0; i < n; i++)
        q_unlink(&chans[i]->recvq, &nodes[i]);
    free(nodes);
    if (!rc) {
        rc = w.status;
        *index = w.index;
        *out = w.value;
    }
    vmrt_mutex_unlock(h->mu);
    return rc;
}

/* ---- threads ----------------------------------------------------------------------------------
 */

static void *thread_entry(void *arg)
{
    rthread *r = arg;
    rhost *h = R(r->t->eng->host);
    vg_thread_body(r->t);
    vmrt_mutex_lock(h->mu);
    r->done = true;
    h->alive--;
    if (r->t->id == 0)
        h->main_done = true;
    for (rthread *o = r->joiners; o; o = o->next_joiner)
        wake(h, o);
    r->joiners = NULL;
    check_deadlock(h);
    if (h->main_done)
        vmrt_cond_broadcast(h->done_cv);
    vmrt_mutex_unlock(h->mu);
    return NULL;
}

static int rt_thread_start(vg_host *hh, vg_thread *t)
{
    rhost *h = R(hh);
    rthread *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    int rc = vmrt_cond_new(&r->cv);
    if (rc) {
        free(r);
        return rc;
    }
    r->t = t;
    t->host_data = r;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = t->id == 0 ? "guest-main" : "guest";
    attr.priority = (vmrt_prio_t)t->prio;
    vmrt_mutex_lock(h->mu);
    r->next_all = h->threads;
    h->threads = r;
    h->alive++;
    if (h->alive > h->st.peak_threads)
        h->st.peak_threads = h->alive;
    vmrt_mutex_unlock(h->mu);
    vmrt_coro_t *co;
    rc = vmrt_sched_spawn(h->sched, &co, &attr, thread_entry, r);
    /* r is already in h->threads, where rt_run looks for coroutines to join. */
    vmrt_mutex_lock(h->mu);
    if (rc) {
        r->done = true;
        h->alive--;
    } else {
        r->co = co;
    }
    vmrt_mutex_unlock(h->mu);
    return rc;
}

static int rt_thread_join(vg_host *hh, vg_thread *self, vg_thread *target)
{
    rhost *h = R(hh);
    rthread *me = self->host_data, *tr = target->host_data;
    vmrt_mutex_lock(h->mu);
    int rc = 0;
    self->waiting = "join";
    while (tr && !tr->done) {
        if (h->stop || atomic_load(&self->eng->halt)) {
            rc = VMRT_ECANCELED;
            break;
        }
        me->next_joiner = tr->joiners; /* unlinked by the target's end or by stop */
        tr->joiners = me;
        block_forever(h, me);
        if (!tr->done) /* woken by stop: leave the joiner list */
            for (rthread **pp = &tr->joiners; *pp; pp = &(*pp)->next_joiner)
                if (*pp == me) {
                    *pp = me->next_joiner;
                    break;
                }
    }
    self->waiting = NULL;
    vmrt_mutex_unlock(h->mu);
    return rc;
}

static void rt_yield(vg_host *hh, vg_thread *self)
{
    (void)self;
    atomic_fetch_add_explicit(&R(hh)->st.switches, 1, memory_order_relaxed);
    vmrt_yield();
}

static int rt_sleep(vg_host *hh, vg_thread *self, uint64_t ns)
{
    (void)hh;
    (void)self;
    return vmrt_sleep_ns(ns);
}

static void rt_set_priority(vg_host *hh, vg_thread *t, int prio)
{
    t->prio = prio; /* takes effect when the thread next becomes ready */
    rthread *r = t->host_data;
    if (!r || prio < VG_PRIO_HIGH || prio > VG_PRIO_LOW)
        return;
    rhost *h = R(hh);
    vmrt_mutex_lock(h->mu);
    if (r->co)
        vmrt_coro_set_priority(r->co, (vmrt_prio_t)prio);
    vmrt_mutex_unlock(h->mu);
}

static void rt_safepoint(vg_host *hh, vg_thread *self)
{
    (void)self;
    rhost *h = R(hh);
    if (__atomic_load_n(&vmrt_safepoint_flag, __ATOMIC_RELAXED)) {
        atomic_fetch_add_explicit(&h->st.preemptions, 1, memory_order_relaxed);
        vmrt_safepoint_slow();
    }
    vmrt_gc_mutator_t *m = mutator(h);
    if (m) {
        vmrt_gc_safepoint(m);
        vmrt_gc_check_and_run_step(m);
    }
}

static void rt_stop(vg_host *hh)
{
    rhost *h = R(hh);
    vmrt_mutex_lock(h->mu);
    __atomic_store_n(&h->stop, true, __ATOMIC_RELEASE);
    for (rthread *r = h->threads; r; r = r->next_all)
        wake(h, r);
    /* I/O jobs are not cancelled (one not started yet would then never run
     * and its requester never wake): their socket waits are time-sliced and
     * end once they see h->stop. */
    vmrt_cond_broadcast(h->done_cv);
    vmrt_mutex_unlock(h->mu);
}

/* ---- I/O: each request on its own Low-priority coroutine ------------------------------------- */

static int loopback_fd(struct sockaddr_in *sa, int port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

static void *file_op(void *arg)
{
    vg_io_req *r = arg;
    ssize_t n;
    switch (r->op) {
    case VG_IO_OPEN:
        n = open(r->path, r->flags | O_CLOEXEC, 0644);
        break;
    case VG_IO_READ:
        n = read(r->fd, r->buf, r->len);
        break;
    case VG_IO_WRITE:
        n = write(r->fd, r->buf, r->len);
        break;
    case VG_IO_CLOSE:
        n = close(r->fd);
        break;
    case VG_IO_LISTEN:
    case VG_IO_ACCEPT:
    case VG_IO_CONNECT:
    case VG_IO_PORT:
    default:
        n = -1;
        errno = EINVAL;
        break;
    }
    r->result = n < 0 ? -errno : n;
    return NULL;
}

static bool is_socket(int fd)
{
    int type;
    socklen_t len = sizeof type;
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
}

/* Socket waits are sliced so that a stopping run (h->stop) ends them even
 * if nothing ever arrives; a cancelled coroutine ends them at once. */
#define IO_SLICE_NS 100000000ull

static bool stopping(rhost *h)
{
    return __atomic_load_n(&h->stop, __ATOMIC_ACQUIRE);
}

static void run_io(rhost *h, vg_io_req *r)
{
    struct sockaddr_in sa;
    switch (r->op) {
    case VG_IO_LISTEN: {
        int fd = loopback_fd(&sa, r->port);
        int one = 1;
        if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
                        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 64) != 0)) {
            int e = -errno;
            close(fd);
            fd = e;
        }
        r->result = fd;
        return;
    }
    case VG_IO_ACCEPT:
        do
            r->result = vmrt_io_accept(r->fd, IO_SLICE_NS);
        while (r->result == VMRT_ETIMEOUT && !stopping(h));
        return;
    case VG_IO_CONNECT: {
        int fd = loopback_fd(&sa, r->port);
        if (fd >= 0) {
            int rc = vmrt_io_connect(fd, &sa, sizeof sa, 10 * IO_SLICE_NS);
            if (rc < 0) {
                close(fd);
                fd = rc;
            }
        }
        r->result = fd;
        return;
    }
    case VG_IO_PORT: {
        socklen_t len = sizeof sa;
        r->result =
            getsockname(r->fd, (struct sockaddr *)&sa, &len) == 0 ? ntohs(sa.sin_port) : -errno;
        return;
    }
    case VG_IO_READ:
        if (is_socket(r->fd)) {
            do
                r->result = vmrt_io_read(r->fd, r->buf, r->len, IO_SLICE_NS);
            while (r->result == VMRT_ETIMEOUT && !stopping(h));
            return;
        }
        break;
    case VG_IO_WRITE:
        if (is_socket(r->fd)) {
            size_t done = 0;
            while (done < r->len) {
                ssize_t n = vmrt_io_write(r->fd, (char *)r->buf + done, r->len - done, IO_SLICE_NS);
                if (n == VMRT_ETIMEOUT && !stopping(h))
                    continue;
                if (n < 0) {
                    r->result = n;
                    return;
                }
                done += (size_t)n;
            }
            r->result = (int64_t)done;
            return;
        }
        break;
    case VG_IO_OPEN:
    case VG_IO_CLOSE:
    default:
        break;
    }
    vmrt_blocking(file_op, r); /* regular files: on an offload thread */
}

static void *io_entry(void *arg)
{
    io_job *j = arg;
    run_io(j->h, j->req);
    rhost *h = j->h;
    vmrt_mutex_lock(h->mu);
    h->io_pending--;
    complete(h, &j->w, 0, 0);
    vmrt_mutex_unlock(h->mu);
    return NULL;
}

static void rt_io(vg_host *hh, vg_thread *self, vg_io_req *req)
{
    rhost *h = R(hh);
    atomic_fetch_add_explicit(&h->st.io_requests, 1, memory_order_relaxed);
    io_job j = {.h = h, .req = req, .requester = self->host_data};
    j.w.rt = j.requester;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "guest-io";
    attr.priority = VMRT_PRIO_LOW;
    vmrt_mutex_lock(h->mu);
    if (h->stop) {
        vmrt_mutex_unlock(h->mu);
        req->result = VMRT_ECANCELED;
        return;
    }
    h->io_pending++;
    int rc = vmrt_sched_spawn(h->sched, &j.co, &attr, io_entry, &j);
    if (rc) {
        h->io_pending--;
        vmrt_mutex_unlock(h->mu);
        req->result = rc;
        return;
    }
    while (!j.w.done) /* socket waits are time-sliced: a stopping run ends them */
        vmrt_cond_wait(j.requester->cv, h->mu, 0);
    vmrt_mutex_unlock(h->mu);
    vmrt_sched_join(j.co, NULL);
}

/* ---- translation tier: High-priority coroutines --------------------------------------------- */

typedef struct jit_job {
    rhost *h;
    void (*task)(void *);
    void *arg;
} jit_job;

static void *jit_entry(void *arg)
{
    jit_job *j = arg;
    j->task(j->arg);
    atomic_fetch_add_explicit(&j->h->st.jit_tasks, 1, memory_order_relaxed);
    atomic_fetch_sub_explicit(&j->h->jit_pending, 1, memory_order_release);
    free(j);
    return NULL;
}

static int rt_jit_submit(vg_host *hh, void (*task)(void *), void *arg)
{
    rhost *h = R(hh);
    jit_job *j = malloc(sizeof *j);
    if (!j)
        return -ENOMEM;
    *j = (jit_job){h, task, arg};
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "jit";
    attr.priority = VMRT_PRIO_HIGH;
    atomic_fetch_add_explicit(&h->jit_pending, 1, memory_order_relaxed);
    int rc = vmrt_sched_spawn(h->sched, NULL, &attr, jit_entry, j);
    if (rc) {
        atomic_fetch_sub_explicit(&h->jit_pending, 1, memory_order_relaxed);
        free(j);
    }
    return rc;
}

/* ---- run and teardown ------------------------------------------------------------------------ */

static int rt_run(vg_host *hh, vg_thread *main_t)
{
    rhost *h = R(hh);
    int rc = rt_thread_start(hh, main_t);
    if (rc)
        return rc;
    vmrt_mutex_lock(h->mu);
    while (!h->main_done && !h->stop && !h->deadlock)
        vmrt_cond_wait(h->done_cv, h->mu, 0);
    bool deadlock = h->deadlock && !h->main_done && !h->stop;
    vmrt_mutex_unlock(h->mu);
    if (deadlock)
        vg_engine_deadlock(hh->eng);
    /* Unwind: every guest thread returns at its next check or wake-up. */
    vg_engine_halt(hh->eng);
    rt_stop(hh);
    /* Join every guest thread, including one whose spawn is still under way
     * (published in h->threads, its coroutine not yet recorded): each pass
     * takes the coroutines recorded so far, then joins them unlocked. */
    vmrt_coro_t **batch = NULL;
    size_t cap = 0;
    for (;;) {
        size_t n = 0;
        bool spawning = false, no_memory = false;
        vmrt_mutex_lock(h->mu);
        for (rthread *r = h->threads; r; r = r->next_all) {
            if (!r->co) {
                spawning |= !r->done;
                continue;
            }
            if (n == cap) {
                size_t c = cap ? 2 * cap : 256;
                vmrt_coro_t **b = realloc(batch, c * sizeof *b);
                if (!b) {
                    no_memory = true;
                    break;
                }
                batch = b;
                cap = c;
            }
            batch[n++] = r->co;
            r->co = NULL;
        }
        vmrt_mutex_unlock(h->mu);
        for (size_t i = 0; i < n; i++)
            vmrt_sched_join(batch[i], NULL);
        if (!n && !spawning && !no_memory)
            break;
        if (!n)
            vmrt_sleep_ns(100000);
    }
    free(batch);
    while (atomic_load_explicit(&h->jit_pending, memory_order_acquire))
        vmrt_sleep_ns(100000);
    return 0;
}

static void rt_stats(vg_host *hh, vg_host_stats *out)
{
    rhost *h = R(hh);
    *out = (vg_host_stats){
        .switches = atomic_load(&h->st.switches),
        .preemptions = atomic_load(&h->st.preemptions),
        .objects = atomic_load(&h->st.objects),
        .bytes = atomic_load(&h->st.bytes),
        .barriers = atomic_load(&h->st.barriers),
        .jit_tasks = atomic_load(&h->st.jit_tasks),
        .io_requests = atomic_load(&h->st.io_requests),
        .peak_threads = h->st.peak_threads,
    };
}

static void rt_destroy(vg_host *hh)
{
    rhost *h = R(hh);
    vmrt_gc_root_fn_remove(h->gc, visit_roots, h);
    while (h->threads) {
        rthread *r = h->threads;
        h->threads = r->next_all;
        if (r->co)
            vmrt_sched_join(r->co, NULL);
        vmrt_cond_destroy(r->cv);
        free(r);
    }
    while (h->chans) {
        vg_chan *c = h->chans;
        h->chans = c->next_all;
        free(c->buf);
        free(c);
    }
    vmrt_cond_destroy(h->done_cv);
    vmrt_mutex_destroy(h->mu);
    free(h);
}

static const vg_host_ops runtime_ops = {
    .name = "runtime",
    .run = rt_run,
    .destroy = rt_destroy,
    .stats = rt_stats,
    .thread_start = rt_thread_start,
    .thread_join = rt_thread_join,
    .yield = rt_yield,
    .sleep = rt_sleep,
    .set_priority = rt_set_priority,
    .safepoint = rt_safepoint,
    .stop = rt_stop,
    .alloc = rt_alloc,
    .barrier = rt_barrier,
    .chan_new = rt_chan_new,
    .chan_send = rt_chan_send,
    .chan_recv = rt_chan_recv,
    .chan_close = rt_chan_close,
    .chan_select = rt_chan_select,
    .io = rt_io,
    .jit_submit = rt_jit_submit,
};

int vg_host_runtime_new(vg_host **out, vg_engine *eng)
{
    if (!current_runtime)
        return -EINVAL;
    rhost *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    h->base.ops = &runtime_ops;
    h->base.eng = eng;
    h->base.poll_interval = (int32_t)(eng->opts.poll_interval ? eng->opts.poll_interval : 1000);
    h->rt = current_runtime;
    h->sched = vmrt_runtime_sched(h->rt);
    h->gc = vmrt_runtime_gc(h->rt);
    int rc = vmrt_mutex_new(&h->mu);
    if (!rc)
        rc = vmrt_cond_new(&h->done_cv);
    if (!rc)
        rc = vmrt_gc_root_fn_add(h->gc, visit_roots, h);
    if (rc) {
        if (h->done_cv)
            vmrt_cond_destroy(h->done_cv);
        if (h->mu)
            vmrt_mutex_destroy(h->mu);
        free(h);
        return rc;
    }
    *out = &h->base;
    return 0;
}
