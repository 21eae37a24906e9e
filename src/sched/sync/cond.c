/* Condition variable: a FIFO of waiters under a spinlock. The waiter is
 * queued before the mutex is released, so a signal sent after the caller's
 * unlock cannot be lost. */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>

struct vmrt_cond {
    spin_t lock;
    waitq_t q;
};

int vmrt_cond_new(vmrt_cond_t **out)
{
    if (!out)
        return -EINVAL;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

int vmrt_cond_destroy(vmrt_cond_t *c)
{
    if (!c)
        return 0;
    if (c->q.head)
        return -EBUSY;
    free(c);
    return 0;
}

/* Relocks even when the caller was cancelled (the contract of cond_wait). */
static void relock(vmrt_mutex_t *m)
{
    if (vmrt_mutex_lock(m) == 0)
        return;
    while (vmrt_mutex_trylock(m) != 0)
        vmrt_yield();
}

int vmrt_cond_wait(vmrt_cond_t *c, vmrt_mutex_t *m, uint64_t timeout_ns)
{
    if (!c || !m)
        return -EINVAL;
    if (timeout_ns == VMRT_NOWAIT)
        return VMRT_ETIMEOUT;
    wait_t w;
    waiter_t n = {.w = &w};
    vmrt__wait_init(&w);
    spin_lock(&c->lock);
    vmrt__waitq_push(&c->q, &n);
    spin_unlock(&c->lock);
    vmrt_mutex_unlock(m);
    int r = vmrt__park(&w, vmrt__deadline(timeout_ns));
    if (r) {
        spin_lock(&c->lock);
        vmrt__waitq_unlink(&c->q, &n);
        spin_unlock(&c->lock);
    }
    relock(m);
    return r;
}

static int wake(vmrt_cond_t *c, bool all)
{
    if (!c)
        return -EINVAL;
    spin_lock(&c->lock);
    waiter_t *n;
    while ((n = vmrt__waitq_claim(&c->q))) {
        n->w->result = 0;
        vmrt__wait_finish(n->w);
        if (!all)
            break;
    }
    spin_unlock(&c->lock);
    return 0;
}

int vmrt_cond_signal(vmrt_cond_t *c)
{
    return wake(c, false);
}

int vmrt_cond_broadcast(vmrt_cond_t *c)
{
    return wake(c, true);
}
