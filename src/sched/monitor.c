/* The monitor thread: time slices, timers of busy vCPUs, load tracking.
 *
 * Every tick (half a time slice, at most 1 ms) it refreshes the coarse clock
 * that picking uses for the starvation rule, fires due timers of every vCPU
 * (so sleeps end on time while CPU-bound coroutines hold all vCPUs), and
 * looks at each vCPU's run_seq: a vCPU whose run_seq has not moved while it
 * kept running a coroutine for a whole time slice gets a preemption request
 * (if anything else is ready), honoured at the next safepoint. A request
 * still pending a tick later for a VMRT_CORO_SIGNAL_PREEMPT coroutine turns
 * into a signal. A vCPU running a lower level than ready work is asked to
 * yield at once (check_higher), vCPUs whose timers just fired first. No clock is read on the vCPUs'
 * switch path: slices are measured in monitor ticks, like Go's sysmon.
 *
 * Every 10 ms it updates each vCPU's load EWMA (running + queued) and every
 * 100 ms moves queued work from the hottest vCPU to the coolest (mapper.c).
 * When every vCPU is parked it sleeps until one wakes up (at most 50 ms).
 */
#include "sched/sched_internal.h"

#include <time.h>

void vmrt__rebalance(struct vmrt_sched *s);

static uint64_t vcpu_queued(vcpu_t *v)
{
    uint64_t q = 0;
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        q += fifo_count(&v->inbox[p]) + (uint64_t)vmrt__deque_size(&v->dq[p]);
    return q;
}

static void check_slice(struct vmrt_sched *s, vcpu_t *v, uint64_t tick)
{
    uint64_t seq = atomic_load_explicit(&v->run_seq, relaxed);
    task_t *t = atomic_load_explicit(&v->current, acquire);
    if (!t || seq != v->monitor_seq) {
        v->monitor_seq = seq;
        v->monitor_ticks = 0;
        return;
    }
    v->monitor_ticks++;
    if ((uint64_t)v->monitor_ticks * tick < s->cfg.time_slice_ns)
        return;
    if (atomic_load_explicit(&v->preempt_req, relaxed)) {
        vmrt__signal_preempt(v); /* still running: poll-less coroutine? */
        return;
    }
    if (vmrt__work_visible(v) || atomic_load_explicit(&t->flags, relaxed) & T_SUSPEND_REQ)
        vmrt__preempt_request(v);
}

/* [SCHED-FAIR] the newest-first end of a deque must not starve its oldest
 * entry: when a deque's top has not moved for a time slice, the vCPU's next
 * pick at that level takes the oldest. (A fixed "every N picks" rule would
 * also start old subtrees of fork-join work early, turning depth-first into
 * breadth-first and keeping thousands of stacks alive.) */
static void check_queue_age(struct vmrt_sched *s, vcpu_t *v, uint64_t tick)
{
    for (int p = 0; p < VMRT_PRIO_COUNT; p++) {
        int64_t top = atomic_load_explicit(&v->dq[p].top, relaxed);
        if (!vmrt__deque_size(&v->dq[p]) || top != v->mon_top[p]) {
            v->mon_top[p] = top;
            v->mon_top_ticks[p] = 0;
            continue;
        }
        /* Work has sat here a whole tick while some vCPU sleeps (a lone
         * hand-off whose owner kept running does not wake anyone): wake one
         * to steal it. */
        if (atomic_load_explicit(&s->idle_mask, relaxed))
            vmrt__wake_idle(s);
        if (++v->mon_top_ticks[p] * tick >= s->cfg.time_slice_ns) {
            atomic_fetch_or_explicit(&v->fair_req, 1u << p, relaxed);
            v->mon_top_ticks[p] = 0;
        }
    }
}

/* Strict priority between levels [SCHED-PRIO]: a vCPU running a lower level
 * than ready work it could take (its own queues, or global work not yet
 * promised to another vCPU this round: *global_left per level) is asked to
 * yield at its next safepoint now, not at the end of its slice. High work
 * asks at once when it becomes ready (vmrt__preempt_for_high); this covers
 * the other levels — a Medium coroutine whose sleep the monitor ends while
 * Low work holds every vCPU first asks the vCPU whose timer it was (the one
 * it slept on: cache-warm), since timers run before this check. */
