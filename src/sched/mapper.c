/* The VCpuCoroutineMapper: vCPU allocation at run time, binding, affinity,
 * host-CPU pinning, migration, rebalancing and the query tables.
 *
 * Placement rule (vmrt__route, applied whenever a coroutine becomes ready):
 * a pending migration wins, then a binding, then the affinity mask (the
 * current vCPU if allowed, else the least loaded allowed one). Such a
 * coroutine goes to that vCPU's inbox, which thieves never touch, so bound
 * and affine coroutines never run elsewhere [SCHED-BIND]. Everything else is
 * placed by the run queues and moved by work stealing.
 *
 * vCPU removal: the vCPU is marked RETIRING, finishes the coroutine it runs,
 * and exits; the remover then moves its queued coroutines to the global
 * queues (unbinding the ones bound to it) and its timers to vCPU 0.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

static vcpu_t *online_vcpu(struct vmrt_sched *s, int id)
{
    if (id < 0 || id >= VMRT_SCHED_MAX_VCPUS || (unsigned)id >= atomic_load(&s->nslots))
        return NULL;
    vcpu_t *v = s->vcpus[id];
    return v && atomic_load_explicit(&v->online, acquire) == V_ONLINE ? v : NULL;
}

static uint64_t load_of(vcpu_t *v)
{
    return atomic_load_explicit(&v->load_milli, relaxed);
}

vcpu_t *vmrt__route(struct vmrt_sched *s, task_t *t, vcpu_t *from)
{
    vmrt_coro_t *co = t->co;
    if (atomic_load_explicit(&t->migrate_to, relaxed) >= 0) {
        int to = atomic_exchange_explicit(&t->migrate_to, -1, relaxed);
        vcpu_t *v = online_vcpu(s, to);
        if (v) {
            atomic_fetch_add_explicit(&v->c.migrations, 1, relaxed);
            return v;
        }
    }
    int bind = __atomic_load_n(&co->bind_vcpu, __ATOMIC_RELAXED);
    if (bind >= 0)
        return online_vcpu(s, bind);
    uint64_t mask = __atomic_load_n(&co->affinity, __ATOMIC_RELAXED);
    if (!mask)
        return NULL;
    if (from && !from->is_embed && (mask & (1ull << from->id)) &&
        atomic_load_explicit(&from->online, relaxed) == V_ONLINE)
        return from;
    vcpu_t *best = NULL;
    unsigned n = atomic_load_explicit(&s->nslots, acquire);
    for (unsigned i = 0; i < n; i++) {
        if (!(mask & (1ull << i)))
            continue;
        vcpu_t *v = online_vcpu(s, (int)i);
        if (v && (!best || load_of(v) < load_of(best)))
            best = v;
    }
    return best;
}

unsigned vmrt_vcpu_count(vmrt_sched_t *s)
{
    if (!s)
        return 0;
    uint64_t m = atomic_load(&s->online_mask);
    if (atomic_load(&s->state) == S_NEW)
        return atomic_load(&s->nslots);
    return (unsigned)__builtin_popcountll(m);
}

int vmrt_vcpu_current(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    return v ? (int)v->id : -1;
}

int vmrt_vcpu_add(vmrt_sched_t *s)
{
    if (!s)
        return -EINVAL;
    pthread_mutex_lock(&s->mapper_lock);
    int id = -1;
    for (unsigned i = 0; i < VMRT_SCHED_MAX_VCPUS; i++) {
        vcpu_t *v = s->vcpus[i];
        if (!v || (atomic_load(&v->online) == V_OFFLINE && !v->has_thread)) {
            id = (int)i;
            break;
        }
    }
    int err = id < 0 ? VMRT_ELIMIT : vmrt__vcpu_create(s, (unsigned)id);
    if (!err) {
        if ((unsigned)id >= atomic_load(&s->nslots))
            atomic_store(&s->nslots, (unsigned)id + 1);
        if (atomic_load(&s->state) == S_RUNNING)
            err = vmrt__vcpu_start(s, s->vcpus[id]);
    }
    pthread_mutex_unlock(&s->mapper_lock);
    return err ? err : id;
}

/* Moves every task queued on v to the global queues. */
static void drain(struct vmrt_sched *s, vcpu_t *v)
{
    for (int p = 0; p < VMRT_PRIO_COUNT; p++) {
        task_t *t;
        bool retry;
        do {
            retry = false;
            while ((t = vmrt__deque_steal(&v->dq[p], &retry)))
                vmrt__fifo_push(&s->global[p], t);
        } while (retry);
        while ((t = vmrt__fifo_pop(&v->inbox[p]))) {
            if (__atomic_load_n(&t->co->bind_vcpu, __ATOMIC_RELAXED) == (int)v->id)
                __atomic_store_n(&t->co->bind_vcpu, -1, __ATOMIC_RELAXED);
            vmrt__fifo_push(&s->global[p], t);
        }
    }
    while (v->ncache) {
        vmrt_coro_t *co = v->cache[--v->ncache];
        co->userdata = co->sched_data;
        co->sched_data = NULL;
        vmrt_pool_release(s->pool, co);
    }
    vmrt__wake_idle(s);
}

