/* Run queues.
 *
 * Per vCPU and priority level: a bounded Chase-Lev deque (Lê, Pop, Cohen,
 * Zappa Nardelli, PPoPP 2013, C11 orderings). The owner pushes and pops at
 * the bottom, so the newest ready coroutine runs next (message-passing
 * locality; the "next slot" of other schedulers) and fork-join trees run
 * depth first, keeping few stacks alive. Thieves take from the top (the
 * oldest). The owner also takes from the top after a yield, and when the
 * monitor saw the top wait for a whole time slice, so the bottom cannot
 * starve the rest of the queue [SCHED-FAIR]. Indices grow monotonically
 * (no ABA on top).
 *
 * Global queues and per-vCPU inboxes are spinlocked FIFOs with an atomic
 * count read without the lock to skip empty queues.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void vmrt__spin_lock_slow(spin_t *l)
{
    unsigned spins = 0;
    for (;;) {
        while (atomic_load_explicit(&l->v, relaxed)) {
            if (++spins < 128) {
                cpu_relax();
            } else {
                sched_yield(); /* the holder may be preempted: 2 cores, shared */
                spins = 0;
            }
        }
        if (atomic_exchange_explicit(&l->v, 1, acquire) == 0)
            return;
    }
}

void vmrt__futex_wait(_Atomic uint32_t *word, uint32_t expect, uint64_t timeout_ns)
{
    struct timespec ts, *tp = NULL;
    if (timeout_ns) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
        ts.tv_nsec = (long)(timeout_ns % 1000000000u);
        tp = &ts;
    }
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expect, tp, NULL, 0);
}

void vmrt__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

/* ---- Chase-Lev deque --------------------------------------------------- */

int vmrt__deque_init(deque_t *d, size_t cap)
{
    d->buf = calloc(cap, sizeof *d->buf);
    if (!d->buf)
        return -ENOMEM;
    d->mask = (int64_t)cap - 1;
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    return 0;
}

void vmrt__deque_fini(deque_t *d)
{
    free(d->buf);
    d->buf = NULL;
}

bool vmrt__deque_push(deque_t *d, task_t *t)
{
    int64_t b = atomic_load_explicit(&d->bottom, relaxed);
    int64_t top = atomic_load_explicit(&d->top, acquire);
    if (b - top > d->mask)
        return false;
    atomic_store_explicit(&d->buf[b & d->mask], t, relaxed);
    atomic_store_explicit(&d->bottom, b + 1, release);
    return true;
}

task_t *vmrt__deque_pop(deque_t *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, relaxed) - 1;
    atomic_store_explicit(&d->bottom, b, relaxed);
    atomic_thread_fence(seq_cst);
    int64_t top = atomic_load_explicit(&d->top, relaxed);
    task_t *t = NULL;
    if (top <= b) {
        t = atomic_load_explicit(&d->buf[b & d->mask], relaxed);
        if (top == b) { /* last one: race thieves for it */
            if (!atomic_compare_exchange_strong_explicit(&d->top, &top, top + 1, seq_cst, relaxed))
                t = NULL;
            atomic_store_explicit(&d->bottom, b + 1, relaxed);
        }
    } else {
        atomic_store_explicit(&d->bottom, b + 1, relaxed);
    }
    return t;
}

task_t *vmrt__deque_steal(deque_t *d, bool *retry)
{
    int64_t top = atomic_load_explicit(&d->top, acquire);
    atomic_thread_fence(seq_cst);
    int64_t b = atomic_load_explicit(&d->bottom, acquire);
    if (top >= b)
        return NULL;
    task_t *t = atomic_load_explicit(&d->buf[top & d->mask], relaxed);
    if (!atomic_compare_exchange_strong_explicit(&d->top, &top, top + 1, seq_cst, relaxed)) {
        *retry = true;
        return NULL;
    }
    return t;
}

task_t *vmrt__deque_take_oldest(deque_t *d)
{
    /* The owner knows bottom exactly: no fence needed, only the CAS that
     * arbitrates with thieves. */
    int64_t b = atomic_load_explicit(&d->bottom, relaxed);
    int64_t top = atomic_load_explicit(&d->top, acquire);
    while (top < b) {
        task_t *t = atomic_load_explicit(&d->buf[top & d->mask], relaxed);
        if (atomic_compare_exchange_weak_explicit(&d->top, &top, top + 1, seq_cst, acquire))
            return t;
    }
    return NULL;
}

/* ---- FIFO ----------------------------------------------------------------- */

void vmrt__fifo_push(fifo_t *q, task_t *t)
{
    t->next = NULL;
    spin_lock(&q->lock);
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
    atomic_fetch_add_explicit(&q->count, 1, relaxed);
    spin_unlock(&q->lock);
}

task_t *vmrt__fifo_pop(fifo_t *q)
{
    if (!fifo_count(q))
        return NULL;
    spin_lock(&q->lock);
    task_t *t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = NULL;
        t->next = NULL;
        atomic_fetch_sub_explicit(&q->count, 1, relaxed);
    }
    spin_unlock(&q->lock);
    return t;
}
