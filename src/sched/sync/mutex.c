/* Coroutine mutex: a CAS fast path, brief spinning, then a FIFO wait queue.
 * locked: 0 free, 1 held, 2 held and the slow path must run on unlock
 * (there may be waiters).
 *
 * Unlock wakes the first waiter but does not hand it the lock: the lock is
 * free at once and whoever comes first takes it (barging), and the woken
 * waiter tries again. Handing the lock over on every unlock keeps it held
 * while the waiter is readied and scheduled, so under contention every
 * critical section pays a wake-up (a lock convoy). A waiter that has waited
 * longer than STARVE_NS, or was woken and lost STARVE_TRIES times, asks for
 * a hand-off instead: it is queued at the front and the next unlock gives it
 * the lock directly, so no waiter is overtaken forever ([SYNC-MUTEX]; Go's
 * sync.Mutex has the same two modes).
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>

#define STARVE_NS    1000000u /* 1 ms */
#define STARVE_TRIES 4
#define RETRY        1 /* wait result: woken without the lock, try again */

struct vmrt_mutex {
    _Atomic uint32_t locked;
    spin_t lock;
    waitq_t q;
};

int vmrt_mutex_new(vmrt_mutex_t **out)
{
    if (!out)
        return -EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

int vmrt_mutex_destroy(vmrt_mutex_t *m)
{
    if (!m)
        return 0;
    if (m->q.head || atomic_load(&m->locked))
        return -EBUSY;
    free(m);
    return 0;
}

int vmrt_mutex_trylock(vmrt_mutex_t *m)
{
    uint32_t z = 0;
    return atomic_compare_exchange_strong_explicit(&m->locked, &z, 1, acquire, relaxed) ? 0
                                                                                        : -EBUSY;
}

int vmrt_mutex_lock(vmrt_mutex_t *m)
{
    return vmrt_mutex_timedlock(m, 0);
}

static void waitq_push_front(waitq_t *q, waiter_t *n)
{
    n->prev = NULL;
    n->next = q->head;
    if (q->head)
        q->head->prev = n;
    else
        q->tail = n;
    q->head = n;
    n->linked = true;
}

/* A waiter that times out unlinks itself; if unlock claimed it first, the
 * wake-up wins ([SCHED-PARK]: one claim succeeds). */
int vmrt_mutex_timedlock(vmrt_mutex_t *m, uint64_t timeout_ns)
{
    if (!m)
        return -EINVAL;
    for (int i = 0; i < 64; i++) {
        if (atomic_load_explicit(&m->locked, relaxed) == 0 && vmrt_mutex_trylock(m) == 0)
            return 0;
        cpu_relax();
    }
    if (timeout_ns == VMRT_NOWAIT)
        return VMRT_ETIMEOUT;
    uint64_t deadline = vmrt__deadline(timeout_ns), since = 0;
    for (int tries = 0;; tries++) {
        spin_lock(&m->lock);
        if (atomic_exchange_explicit(&m->locked, 2, acquire) == 0) {
            if (!m->q.head)
                atomic_store_explicit(&m->locked, 1, relaxed);
            spin_unlock(&m->lock);
            return 0;
        }
        wait_t w;
        waiter_t n = {.w = &w};
        vmrt__wait_init(&w);
        if (tries == 0) {
            since = vmrt_now_ns();
            vmrt__waitq_push(&m->q, &n);
        } else {
            /* Woken and overtaken: first in line again; starving → hand-off. */
            n.index = tries >= STARVE_TRIES || vmrt_now_ns() - since >= STARVE_NS;
            waitq_push_front(&m->q, &n);
        }
        spin_unlock(&m->lock);
        int r = vmrt__park(&w, deadline);
        if (r < 0) { /* timed out or cancelled */
            spin_lock(&m->lock);
            vmrt__waitq_unlink(&m->q, &n);
            spin_unlock(&m->lock);
            return r;
        }
        if (r == 0)
            return 0;                  /* the unlocker handed the lock to us */
        for (int i = 0; i < 16; i++) { /* RETRY: the lock was left free */
            if (atomic_load_explicit(&m->locked, relaxed) == 0 && vmrt_mutex_trylock(m) == 0) {
                /* Others may still wait: make our unlock look at the queue. */
                spin_lock(&m->lock);
                if (m->q.head)
                    atomic_store_explicit(&m->locked, 2, relaxed);
                spin_unlock(&m->lock);
                return 0;
            }
            cpu_relax();
        }
    }
}

int vmrt_mutex_unlock(vmrt_mutex_t *m)
{
    if (!m)
        return -EINVAL;
    uint32_t one = 1;
    if (atomic_compare_exchange_strong_explicit(&m->locked, &one, 0, release, relaxed))
        return 0;
    if (one == 0)
        return VMRT_ESTATE;
    spin_lock(&m->lock);
    waiter_t *n = vmrt__waitq_claim(&m->q);
    if (n && n->index) { /* a starving waiter: hand the lock over */
        if (!m->q.head)
            atomic_store_explicit(&m->locked, 1, relaxed);
        n->w->result = 0;
        vmrt__wait_finish(n->w);
    } else if (n) {
        atomic_store_explicit(&m->locked, 0, release);
        n->w->result = RETRY;
        vmrt__wait_finish(n->w);
    } else {
        atomic_store_explicit(&m->locked, 0, release);
    }
    spin_unlock(&m->lock);
    return 0;
}