int vmrt_vcpu_remove(vmrt_sched_t *s, unsigned id)
{
    if (!s || id == 0 || id >= VMRT_SCHED_MAX_VCPUS)
        return -EINVAL;
    pthread_mutex_lock(&s->mapper_lock);
    vcpu_t *v = online_vcpu(s, (int)id);
    int err = 0;
    if (!v || vmrt_vcpu_count(s) <= 1)
        err = -EINVAL;
    else if (vmrt__vcpu_self() == v)
        err = -EBUSY;
    if (err) {
        pthread_mutex_unlock(&s->mapper_lock);
        return err;
    }
    atomic_store(&v->online, V_RETIRING);
    atomic_fetch_and(&s->online_mask, ~(1ull << id));
    vmrt__preempt_request(v); /* its coroutine yields at the next safepoint */
    if (v->has_thread) {
        atomic_fetch_and(&s->idle_mask, ~(1ull << id));
        atomic_store(&v->park_word, 1);
        vmrt__futex_wake(&v->park_word, 1);
        pthread_join(v->thread, NULL);
        v->has_thread = false;
    }
    drain(s, v);
    vmrt__timer_move(v, s->vcpus[0]);
    atomic_store(&v->online, V_OFFLINE);
    drain(s, v); /* anything routed here while it retired */
    pthread_mutex_unlock(&s->mapper_lock);
    return 0;
}

int vmrt_vcpu_pin(vmrt_sched_t *s, unsigned id, int host_cpu)
{
    if (!s || id >= atomic_load(&s->nslots) || !s->vcpus[id] || host_cpu >= CPU_SETSIZE)
        return -EINVAL;
    vcpu_t *v = s->vcpus[id];
    cpu_set_t set;
    if (host_cpu < 0) {
        if (sched_getaffinity(0, sizeof set, &set) != 0)
            return -errno;
    } else {
        CPU_ZERO(&set);
        CPU_SET(host_cpu, &set);
    }
    atomic_store(&v->host_cpu, host_cpu < 0 ? -1 : host_cpu);
    if (v->has_thread) {
        int err = pthread_setaffinity_np(v->thread, sizeof set, &set);
        if (err)
            return -err;
    }
    return 0;
}

static task_t *self_task(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    task_t *t = v ? atomic_load_explicit(&v->current, relaxed) : NULL;
    return t && t->co == vmrt_coro_self() ? t : NULL;
}

/* Applies a placement change: the caller moves now; a running coroutine is
 * asked to yield so that it moves soon. */
static void replace(task_t *t)
{
    if (t == self_task()) {
        vmrt_yield();
        return;
    }
    int vi = atomic_load(&t->vcpu);
    vmrt_sched_t *s = t->s;
    if (vi >= 0 && (unsigned)vi < atomic_load(&s->nslots) && s->vcpus[vi] &&
        atomic_load(&s->vcpus[vi]->current) == t)
        vmrt__preempt_request(s->vcpus[vi]);
}

int vmrt_coro_bind(vmrt_coro_t *co, int vcpu)
{
    if (!co || vcpu < -1 || vcpu >= VMRT_SCHED_MAX_VCPUS)
        return -EINVAL;
    __atomic_store_n(&co->bind_vcpu, vcpu, __ATOMIC_RELAXED);
    if (co->sched_data && vcpu >= 0 && atomic_load(&task_of(co)->vcpu) != vcpu)
        replace(task_of(co));
    return 0;
}

int vmrt_coro_set_affinity(vmrt_coro_t *co, uint64_t mask)
{
    if (!co)
        return -EINVAL;
    __atomic_store_n(&co->affinity, mask, __ATOMIC_RELAXED);
    if (co->sched_data && mask) {
        int vi = atomic_load(&task_of(co)->vcpu);
        if (vi < 0 || vi >= 64 || !(mask & (1ull << vi)))
            replace(task_of(co));
    }
    return 0;
}

int vmrt_coro_migrate(vmrt_coro_t *co, unsigned vcpu)
{
    if (!co || !co->sched_data)
        return -EINVAL;
    task_t *t = task_of(co);
    if (!online_vcpu(t->s, (int)vcpu))
        return -EINVAL;
    atomic_store(&t->migrate_to, (int)vcpu);
    replace(t);
    return 0;
}

int vmrt_coro_vcpu(const vmrt_coro_t *co)
{
    if (!co || !co->sched_data)
        return -1;
    return atomic_load(&task_of(co)->vcpu);
}

size_t vmrt_vcpu_table(vmrt_sched_t *s, vmrt_vcpu_info_t *out, size_t max)
{
    if (!s)
        return 0;
    unsigned n = atomic_load(&s->nslots);
    size_t k = 0;
    for (unsigned i = 0; i < n; i++) {
        vcpu_t *v = s->vcpus[i];
        if (!v)
            continue;
        if (k < max) {
            vmrt_vcpu_info_t *r = &out[k];
            r->id = i;
            r->online = atomic_load(&v->online) == V_ONLINE;
            r->host_cpu = atomic_load(&v->host_cpu);
            task_t *t = atomic_load(&v->current);
            r->running_coro = t ? t->co->id : 0;
            r->queued = 0;
            for (int p = 0; p < VMRT_PRIO_COUNT; p++)
                r->queued += fifo_count(&v->inbox[p]) + (uint64_t)vmrt__deque_size(&v->dq[p]);
            r->load = (double)load_of(v) / 1000.0;
        }
        k++;
    }
    return k;
}

