/* SchedulerStats: per-vCPU counters (written by their owner with plain
 * relaxed stores, no locked instruction) summed on read; a sampled
 * ready -> running latency histogram (one coroutine in 64 is timed) with
 * four sub-buckets per power of two; and the GC's stack enumeration.
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <string.h>

#define SUB 4

static unsigned bucket_of(uint64_t ns)
{
    if (ns < SUB)
        return (unsigned)ns;
    unsigned lg = 63u - (unsigned)__builtin_clzll(ns);
    unsigned sub = (unsigned)(ns >> (lg - 2)) & (SUB - 1);
    unsigned b = (lg - 1) * SUB + sub;
    return b < LAT_BUCKETS ? b : (LAT_BUCKETS - 1);
}

static uint64_t bucket_value(unsigned b)
{
    if (b < SUB)
        return b;
    unsigned lg = b / SUB + 1, sub = b % SUB;
    uint64_t lo = (1ull << lg) + ((uint64_t)sub << (lg - 2));
    return lo + (1ull << (lg - 2)) / 2; /* middle of the bucket */
}

void vmrt__record_latency(vcpu_t *v, uint64_t ns)
{
    _Atomic uint64_t *b = &v->lat_hist[bucket_of(ns)];
    atomic_store_explicit(b, atomic_load_explicit(b, relaxed) + 1, relaxed);
    if (ns > atomic_load_explicit(&v->lat_max, relaxed))
        atomic_store_explicit(&v->lat_max, ns, relaxed);
}

static uint64_t percentile(const uint64_t *h, uint64_t total, double q)
{
    if (!total)
        return 0;
    uint64_t want = (uint64_t)((double)total * q), seen = 0;
    for (unsigned b = 0; b < LAT_BUCKETS; b++) {
        seen += h[b];
        if (seen > want)
            return bucket_value(b);
    }
    return bucket_value((LAT_BUCKETS - 1));
}

static void vcpu_fill(vcpu_t *v, vmrt_vcpu_stats_t *o, uint64_t now)
{
    memset(o, 0, sizeof *o);
    o->context_switches = atomic_load(&v->c.switches);
    o->steals = atomic_load(&v->c.steals);
    o->preempt_coop = atomic_load(&v->c.preempt_coop);
    o->preempt_signal = atomic_load(&v->c.preempt_signal);
    o->parks = atomic_load(&v->c.parks);
    o->wakeups = atomic_load(&v->c.wakeups);
    o->migrations = atomic_load(&v->c.migrations);
    o->spawned = atomic_load(&v->c.spawned);
    o->finished = atomic_load(&v->c.finished);
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        o->queue_depth += fifo_count(&v->inbox[p]) + (uint64_t)vmrt__deque_size(&v->dq[p]);
    uint64_t wall = now > v->started_ns ? now - v->started_ns : 1;
    uint64_t idle = atomic_load(&v->c.idle_ns);
    o->cpu_utilization = v->has_thread || atomic_load(&v->online) == V_ONLINE
                             ? 1.0 - (double)(idle < wall ? idle : wall) / (double)wall
                             : 0.0;
    o->load = (double)atomic_load(&v->load_milli) / 1000.0;
}

int vmrt_vcpu_stats(vmrt_sched_t *s, unsigned id, vmrt_vcpu_stats_t *out)
{
    if (!s || !out || id >= atomic_load(&s->nslots) || !s->vcpus[id])
        return -EINVAL;
    vcpu_fill(s->vcpus[id], out, vmrt_now_ns());
    return 0;
}

int vmrt_sched_stats(vmrt_sched_t *s, vmrt_sched_stats_t *out)
{
    if (!s || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    uint64_t now = vmrt_now_ns(), total;
    out->active_coroutines = vmrt__live_count(s, &total);
    out->total_coroutines = total;
    unsigned n = atomic_load(&s->nslots), busy = 0;
    double util = 0;
    for (unsigned i = 0; i <= n; i++) {
        vcpu_t *v = i < n ? s->vcpus[i] : s->embed;
        if (!v)
            continue;
        vmrt_vcpu_stats_t vs;
        vcpu_fill(v, &vs, now);
        out->context_switches += vs.context_switches;
        out->steals += vs.steals;
        out->preempt_coop += vs.preempt_coop;
        out->preempt_signal += vs.preempt_signal;
        out->migrations += vs.migrations;
        out->parks += vs.parks;
        out->wakeups += vs.wakeups;
        out->queue_depth += vs.queue_depth;
        if (i < n && atomic_load(&v->online) == V_ONLINE && v->has_thread) {
            util += vs.cpu_utilization;
            busy++;
        }
    }
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        out->global_queue_depth += fifo_count(&s->global[p]);
    out->queue_depth += out->global_queue_depth;
    out->cpu_utilization = busy ? util / busy : 0.0;
    out->vcpus = vmrt_vcpu_count(s);
    uint64_t h[LAT_BUCKETS] = {0}, samples = 0, max = 0;
    for (unsigned i = 0; i <= n; i++) {
        vcpu_t *v = i < n ? s->vcpus[i] : s->embed;
        if (!v)
            continue;
        for (unsigned b = 0; b < LAT_BUCKETS; b++)
            h[b] += atomic_load_explicit(&v->lat_hist[b], relaxed);
        uint64_t m = atomic_load_explicit(&v->lat_max, relaxed);
        max = m > max ? m : max;
    }
    for (unsigned b = 0; b < LAT_BUCKETS; b++)
        samples += h[b];
    out->latency_samples = samples;
    /* A percentile is its histogram bucket's bound: never above the exact max. */
    uint64_t p50 = percentile(h, samples, 0.50), p99 = percentile(h, samples, 0.99);
    out->latency_p50_ns = p50 < max ? p50 : max;
    out->latency_p99_ns = p99 < max ? p99 : max;
    out->latency_max_ns = max;
    return 0;
}

size_t vmrt_sched_for_each_stack(vmrt_sched_t *s, vmrt_stack_visit_fn cb, void *arg)
{
    if (!s || !cb)
        return 0;
    vmrt_coro_t *self = vmrt_coro_self();
    size_t n = 0;
    for (unsigned i = 0; i < REG_SHARDS; i++) {
        spin_lock(&s->reg[i].lock);
        for (task_t *t = s->reg[i].head; t; t = t->reg_next) {
            vmrt_coro_t *co = t->co;
            if (!(atomic_load(&t->flags) & T_LIVE) || !co->started ||
                vmrt_coro_state(co) == VMRT_CORO_TERMINATED)
                continue;
            const void *sp = co == self ? __builtin_frame_address(0) : co->sp;
            cb(co, vmrt__stack_lo(&co->stack), vmrt__coro_stack_top(co), sp, arg);
            n++;
        }
        spin_unlock(&s->reg[i].lock);
    }
    return n;
}

int vmrt_sched_pool_stats(vmrt_sched_t *s, vmrt_pool_stats_t *out)
{
    if (!s || !out)
        return -EINVAL;
    vmrt_pool_stats(s->pool, out);
    return 0;
}