static void check_higher(vcpu_t *v, uint64_t *global_left)
{
    int rp = atomic_load_explicit(&v->running_prio, relaxed);
    if (rp <= VMRT_PRIO_HIGH || rp >= VMRT_PRIO_COUNT ||
        atomic_load_explicit(&v->preempt_req, relaxed))
        return;
    for (int q = VMRT_PRIO_HIGH; q < rp; q++) {
        if (fifo_count(&v->inbox[q]) || vmrt__deque_size(&v->dq[q])) {
            vmrt__preempt_request(v);
            return;
        }
        if (global_left[q]) {
            global_left[q]--;
            vmrt__preempt_request(v);
            return;
        }
    }
}

static void update_load(vcpu_t *v)
{
    uint64_t now_load = vcpu_queued(v) * 1000;
    if (atomic_load_explicit(&v->current, relaxed))
        now_load += 1000;
    uint64_t old = atomic_load_explicit(&v->load_milli, relaxed);
    atomic_store_explicit(&v->load_milli, (old * 4 + now_load) / 5, relaxed);
}

static void *monitor_main(void *arg)
{
    struct vmrt_sched *s = arg;
    uint64_t tick = s->monitor_tick_ns;
    unsigned rounds = 0;
    while (atomic_load_explicit(&s->state, acquire) == S_RUNNING &&
           !atomic_load_explicit(&s->monitor_word, acquire)) {
        uint64_t now = vmrt_now_ns();
        atomic_store_explicit(&s->coarse_now, now, relaxed);
        unsigned n = atomic_load_explicit(&s->nslots, acquire);
        bool fired[VMRT_SCHED_MAX_VCPUS] = {false};
        for (unsigned i = 0; i <= n; i++) {
            vcpu_t *v = i < n ? s->vcpus[i] : s->embed;
            if (!v || atomic_load_explicit(&v->online, relaxed) == V_OFFLINE)
                continue;
            if (vmrt__timer_run(v, now) && i < n)
                fired[i] = true;
            if (s->cfg.preemptive && !v->is_embed)
                check_slice(s, v, tick);
            check_queue_age(s, v, tick);
            if (rounds % 10 == 0)
                update_load(v);
        }
        /* vCPUs whose timers fired first: the woken coroutine then runs on
         * the vCPU it slept on. Latency benchmark (Medium sender, High
         * receiver, Low load), p50 of six runs each: 0.26-0.28 us with this
         * order, 0.26-0.54 us with one pass in vCPU order. */
        if (s->cfg.preemptive) {
            uint64_t global_left[VMRT_PRIO_COUNT];
            for (int q = 0; q < VMRT_PRIO_COUNT; q++)
                global_left[q] = fifo_count(&s->global[q]);
            for (int pass = 0; pass < 2; pass++)
                for (unsigned i = 0; i < n; i++) {
                    vcpu_t *v = s->vcpus[i];
                    if (v && fired[i] == (pass == 0) &&
                        atomic_load_explicit(&v->online, relaxed) == V_ONLINE)
                        check_higher(v, global_left);
                }
        }
        if (++rounds % 100 == 0)
            vmrt__rebalance(s);
        uint64_t online = atomic_load_explicit(&s->online_mask, relaxed);
        uint64_t idle = atomic_load_explicit(&s->idle_mask, relaxed);
        bool all_idle = online && (idle & online) == online;
        if (all_idle) { /* a vCPU leaving park wakes us (monitor_idle) */
            atomic_store_explicit(&s->monitor_idle, 1, seq_cst);
            if ((atomic_load_explicit(&s->idle_mask, seq_cst) & online) == online)
                vmrt__futex_wait(&s->monitor_word, 0, 50000000);
            atomic_store_explicit(&s->monitor_idle, 0, relaxed);
        } else {
            vmrt__futex_wait(&s->monitor_word, 0, tick);
        }
    }
    return NULL;
}

int vmrt__monitor_start(struct vmrt_sched *s)
{
    uint64_t tick = s->cfg.time_slice_ns / 2;
    if (tick > 1000000)
        tick = 1000000;
    if (tick < 50000)
        tick = 50000;
    s->monitor_tick_ns = tick;
    atomic_store(&s->monitor_word, 0);
    int err = pthread_create(&s->monitor, NULL, monitor_main, s);
    if (err)
        return -err;
    s->has_monitor = true;
    return 0;
}

void vmrt__monitor_stop(struct vmrt_sched *s)
{
    if (!s->has_monitor)
        return;
    atomic_store(&s->monitor_word, 1);
    vmrt__futex_wake(&s->monitor_word, 1);
    pthread_join(s->monitor, NULL);
    s->has_monitor = false;
}
