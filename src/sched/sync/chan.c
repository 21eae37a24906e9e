/* Channels (Go semantics, errors instead of panics).
 *
 * A channel is a ring buffer of capacity elements plus FIFO queues of
 * blocked senders and receivers, all under one spinlock. A sender first
 * hands its value straight to a waiting receiver (copying into the
 * receiver's destination, which stays valid because the receiver is parked),
 * else buffers it, else waits. A receiver takes from the buffer (refilling
 * it from the first waiting sender), else straight from a waiting sender,
 * else waits. Unbuffered channels are the capacity-0 case.
 *
 * select locks every distinct channel in address order (no deadlock between
 * two selects), tries the cases from a random start (fairness), and
 * otherwise registers one node per case, all sharing a single wait: the
 * first counterpart to claim that wait wins, the others skip the node.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct vmrt_chan {
    spin_t lock;
    size_t elem_size, cap, head, count;
    bool closed;
    waitq_t recvq, sendq;
    unsigned char *buf;
};

int vmrt_chan_new(vmrt_chan_t **out, size_t elem_size, size_t capacity)
{
    if (!out || elem_size == 0 || elem_size > 65536 || capacity > (1u << 26))
        return -EINVAL;
    vmrt_chan_t *ch = calloc(1, sizeof *ch);
    if (!ch)
        return -ENOMEM;
    ch->elem_size = elem_size;
    ch->cap = capacity;
    if (capacity && !(ch->buf = malloc(capacity * elem_size))) {
        free(ch);
        return -ENOMEM;
    }
    *out = ch;
    return 0;
}

int vmrt_chan_destroy(vmrt_chan_t *ch)
{
    if (!ch)
        return 0;
    if (ch->recvq.head || ch->sendq.head)
        return -EBUSY;
    free(ch->buf);
    free(ch);
    return 0;
}

/* Word-sized elements (the common case: a pointer, an integer) are copied
 * inline; memcpy with a run-time size is a call into libc. */
static inline void copy_elem(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 8:
        memcpy(dst, src, 8);
        break;
    case 4:
        memcpy(dst, src, 4);
        break;
    default:
        memcpy(dst, src, size);
    }
}

static void *slot(vmrt_chan_t *ch, size_t i)
{
    return ch->buf + ((ch->head + i) % ch->cap) * ch->elem_size;
}

static void complete(waiter_t *n, int result)
{
    n->w->index = n->index;
    n->w->result = result;
    vmrt__wait_finish(n->w);
}

/* Lock held. 1: sent; 0: would block; VMRT_ECLOSED. */
static int try_send(vmrt_chan_t *ch, const void *elem)
{
    if (ch->closed)
        return VMRT_ECLOSED;
    waiter_t *n = vmrt__waitq_claim(&ch->recvq);
    if (n) {
        copy_elem(n->elem, elem, ch->elem_size);
        complete(n, 0);
        return 1;
    }
    if (ch->count < ch->cap) {
        copy_elem(slot(ch, ch->count), elem, ch->elem_size);
        ch->count++;
        return 1;
    }
    return 0;
}

/* Lock held. 1: received; 0: would block; VMRT_ECLOSED (closed and drained). */
static int try_recv(vmrt_chan_t *ch, void *elem)
{
    if (ch->count) {
        copy_elem(elem, slot(ch, 0), ch->elem_size);
        ch->head = (ch->head + 1) % ch->cap;
        ch->count--;
        waiter_t *n = vmrt__waitq_claim(&ch->sendq);
        if (n) {
            copy_elem(slot(ch, ch->count), n->elem, ch->elem_size);
            ch->count++;
            complete(n, 0);
        }
        return 1;
    }
    waiter_t *n = vmrt__waitq_claim(&ch->sendq);
    if (n) {
        copy_elem(elem, n->elem, ch->elem_size);
        complete(n, 0);
        return 1;
    }
    return ch->closed ? VMRT_ECLOSED : 0;
}

static int block_on(vmrt_chan_t *ch, waitq_t *q, void *elem, uint64_t timeout_ns)
{
    wait_t w;
    waiter_t n = {.w = &w, .elem = elem, .index = 0};
    vmrt__wait_init(&w);
    vmrt__waitq_push(q, &n);
    spin_unlock(&ch->lock);
    int r = vmrt__park(&w, vmrt__deadline(timeout_ns));
    if (r) {
        spin_lock(&ch->lock);
        vmrt__waitq_unlink(q, &n);
        spin_unlock(&ch->lock);
    }
    return r;
}

int vmrt_chan_send(vmrt_chan_t *ch, const void *elem, uint64_t timeout_ns)
{
    if (!ch || !elem)
        return -EINVAL;
    spin_lock(&ch->lock);
    int r = try_send(ch, elem);
    if (r || timeout_ns == VMRT_NOWAIT) {
        spin_unlock(&ch->lock);
        if (r == 1) {
            yield_point();
            return 0;
        }
        return r ? r : VMRT_ETIMEOUT;
    }
    return block_on(ch, &ch->sendq, (void *)elem, timeout_ns);
}

