/* Work stealing: an idle vCPU takes half of a random victim's deque at one
 * priority level (at most STEAL_MAX), runs the oldest and keeps the rest.
 * Victims are visited from a random start so thieves spread out. Bound and
 * affine coroutines live in inboxes, which are never stolen from.
 *
 * A deque holding a single coroutine is usually a message hand-off in
 * progress (the sender is about to block and its vCPU will run the receiver
 * next): thieves take it only in their last spin round, a few microseconds
 * later, and only if the victim is still running the coroutine it ran when
 * they started looking (Go waits ~3 us before stealing runnext for the same
 * reason). Stealing it at once makes the pair bounce between vCPUs.
 */
#include "sched/sched_internal.h"

#define STEAL_MAX 32

static uint64_t next_rand(vcpu_t *v)
{
    uint64_t x = v->rng; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v->rng = x;
    return x;
}

static vcpu_t *victim_at(struct vmrt_sched *s, unsigned i, unsigned nslots)
{
    return i < nslots ? s->vcpus[i] : s->embed;
}

static task_t *steal_one(deque_t *d)
{
    for (int tries = 0; tries < 4; tries++) {
        bool retry = false;
        task_t *t = vmrt__deque_steal(d, &retry);
        if (t || !retry)
            return t;
    }
    return NULL;
}

task_t *vmrt__steal(vcpu_t *v, int p, bool take_single)
{
    struct vmrt_sched *s = v->s;
    unsigned nslots = atomic_load_explicit(&s->nslots, acquire);
    unsigned n = nslots + 1;
    unsigned start = (unsigned)(next_rand(v) % n);
    for (unsigned i = 0; i < n; i++) {
        vcpu_t *victim = victim_at(s, (start + i) % n, nslots);
        if (!victim || victim == v || atomic_load_explicit(&victim->online, relaxed) == V_OFFLINE)
            continue;
        deque_t *d = &victim->dq[p];
        int64_t size = vmrt__deque_size(d);
        if (!size)
            continue;
        if (size == 1) { /* only from a victim stuck in one coroutine since we looked */
            unsigned vi = victim->is_embed ? VMRT_SCHED_MAX_VCPUS : victim->id;
            uint64_t seq = atomic_load_explicit(&victim->run_seq, relaxed);
            if (!take_single || seq != v->steal_seen[vi])
                continue;
        }
        task_t *first = steal_one(d);
        if (!first)
            continue;
        int64_t more = (size + 1) / 2 - 1;
        if (more > STEAL_MAX - 1)
            more = STEAL_MAX - 1;
        uint64_t got = 1;
        for (int64_t k = 0; k < more; k++) {
            task_t *t = steal_one(d);
            if (!t)
                break;
            if (!vmrt__deque_push(&v->dq[p], t)) {
                vmrt__fifo_push(&s->global[p], t);
                break;
            }
            got++;
        }
        atomic_store_explicit(&v->c.steals, atomic_load_explicit(&v->c.steals, relaxed) + got,
                              relaxed);
        return first;
    }
    return NULL;
}

void vmrt__steal_observe(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    unsigned nslots = atomic_load_explicit(&s->nslots, acquire);
    for (unsigned i = 0; i <= nslots; i++) {
        vcpu_t *o = victim_at(s, i, nslots);
        if (o)
            v->steal_seen[o->is_embed ? VMRT_SCHED_MAX_VCPUS : o->id] =
                atomic_load_explicit(&o->run_seq, relaxed);
    }
}

bool vmrt__work_visible(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        if (fifo_count(&v->inbox[p]) || fifo_count(&s->global[p]))
            return true;
    unsigned nslots = atomic_load_explicit(&s->nslots, acquire);
    for (unsigned i = 0; i <= nslots; i++) {
        vcpu_t *o = victim_at(s, i, nslots);
        if (!o || atomic_load_explicit(&o->online, relaxed) == V_OFFLINE)
            continue;
        for (int p = 0; p < VMRT_PRIO_COUNT; p++)
            if (vmrt__deque_size(&o->dq[p]))
                return true;
    }
    return false;
}
