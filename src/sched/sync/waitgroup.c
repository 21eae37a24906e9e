/* Wait group: an atomic counter; the transition to zero wakes every waiter
 * under the lock that waiters check the counter under (no lost wake-up). */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>

struct vmrt_waitgroup {
    _Atomic int64_t counter;
    spin_t lock;
    waitq_t q;
};

int vmrt_waitgroup_new(vmrt_waitgroup_t **out)
{
    if (!out)
        return -EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

int vmrt_waitgroup_destroy(vmrt_waitgroup_t *wg)
{
    if (!wg)
        return 0;
    if (wg->q.head)
        return -EBUSY;
    free(wg);
    return 0;
}

int vmrt_waitgroup_add(vmrt_waitgroup_t *wg, int64_t delta)
{
    if (!wg)
        return -EINVAL;
    int64_t now = atomic_fetch_add(&wg->counter, delta) + delta;
    if (now < 0) {
        atomic_fetch_sub(&wg->counter, delta);
        return -EINVAL;
    }
    if (now == 0) {
        spin_lock(&wg->lock);
        waiter_t *n;
        while ((n = vmrt__waitq_claim(&wg->q))) {
            n->w->result = 0;
            vmrt__wait_finish(n->w);
        }
        spin_unlock(&wg->lock);
    }
    return 0;
}

int vmrt_waitgroup_done(vmrt_waitgroup_t *wg)
{
    return vmrt_waitgroup_add(wg, -1);
}

int vmrt_waitgroup_wait(vmrt_waitgroup_t *wg, uint64_t timeout_ns)
{
    if (!wg)
        return -EINVAL;
    spin_lock(&wg->lock);
    if (atomic_load(&wg->counter) == 0) {
        spin_unlock(&wg->lock);
        return 0;
    }
    if (timeout_ns == VMRT_NOWAIT) {
        spin_unlock(&wg->lock);
        return VMRT_ETIMEOUT;
    }
    wait_t w;
    waiter_t n = {.w = &w};
    vmrt__wait_init(&w);
    vmrt__waitq_push(&wg->q, &n);
    spin_unlock(&wg->lock);
    int r = vmrt__park(&w, vmrt__deadline(timeout_ns));
    if (r) {
        spin_lock(&wg->lock);
        vmrt__waitq_unlink(&wg->q, &n);
        spin_unlock(&wg->lock);
    }
    return r;
}
