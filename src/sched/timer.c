/* Timers: one binary min-heap of waits per vCPU, keyed by deadline.
 *
 * A coroutine that waits with a deadline adds its wait to the heap of the
 * vCPU it runs on. Expired entries are fired by that vCPU when it looks for
 * work or parks (its futex wait times out at the earliest deadline), by
 * run_one, and by the monitor thread on every tick, so timer latency holds
 * while CPU-bound coroutines occupy every vCPU. Firing claims the wait with
 * VMRT_ETIMEOUT; a wait completed by someone else first removes its entry
 * (eagerly, under the heap lock) before the waiter returns, so an entry never
 * outlives its wait.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <stdlib.h>

static void set_earliest(timer_heap_t *h)
{
    atomic_store_explicit(&h->earliest, h->n ? h->items[0]->deadline : UINT64_MAX, release);
}

static void place(timer_heap_t *h, size_t i, wait_t *w)
{
    h->items[i] = w;
    w->timer_idx = (int)i;
}

static void sift_up(timer_heap_t *h, size_t i)
{
    wait_t *w = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->deadline <= w->deadline)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, w);
}

static void sift_down(timer_heap_t *h, size_t i)
{
    wait_t *w = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->items[c + 1]->deadline < h->items[c]->deadline)
            c++;
        if (w->deadline <= h->items[c]->deadline)
            break;
        place(h, i, h->items[c]);
        i = c;
    }
    place(h, i, w);
}

static void remove_at(timer_heap_t *h, size_t i)
{
    h->items[i]->timer_idx = -1;
    h->n--;
    if (i == h->n)
        return;
    wait_t *moved = h->items[h->n];
    place(h, i, moved);
    sift_down(h, i);
    sift_up(h, (size_t)moved->timer_idx);
}

static int grow(timer_heap_t *h)
{
    if (h->n < h->cap)
        return 0;
    size_t cap = h->cap ? 2 * h->cap : 64;
    wait_t **items = realloc(h->items, cap * sizeof *items);
    if (!items)
        return -ENOMEM;
    h->items = items;
    h->cap = cap;
    return 0;
}

int vmrt__timer_add(vcpu_t *v, wait_t *w)
{
    timer_heap_t *h = &v->timers;
    spin_lock(&h->lock);
    if (grow(h) != 0) {
        spin_unlock(&h->lock);
        return -ENOMEM;
    }
    w->timer_vcpu = v;
    h->items[h->n++] = w;
    sift_up(h, h->n - 1);
    set_earliest(h);
    spin_unlock(&h->lock);
    return 0;
}

void vmrt__timer_remove(wait_t *w)
{
    vcpu_t *v;
    timer_heap_t *h;
    for (;;) { /* vmrt__timer_move may re-home the entry meanwhile */
        v = __atomic_load_n(&w->timer_vcpu, __ATOMIC_ACQUIRE);
        if (!v)
            return;
        h = &v->timers;
        spin_lock(&h->lock);
        if (__atomic_load_n(&w->timer_vcpu, __ATOMIC_RELAXED) == v)
            break;
        spin_unlock(&h->lock);
    }
    if (w->timer_idx >= 0) {
        remove_at(h, (size_t)w->timer_idx);
        set_earliest(h);
    }
    w->timer_vcpu = NULL;
    spin_unlock(&h->lock);
}

unsigned vmrt__timer_run(vcpu_t *v, uint64_t now)
{
    timer_heap_t *h = &v->timers;
    if (atomic_load_explicit(&h->earliest, acquire) > now)
        return 0;
    unsigned fired = 0;
    spin_lock(&h->lock);
    while (h->n && h->items[0]->deadline <= now) {
        wait_t *w = h->items[0];
        remove_at(h, 0);
        /* The waiter cannot return before it removed its entry, which
         * needs this lock: w stays valid while we claim it. */
        if (vmrt__wake(w, VMRT_ETIMEOUT))
            fired++;
    }
    set_earliest(h);
    spin_unlock(&h->lock);
    return fired;
}

/* Both locks are held, so a waiter removing its entry sees it in one heap
 * or the other. Only vCPU removal holds two heap locks: no lock order issue. */
void vmrt__timer_move(vcpu_t *from, vcpu_t *to)
{
    spin_lock(&from->timers.lock);
    spin_lock(&to->timers.lock);
    while (from->timers.n && grow(&to->timers) == 0) {
        wait_t *w = from->timers.items[0];
        remove_at(&from->timers, 0);
        __atomic_store_n(&w->timer_vcpu, to, __ATOMIC_RELEASE);
        to->timers.items[to->timers.n++] = w;
        sift_up(&to->timers, to->timers.n - 1);
    }
    set_earliest(&from->timers);
    set_earliest(&to->timers);
    spin_unlock(&to->timers.lock);
    spin_unlock(&from->timers.lock);
}

void vmrt__timer_fini(timer_heap_t *h)
{
    free(h->items);
    h->items = NULL;
    h->n = h->cap = 0;
}
