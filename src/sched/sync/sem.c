/* Counting semaphore: a post hands its permit straight to the first waiter
 * (FIFO), else increments the count. */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>

struct vmrt_sem {
    spin_t lock;
    unsigned count;
    waitq_t q;
};

int vmrt_sem_new(vmrt_sem_t **out, unsigned initial)
{
    if (!out)
        return -EINVAL;
    vmrt_sem_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->count = initial;
    *out = s;
    return 0;
}

int vmrt_sem_destroy(vmrt_sem_t *s)
{
    if (!s)
        return 0;
    if (s->q.head)
        return -EBUSY;
    free(s);
    return 0;
}

int vmrt_sem_wait(vmrt_sem_t *s, uint64_t timeout_ns)
{
    if (!s)
        return -EINVAL;
    spin_lock(&s->lock);
    if (s->count) {
        s->count--;
        spin_unlock(&s->lock);
        return 0;
    }
    if (timeout_ns == VMRT_NOWAIT) {
        spin_unlock(&s->lock);
        return VMRT_ETIMEOUT;
    }
    wait_t w;
    waiter_t n = {.w = &w};
    vmrt__wait_init(&w);
    vmrt__waitq_push(&s->q, &n);
    spin_unlock(&s->lock);
    int r = vmrt__park(&w, vmrt__deadline(timeout_ns));
    if (r) {
        spin_lock(&s->lock);
        vmrt__waitq_unlink(&s->q, &n);
        spin_unlock(&s->lock);
    }
    return r;
}

int vmrt_sem_post(vmrt_sem_t *s)
{
    if (!s)
        return -EINVAL;
    spin_lock(&s->lock);
    waiter_t *n = vmrt__waitq_claim(&s->q);
    if (n) {
        n->w->result = 0;
        vmrt__wait_finish(n->w);
    } else {
        s->count++;
    }
    spin_unlock(&s->lock);
    return 0;
}

unsigned vmrt_sem_value(vmrt_sem_t *s)
{
    spin_lock(&s->lock);
    unsigned v = s->count;
    spin_unlock(&s->lock);
    return v;
}
