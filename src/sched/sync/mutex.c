/* Coroutine mutex: a CAS fast path, brief spinning, then a FIFO wait queue
 * with direct hand-off (unlock gives the lock to the first waiter, so a
 * waiter cannot be overtaken forever). locked: 0 free, 1 held, 2 held and
 * the slow path must run on unlock (there may be waiters).
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>

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
    if (!m)
        return -EINVAL;
    for (int i = 0; i < 64; i++) {
        if (atomic_load_explicit(&m->locked, relaxed) == 0 && vmrt_mutex_trylock(m) == 0)
            return 0;
        cpu_relax();
    }
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
    vmrt__waitq_push(&m->q, &n);
    spin_unlock(&m->lock);
    int r = vmrt__park(&w, 0);
    if (r) {
        spin_lock(&m->lock);
        vmrt__waitq_unlink(&m->q, &n);
        spin_unlock(&m->lock);
    }
    return r; /* 0: the unlocker handed the lock to us */
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
    if (n) {
        if (!m->q.head)
            atomic_store_explicit(&m->locked, 1, relaxed);
        n->w->result = 0;
        vmrt__wait_finish(n->w);
    } else {
        atomic_store_explicit(&m->locked, 0, release);
    }
    spin_unlock(&m->lock);
    return 0;
}