size_t vmrt_coro_table(vmrt_sched_t *s, vmrt_coro_info_t *out, size_t max)
{
    if (!s)
        return 0;
    size_t k = 0;
    for (unsigned i = 0; i < REG_SHARDS; i++) {
        spin_lock(&s->reg[i].lock);
        for (task_t *t = s->reg[i].head; t; t = t->reg_next) {
            if (!(atomic_load(&t->flags) & T_LIVE))
                continue;
            if (k < max) {
                vmrt_coro_info_t *r = &out[k];
                r->id = t->co->id;
                r->name = t->co->name;
                r->state = vmrt_coro_state(t->co);
                r->priority = vmrt_coro_priority(t->co);
                r->vcpu = atomic_load(&t->vcpu);
                r->bind_vcpu = __atomic_load_n(&t->co->bind_vcpu, __ATOMIC_RELAXED);
                r->affinity = __atomic_load_n(&t->co->affinity, __ATOMIC_RELAXED);
            }
            k++;
        }
        spin_unlock(&s->reg[i].lock);
    }
    return k;
}

/* Hot-spot balancing, every 100 ms from the monitor: when the hottest vCPU's
 * load EWMA exceeds the coolest's by two coroutines, half of its movable
 * queued work (affine coroutines in its inbox, unconstrained ones in its
 * deques) moves to the coolest vCPU. */
#define REBALANCE_MAX 64

void vmrt__rebalance(struct vmrt_sched *s);
void vmrt__rebalance(struct vmrt_sched *s)
{
    unsigned n = atomic_load(&s->nslots);
    vcpu_t *hot = NULL, *cool = NULL;
    for (unsigned i = 0; i < n; i++) {
        vcpu_t *v = online_vcpu(s, (int)i);
        if (!v)
            continue;
        if (!hot || load_of(v) > load_of(hot))
            hot = v;
        if (!cool || load_of(v) < load_of(cool))
            cool = v;
    }
    for (unsigned i = 0; i < n; i++) { /* strays routed to a vCPU while it went offline */
        vcpu_t *v = s->vcpus[i];
        if (v && atomic_load(&v->online) == V_OFFLINE && !v->has_thread)
            for (int p = 0; p < VMRT_PRIO_COUNT; p++)
                for (task_t *t; (t = vmrt__fifo_pop(&v->inbox[p]));)
                    vmrt__sched_ready(s, t, NULL);
    }
    if (!hot || hot == cool || load_of(hot) < load_of(cool) + 2000)
        return;
    uint64_t cool_bit = 1ull << cool->id;
    for (int p = 0; p < VMRT_PRIO_COUNT; p++) {
        uint64_t k = fifo_count(&hot->inbox[p]) / 2;
        while (k--) {
            task_t *t = vmrt__fifo_pop(&hot->inbox[p]);
            if (!t)
                break;
            vmrt_coro_t *co = t->co;
            uint64_t mask = __atomic_load_n(&co->affinity, __ATOMIC_RELAXED);
            bool movable =
                __atomic_load_n(&co->bind_vcpu, __ATOMIC_RELAXED) < 0 && mask && (mask & cool_bit);
            if (movable) {
                atomic_fetch_add(&cool->c.migrations, 1);
                vmrt__fifo_push(&cool->inbox[p], t);
            } else {
                vmrt__fifo_push(&hot->inbox[p], t);
            }
        }
        /* Unconstrained work: stealing moves it only to a vCPU with nothing
         * at all to run. A vCPU that keeps one coroutine busy never steals,
         * while coroutines that wake each other stay on the deque of the
         * vCPU that woke them. Take the oldest half (at most REBALANCE_MAX)
         * of the hot deque, as a thief would, and hand it to the cool vCPU
         * (its inbox: a one-time move; from there they are ordinary again). */
        k = (uint64_t)vmrt__deque_size(&hot->dq[p]) / 2;
        if (k > REBALANCE_MAX)
            k = REBALANCE_MAX;
        while (k--) {
            bool retry = false;
            task_t *t = vmrt__deque_steal(&hot->dq[p], &retry);
            if (!t) {
                if (retry)
                    continue;
                break;
            }
            vmrt_coro_t *co = t->co;
            uint64_t mask = __atomic_load_n(&co->affinity, __ATOMIC_RELAXED);
            if (__atomic_load_n(&co->bind_vcpu, __ATOMIC_RELAXED) < 0 &&
                (!mask || (mask & cool_bit))) {
                atomic_fetch_add(&cool->c.migrations, 1);
                vmrt__fifo_push(&cool->inbox[p], t);
            } else { /* bound or made affine after it was queued: route it again */
                vmrt__sched_ready(s, t, NULL);
            }
        }
    }
    vmrt__vcpu_kick(cool);
}
