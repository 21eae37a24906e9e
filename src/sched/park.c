/* Parking and waking [SCHED-PARK].
 *
 * Every blocking operation (sleep, I/O, sync objects, join, offload,
 * suspension) goes through one struct wait on the blocker's stack. The
 * blocker initialises it (W_WAITING), registers it where wakers will find it
 * (a wait queue under the object's lock, a timer heap, a poll descriptor),
 * and calls vmrt__park(). A coroutine then yields with state BLOCKED; a plain
 * thread waits on a futex on the state word.
 *
 * A waker may come from any thread at any moment, even before the blocker
 * has switched off its stack ([CORO-PARK]). It first *claims* the wait
 * (exactly one claim succeeds, so a timer, a channel and a canceller never
 * both complete the same wait), writes the result, then hands the coroutine
 * over: whichever of the waker and the vCPU loop comes second makes it
 * runnable (state diagram in sched_internal.h). The wait memory stays valid
 * until then because the blocker cannot return before it runs again; the
 * waker's last access to it is the final CAS or store.
 *
 * Rejected alternative: registering the wait after the switch, from the
 * vCPU loop (a park callback): no race to handle, but every primitive would
 * need its "check again and register" step split into a callback.
 */
#include "sched/sched_internal.h"

#include <time.h>

uint64_t vmrt__deadline(uint64_t timeout_ns)
{
    if (!timeout_ns || timeout_ns == VMRT_NOWAIT)
        return 0;
    uint64_t now = vmrt_now_ns();
    return now + timeout_ns < now ? UINT64_MAX : now + timeout_ns;
}

/* The scheduled task running on this thread, or NULL on a plain thread. */
static task_t *current_task(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    if (!v)
        return NULL;
    task_t *t = atomic_load_explicit(&v->current, relaxed);
    if (t && t->co != vmrt_coro_self())
        return NULL; /* a raw coroutine nested inside a scheduled one */
    return t;
}

void vmrt__wait_init(wait_t *w)
{
    atomic_store_explicit(&w->state, W_WAITING, relaxed);
    w->task = current_task();
    w->result = 0;
    w->index = -1;
    w->deadline = 0;
    w->timer_idx = -1;
    w->timer_vcpu = NULL;
    w->suspend = false;
}

bool vmrt__wait_claim(wait_t *w)
{
    uint32_t s = atomic_load_explicit(&w->state, acquire);
    for (;;) {
        uint32_t to;
        if (s == W_WAITING)
            to = W_CLAIMED;
        else if (s == W_PARKED)
            to = W_CLAIMED_PARKED;
        else
            return false;
        if (atomic_compare_exchange_weak_explicit(&w->state, &s, to, memory_order_acq_rel, acquire))
            return true;
    }
}

void vmrt__wait_finish(wait_t *w)
{
    task_t *t = w->task;
    if (!t) {
        atomic_store_explicit(&w->state, W_WOKEN, release);
        vmrt__futex_wake(&w->state, 1);
        return;
    }
    uint32_t s = atomic_load_explicit(&w->state, acquire);
    /* Usually it is long parked (W_CLAIMED_PARKED, which only we change now):
     * skip the CAS that would fail. */
    if (s == W_CLAIMED && atomic_compare_exchange_strong_explicit(&w->state, &s, W_WOKEN,
                                                                  memory_order_acq_rel, acquire))
        return; /* still switching out: the vCPU loop will enqueue it */
    /* W_CLAIMED_PARKED: it is off its stack; we make it runnable. */
    atomic_store_explicit(&w->state, W_IDLE, relaxed);
    vmrt__sched_ready(t->s, t, vmrt__vcpu_self());
}

bool vmrt__wake(wait_t *w, int result)
{
    if (!vmrt__wait_claim(w))
        return false;
    w->result = result;
    vmrt__wait_finish(w);
    return true;
}

/* Thread path: futex on the state word. */
static int park_thread(wait_t *w, uint64_t deadline)
{
    unsigned spins = 0;
    for (;;) {
        uint32_t s = atomic_load_explicit(&w->state, acquire);
        if (s == W_WOKEN)
            return w->result;
        if (spins < 100) {
            spins++;
            cpu_relax();
            continue;
        }
        uint64_t timeout = 0;
        if (deadline && s == W_WAITING) {
            uint64_t now = vmrt_now_ns();
            if (now >= deadline) {
                if (vmrt__wait_claim(w)) {
                    w->result = VMRT_ETIMEOUT;
                    return w->result;
                }
                continue;
            }
            timeout = deadline - now;
        }
        vmrt__futex_wait(&w->state, s, timeout);
    }
}

int vmrt__park(wait_t *w, uint64_t deadline)
{
    task_t *t = w->task;
    if (!t)
        return park_thread(w, deadline);
    vcpu_t *v = vmrt__vcpu_self();
    w->deadline = deadline;
    if (deadline)
        vmrt__timer_add(v, w);
    spin_lock(&t->wait_lock);
    atomic_store_explicit(&t->wait, w, relaxed);
    bool cancelled = atomic_load_explicit(&t->flags, seq_cst) & T_CANCEL;
    spin_unlock(&t->wait_lock);
    if (cancelled)
        vmrt__wake(w, VMRT_ECANCELED);
    t->in_park = true;
    task_t *next = w->suspend ? NULL : vmrt__handoff_take(v, t);
    if (next)
        vmrt__coro_handoff(next->co, VMRT_CORO_BLOCKED); /* straight to it, not via the loop */
    else
        vmrt__coro_yield_as(w->suspend ? VMRT_CORO_SUSPENDED : VMRT_CORO_BLOCKED);
    t->in_park = false;
    vmrt__handoff_arrived(); /* maybe we were handed off to: finish the sender's park */
    spin_lock(&t->wait_lock);
    atomic_store_explicit(&t->wait, NULL, relaxed);
    spin_unlock(&t->wait_lock);
    if (w->timer_vcpu)
        vmrt__timer_remove(w);
    return w->result;
}

/* ---- wait queues ---------------------------------------------------------- */

void vmrt__waitq_push(waitq_t *q, waiter_t *n)
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

void vmrt__waitq_unlink(waitq_t *q, waiter_t *n)
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
    n->next = n->prev = NULL;
    n->linked = false;
}

waiter_t *vmrt__waitq_claim(waitq_t *q)
{
    while (q->head) {
        waiter_t *n = q->head;
        vmrt__waitq_unlink(q, n);
        if (vmrt__wait_claim(n->w))
            return n;
    }
    return NULL;
}