int vmrt_chan_recv(vmrt_chan_t *ch, void *elem, uint64_t timeout_ns)
{
    if (!ch || !elem)
        return -EINVAL;
    spin_lock(&ch->lock);
    int r = try_recv(ch, elem);
    if (r || timeout_ns == VMRT_NOWAIT) {
        spin_unlock(&ch->lock);
        if (r == 1) {
            yield_point();
            return 0;
        }
        return r ? r : VMRT_ETIMEOUT;
    }
    return block_on(ch, &ch->recvq, elem, timeout_ns);
}

int vmrt_chan_close(vmrt_chan_t *ch)
{
    if (!ch)
        return -EINVAL;
    spin_lock(&ch->lock);
    if (ch->closed) {
        spin_unlock(&ch->lock);
        return VMRT_ECLOSED;
    }
    ch->closed = true;
    waiter_t *n;
    while ((n = vmrt__waitq_claim(&ch->recvq)))
        complete(n, VMRT_ECLOSED);
    while ((n = vmrt__waitq_claim(&ch->sendq)))
        complete(n, VMRT_ECLOSED);
    spin_unlock(&ch->lock);
    yield_point();
    return 0;
}

size_t vmrt_chan_len(vmrt_chan_t *ch)
{
    spin_lock(&ch->lock);
    size_t n = ch->count;
    spin_unlock(&ch->lock);
    return n;
}

/* ---- select ------------------------------------------------------------------ */

#define SELECT_MAX 64

static _Thread_local uint64_t select_rng = 0x2545f4914f6cdd1dull;

/* Distinct channels of cases, sorted by address. */
static unsigned lock_order(vmrt_select_case_t *cases, unsigned n, vmrt_chan_t **order)
{
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++) {
        vmrt_chan_t *c = cases[i].chan;
        unsigned j = k;
        bool dup = false;
        for (unsigned x = 0; x < k; x++)
            dup |= order[x] == c;
        if (dup)
            continue;
        while (j > 0 && (uintptr_t)order[j - 1] > (uintptr_t)c) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = c;
        k++;
    }
    return k;
}

static void lock_all(vmrt_chan_t **order, unsigned k)
{
    for (unsigned i = 0; i < k; i++)
        spin_lock(&order[i]->lock);
}

static void unlock_all(vmrt_chan_t **order, unsigned k)
{
    for (unsigned i = k; i-- > 0;)
        spin_unlock(&order[i]->lock);
}

int vmrt_chan_select(vmrt_select_case_t *cases, unsigned n, uint64_t timeout_ns, int *closed_index)
{
    if (!cases || n == 0 || n > SELECT_MAX)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        if (!cases[i].chan || !cases[i].elem)
            return -EINVAL;
    vmrt_chan_t *order[SELECT_MAX];
    unsigned k = lock_order(cases, n, order);
    lock_all(order, k);
    select_rng ^= select_rng << 13;
    select_rng ^= select_rng >> 7;
    select_rng ^= select_rng << 17;
    unsigned start = (unsigned)(select_rng % n);
    for (unsigned x = 0; x < n; x++) {
        unsigned i = (start + x) % n;
        vmrt_select_case_t *c = &cases[i];
        int r = c->op == VMRT_SELECT_SEND ? try_send(c->chan, c->elem) : try_recv(c->chan, c->elem);
        if (r == 0)
            continue;
        unlock_all(order, k);
        if (r == 1) {
            yield_point();
            return (int)i;
        }
        if (closed_index)
            *closed_index = (int)i;
        return r;
    }
    if (timeout_ns == VMRT_NOWAIT) {
        unlock_all(order, k);
        return VMRT_ETIMEOUT;
    }
    wait_t w;
    waiter_t nodes[SELECT_MAX];
    vmrt__wait_init(&w);
    for (unsigned i = 0; i < n; i++) {
        nodes[i] = (waiter_t){.w = &w, .elem = cases[i].elem, .index = (int)i};
        vmrt_chan_t *ch = cases[i].chan;
        vmrt__waitq_push(cases[i].op == VMRT_SELECT_SEND ? &ch->sendq : &ch->recvq, &nodes[i]);
    }
    unlock_all(order, k);
    int r = vmrt__park(&w, vmrt__deadline(timeout_ns));
    lock_all(order, k);
    for (unsigned i = 0; i < n; i++) {
        vmrt_chan_t *ch = cases[i].chan;
        vmrt__waitq_unlink(cases[i].op == VMRT_SELECT_SEND ? &ch->sendq : &ch->recvq, &nodes[i]);
    }
    unlock_all(order, k);
    if (r == 0)
        return w.index;
    if (r == VMRT_ECLOSED && closed_index)
        *closed_index = w.index;
    return r;
}
