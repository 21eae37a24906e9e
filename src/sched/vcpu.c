/* vCPU worker threads: the run loop, picking, spinning and parking.
 *
 * Loop: pick a ready coroutine (strict priority with the anti-starvation
 * rule, see pick()), resume it, and act on the state it left in:
 * READY (yielded/preempted: requeue), BLOCKED/SUSPENDED (commit the park,
 * [SCHED-PARK]), TERMINATED (finish: wake the joiner, recycle).
 *
 * Idle path [SCHED-IDLE]: fire due timers, steal (spinning ~1 us, longer
 * while recent parks were short, see vmrt__spin_next), then park on the vCPU's futex word. To
 * park, a vCPU sets its bit in idle_mask and *then* looks at every queue
 * once more; a producer pushes its work and *then* reads idle_mask
 * (vmrt__wake_idle). Both sides use seq_cst, so either the parker sees the
 * work or the producer sees the bit and wakes it: no lost wake-up. Producers
 * do not wake anyone while some vCPU spins (it will find the work).
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define FAIR_EVERY 61 /* take the oldest local / global work every N picks */

static _Thread_local vcpu_t *tls_vcpu __attribute__((tls_model("initial-exec")));

__attribute__((noinline)) vcpu_t *vmrt__vcpu_self(void)
{
    __asm__ volatile("" ::: "memory");
    return tls_vcpu;
}

__attribute__((noinline)) void vmrt__vcpu_set_self(vcpu_t *v)
{
    __asm__ volatile("" ::: "memory");
    tls_vcpu = v;
}

static inline void count(_Atomic uint64_t *c)
{
    /* owner-only counter: a relaxed load+store, no locked instruction */
    atomic_store_explicit(c, atomic_load_explicit(c, relaxed) + 1, relaxed);
}

/* Moves up to n more tasks of global queue p into v's deque. */
static void take_batch(vcpu_t *v, int p)
{
    struct vmrt_sched *s = v->s;
    uint64_t n = fifo_count(&s->global[p]);
    unsigned online =
        (unsigned)__builtin_popcountll(atomic_load_explicit(&s->online_mask, relaxed));
    n = n / (online + 1);
    if (n > 16)
        n = 16;
    while (n--) {
        task_t *t = vmrt__fifo_pop(&s->global[p]);
        if (!t)
            break;
        if (!vmrt__deque_push(&v->dq[p], t)) {
            vmrt__fifo_push(&s->global[p], t);
            break;
        }
    }
}

static task_t *take_global(vcpu_t *v, int p)
{
    task_t *t = vmrt__fifo_pop(&v->s->global[p]);
    if (t && p != VMRT_PRIO_HIGH) /* High work stays global: any vCPU takes it at once */
        take_batch(v, p);
    return t;
}

/* Takes the next task of level p on v: inbox, local deque, global queue. */
static task_t *take_level(vcpu_t *v, int p, bool fair)
{
    task_t *t = vmrt__fifo_pop(&v->inbox[p]);
    if (t)
        return t;
    if (fair && (t = take_global(v, p)))
        return t;
    uint32_t bit = 1u << p;
    bool starving = atomic_load_explicit(&v->fair_req, relaxed) & bit;
    if ((v->take_oldest || starving) && vmrt__deque_size(&v->dq[p])) {
        v->take_oldest = false;
        if (starving)
            atomic_fetch_and_explicit(&v->fair_req, ~bit, relaxed);
        t = vmrt__deque_take_oldest(&v->dq[p]);
    } else {
        int64_t n = vmrt__deque_size(&v->dq[p]);
        if (n == 1) /* a lone entry (a hand-off): oldest == newest, and taking it
                     * from the top is one CAS, where pop needs a fence and a CAS */
            t = vmrt__deque_take_oldest(&v->dq[p]);
        else if (n) /* (an empty pop would pay the fence for nothing) */
            t = vmrt__deque_pop(&v->dq[p]);
    }
    if (t)
        return t;
    return take_global(v, p);
}

static inline __attribute__((always_inline)) bool level_has_work(vcpu_t *v, int p)
{
    return fifo_count(&v->inbox[p]) || vmrt__deque_size(&v->dq[p]) || fifo_count(&v->s->global[p]);
}

/* Strict priority, except that a level that has waited longer than the
 * starvation bound on this vCPU goes first once [SCHED-STARVE]. */
task_t *vmrt__vcpu_pick(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    uint64_t now = atomic_load_explicit(&s->coarse_now, relaxed);
    task_t *t;
    /* a countdown, not pick_count % FAIR_EVERY: no division per pick */
    bool fair = false;
    if (v->pick_count-- == 0) {
        v->pick_count = FAIR_EVERY - 1;
        fair = true;
    }
    if (s->cfg.starvation_ns) {
        for (int p = VMRT_PRIO_LOW; p > VMRT_PRIO_HIGH; p--) {
            if (now - v->last_run_ns[p] <= s->cfg.starvation_ns)
                continue;
            if (!level_has_work(v, p)) {
                v->last_run_ns[p] = now; /* nothing waits at this level: not starved */
                continue;
            }
            if ((t = take_level(v, p, fair))) {
                v->last_run_ns[p] = now;
                return t;
            }
        }
    }
    for (int p = 0; p < VMRT_PRIO_COUNT; p++) {
        if (!level_has_work(v, p)) { /* the common skip: three relaxed loads */
            v->last_run_ns[p] = now; /* nothing waits at this level: not starved */
            continue;
        }
        if ((t = take_level(v, p, fair))) {
            v->last_run_ns[p] = now;
            return t;
        }
        v->last_run_ns[p] = now; /* nothing waits at this level: not starved */
    }
    return NULL;
}

void vmrt__vcpu_kick(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    if (v->is_embed)
        return;
    uint64_t bit = 1ull << v->id;
    if (!(atomic_load_explicit(&s->idle_mask, seq_cst) & bit))
        return;
    if (atomic_fetch_and_explicit(&s->idle_mask, ~bit, seq_cst) & bit) {
        atomic_store_explicit(&v->park_word, 1, release);
        vmrt__futex_wake(&v->park_word, 1);
    }
}

void vmrt__wake_idle(struct vmrt_sched *s)
{
    uint64_t m = atomic_load_explicit(&s->idle_mask, seq_cst);
    if (!m || atomic_load_explicit(&s->nspinning, seq_cst) > 0)
        return;
    while (m) {
        uint64_t bit = m & -m;
        if (atomic_compare_exchange_weak_explicit(&s->idle_mask, &m, m & ~bit, seq_cst, relaxed)) {
            vcpu_t *v = s->vcpus[__builtin_ctzll(bit)];
            atomic_store_explicit(&v->park_word, 1, release);
            vmrt__futex_wake(&v->park_word, 1);
            return;
        }
    }
}

/* Adaptive idle spinning [SCHED-IDLE]. A park costs the waker a futex wake
 * and this thread the host's wake-up latency (~20 us on a VM whose idle CPU
 * halts): two per round trip when coroutines on two vCPUs exchange messages.
 * When a park ends with a wake-up (new work) soon after it began, spinning
 * that long would have caught the work: the window grows to cover it (at
 * most idle_spin_max_ns). Parks that last longer, or end by a timer, shrink
 * it back towards SPIN_NS, so a vCPU that is really idle does not burn CPU.
 * A vCPU whose window has grown spins even when half of the vCPUs already
 * do (find_work): its own work is what it waits for. */
uint64_t vmrt__spin_next(uint64_t cur, uint64_t parked_ns, bool woken, uint64_t max)
{
    if (woken && parked_ns < max) {
        uint64_t want = parked_ns + parked_ns / 2;
        cur = want > cur * 2 ? want : cur * 2;
        return cur > max ? max : cur;
    }
    return cur / 2 > SPIN_NS ? cur / 2 : SPIN_NS;
}

static void park_vcpu(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    uint64_t bit = 1ull << v->id;
    atomic_store_explicit(&v->park_word, 0, relaxed);
    atomic_fetch_or_explicit(&s->idle_mask, bit, seq_cst);
    if (vmrt__work_visible(v) || atomic_load_explicit(&s->state, seq_cst) >= S_STOPPING ||
        atomic_load_explicit(&s->stw, seq_cst) ||
        atomic_load_explicit(&v->online, relaxed) != V_ONLINE) {
        atomic_fetch_and_explicit(&s->idle_mask, ~bit, seq_cst);
        return;
    }
    uint64_t t0 = vmrt_now_ns(), timeout = 0;
    uint64_t due = atomic_load_explicit(&v->timers.earliest, acquire);
    if (due != UINT64_MAX)
        timeout = due > t0 ? due - t0 : 1;
    count(&v->c.parks);
    vmrt__futex_wait(&v->park_word, 0, timeout);
    uint64_t t1 = vmrt_now_ns();
    v->spin_ns =
        vmrt__spin_next(v->spin_ns, t1 - t0, atomic_load_explicit(&v->park_word, acquire) == 1,
                        s->cfg.idle_spin_max_ns);
    atomic_store_explicit(&v->c.idle_ns, atomic_load_explicit(&v->c.idle_ns, relaxed) + (t1 - t0),
                          relaxed);
    atomic_store_explicit(&s->coarse_now, t1, relaxed);
    if (atomic_load_explicit(&s->monitor_idle, relaxed) &&
        atomic_exchange_explicit(&s->monitor_idle, 0, relaxed))
        vmrt__futex_wake(&s->monitor_word, 1);
    if (atomic_fetch_and_explicit(&s->idle_mask, ~bit, seq_cst) & bit)
        return; /* timeout or spurious */
    count(&v->c.wakeups);
}

/* Finds work for v's thread, spinning and parking; NULL when v must exit. */
static task_t *find_work(vcpu_t *v)
{
    struct vmrt_sched *s = v->s;
    for (;;) {
        if (atomic_load_explicit(&s->stw, acquire))
            vmrt__stw_check(v);
        if (atomic_load_explicit(&v->online, acquire) != V_ONLINE)
            return NULL; /* retiring: the remover moves our queues elsewhere */
        task_t *t = vmrt__vcpu_pick(v);
        if (t)
            return t;
        uint64_t due = atomic_load_explicit(&v->timers.earliest, acquire);
        if (due != UINT64_MAX && vmrt__timer_run(v, vmrt_now_ns()))
            continue;
        if (atomic_load_explicit(&s->state, acquire) >= S_STOPPING && !vmrt__work_visible(v))
            return NULL;
        unsigned online =
            (unsigned)__builtin_popcountll(atomic_load_explicit(&s->online_mask, relaxed));
        bool spinning = false;
        /* at most half of the vCPUs spin, except one whose spin window
         * has grown (vmrt__spin_next: its work keeps arriving within it) */
        if ((unsigned)atomic_load_explicit(&s->nspinning, relaxed) * 2 < online ||
            v->spin_ns > SPIN_NS) {
            atomic_fetch_add_explicit(&s->nspinning, 1, seq_cst);
            spinning = true;
        }
        /* Spin for v->spin_ns (vmrt__spin_next: ~1 us, longer while recent parks
         * were short), re-checking our queues and stealing; never past a
         * due timer, a stop-the-world request or shutdown. Measured here (2
         * cores, cross-vCPU ping-pong): a fixed ~1 us spin gave 4.4-4.7 us
         * per round trip while both threads stayed awake but fell into a
         * 40-50 us regime (two futex wake-ups per round trip) after any
         * hiccup; a fixed 20 us one gave 1.8 us or 50 us, bimodal; the
         * adaptive window climbs out of the slow regime. */
        uint64_t t0 = spinning ? vmrt_now_ns() : 0;
        uint64_t until = t0 + v->spin_ns;
        due = atomic_load_explicit(&v->timers.earliest, acquire);
        if (due < until)
            until = due;
        vmrt__steal_observe(v);
        for (int round = 0; !t; round++) {
            /* by time, not by rounds: a pause costs 10 to 150 cycles
             * depending on the CPU */
            bool last =
                !spinning ||
                (round > 0 && (vmrt_now_ns() >= until || atomic_load_explicit(&s->stw, relaxed) ||
                               atomic_load_explicit(&s->state, relaxed) >= S_STOPPING));
            for (int p = 0; p < VMRT_PRIO_COUNT && !t; p++)
                t = vmrt__steal(v, p, last);
            if (!t && spinning)
                t = vmrt__vcpu_pick(v);
            if (t || last)
                break;
            for (int i = 0; i < 32; i++)
                cpu_relax();
        }
        if (spinning && atomic_fetch_sub_explicit(&s->nspinning, 1, seq_cst) == 1 && t)
            vmrt__wake_idle(s); /* the last spinner found work: there may be more */
        if (t)
            return t;
        park_vcpu(v);
    }
}

void *vmrt__vcpu_main(void *arg)
{
    vcpu_t *v = arg;
    vmrt__vcpu_set_self(v);
    vmrt__coro_thread_init();
    int cpu = atomic_load_explicit(&v->host_cpu, relaxed);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    }
    task_t *t;
    while ((t = find_work(v)))
        vmrt__vcpu_run(v, t);
    vmrt__vcpu_set_self(NULL);
    return NULL;
}

/* Parks t as suspended (the loop owns it: it is off its stack). */
static void suspend_now(task_t *t)
{
    wait_t *w = &t->susp;
    w->task = t;
    w->result = 0;
    w->suspend = true;
    w->timer_vcpu = NULL;
    w->timer_idx = -1;
    atomic_store_explicit(&t->co->state, VMRT_CORO_SUSPENDED, release);
    spin_lock(&t->wait_lock);
    atomic_store_explicit(&w->state, W_PARKED, release);
    atomic_store_explicit(&t->wait, w, relaxed);
    spin_unlock(&t->wait_lock);
}

/* [SCHED-PARK] the loop's half of the hand-over, after resume() returned. */
static void commit_park(vcpu_t *v, task_t *t)
{
    wait_t *w = atomic_load_explicit(&t->wait, relaxed);
    uint32_t s = atomic_load_explicit(&w->state, acquire);
    for (;;) {
        uint32_t to;
        if (s == W_WAITING)
            to = W_PARKED;
        else if (s == W_CLAIMED)
            to = W_CLAIMED_PARKED;
        else
            break; /* W_WOKEN */
        if (atomic_compare_exchange_weak_explicit(&w->state, &s, to, memory_order_acq_rel, acquire))
            return;
    }
    atomic_store_explicit(&w->state, W_IDLE, relaxed);
    vmrt__sched_ready(v->s, t, v);
}

/* t becomes v's running coroutine: published, stamped, counted. */
static inline void set_running(vcpu_t *v, task_t *t)
{
    atomic_store_explicit(&v->current, t, release);
    atomic_store_explicit(&t->vcpu, (int)v->id, relaxed);
    atomic_store_explicit(&v->run_seq, atomic_load_explicit(&v->run_seq, relaxed) + 1, relaxed);
    if (t->ready_ns) {
        vmrt__record_latency(v, vmrt_now_ns() - t->ready_ns);
        t->ready_ns = 0;
    }
    count(&v->c.switches);
}

/* Direct hand-off. The running coroutine is about to block (vmrt__park) and
 * the only entry of its level's deque is the coroutine it just readied (the
 * message-passing pattern: send to a waiting receiver, then block on a
 * receive). The loop would pick exactly that entry next; switching straight
 * to it skips two stack switches and the loop's pick and resume bookkeeping
 * (Go's runnext does the same through its g0 stack). It is done only when the
 * loop would pick the same coroutine:
 *  - v is an online vCPU thread (run_one steps one coroutine at a time; a
 *    retiring vCPU goes back to its loop), no world stop or preemption
 *    request is pending, and this is not the loop's fair
 *    pick: every FAIR_EVERY-th switch still goes through the loop, which
 *    looks at the global queue and the anti-starvation rules
 *    [SCHED-FAIR, SCHED-STARVE];
 *  - no higher level has work, and at this level the inbox is empty and the
 *    monitor has not flagged the deque's oldest entry as waiting too long;
 *    no lower level is past its starvation bound;
 *  - the deque holds exactly one coroutine, and it is switched out inside
 *    vmrt__park (so it resumes where vmrt__handoff_arrived runs) and has no
 *    cancel or suspend request (the loop handles those).
 * The current coroutine stays in_run across the switch, like a coroutine that
 * keeps running: a world stop waits for the next safepoint or scheduling
 * point, as it would anyway. Its park is committed by the coroutine it hands
 * off to, right after the switch (vmrt__handoff_arrived), exactly as the loop
 * would have done after resume() returned [SCHED-PARK]. */

/* The High variant, for a coroutine that is about to block or to yield at
 * a safepoint because it readied a High one: that one waits in the global
 * High queue and this vCPU was asked to yield for it
 * (vmrt__preempt_for_high). The loop would requeue the caller, clear the
 * request and pick the High coroutine first; switch straight to it instead
 * (a Medium waker sending to a High receiver). Only when the loop would
 * pick the same coroutine: nothing High is queued on this vCPU, it is the
 * only one in the global High queue, it is parked (so it resumes where
 * vmrt__handoff_arrived runs), no lower level is due under the starvation
 * bound, no world stop. */
task_t *vmrt__handoff_take_high(vcpu_t *v, task_t *cur)
{
    if (v->is_embed || v->pick_count == 0 || fifo_count(&v->s->global[VMRT_PRIO_HIGH]) != 1)
        return NULL;
    struct vmrt_sched *s = v->s;
    fifo_t *g = &s->global[VMRT_PRIO_HIGH];
    if (atomic_load_explicit(&s->stw, relaxed) ||
        atomic_load_explicit(&v->online, relaxed) != V_ONLINE ||
        fifo_count(&v->inbox[VMRT_PRIO_HIGH]) || vmrt__deque_size(&v->dq[VMRT_PRIO_HIGH]))
        return NULL;
    uint64_t now = atomic_load_explicit(&s->coarse_now, relaxed);
    for (int q = VMRT_PRIO_HIGH + 1; q < VMRT_PRIO_COUNT; q++)
        if (now - v->last_run_ns[q] > s->cfg.starvation_ns)
            return NULL;
    NOPREEMPT_BEGIN(); /* until the next coroutine has committed our park */
    task_t *t = vmrt__fifo_pop(g);
    if (!t) {
        NOPREEMPT_END();
        return NULL;
    }
    if (!t->in_park || (atomic_load_explicit(&t->flags, relaxed) & (T_CANCEL | T_SUSPEND_REQ))) {
        vmrt__fifo_push(g, t); /* the loop takes it (it was alone: order kept) */
        NOPREEMPT_END();
        return NULL;
    }
    vmrt__preempt_clear(v);
    v->pick_count--;
    v->last_run_ns[VMRT_PRIO_HIGH] = now;
    atomic_store_explicit(&v->running_prio, atomic_load_explicit(&t->co->priority, relaxed),
                          relaxed);
    set_running(v, t);
    v->handoff_from = cur;
    return t;
}

task_t *vmrt__handoff_take(vcpu_t *v, task_t *cur)
{
    struct vmrt_sched *s = v->s;
    if (atomic_load_explicit(&v->preempt_req, relaxed))
        return vmrt__handoff_take_high(v, cur); /* only to a High one, if any */
    if (v->is_embed || v->pick_count == 0)
        return NULL;
    int p = atomic_load_explicit(&v->running_prio, relaxed);
    if (p >= VMRT_PRIO_COUNT || vmrt__deque_size(&v->dq[p]) != 1 ||
        atomic_load_explicit(&s->stw, relaxed) ||
        atomic_load_explicit(&v->online, relaxed) != V_ONLINE || fifo_count(&v->inbox[p]) ||
        (atomic_load_explicit(&v->fair_req, relaxed) & (1u << p)))
        return NULL;
    for (int q = 0; q < p; q++)
        if (level_has_work(v, q))
            return NULL;
    uint64_t now = atomic_load_explicit(&s->coarse_now, relaxed);
    for (int q = p + 1; q < VMRT_PRIO_COUNT; q++)
        if (now - v->last_run_ns[q] > s->cfg.starvation_ns)
            return NULL;
    NOPREEMPT_BEGIN(); /* until the next coroutine has committed our park */
    task_t *t = vmrt__deque_take_oldest(&v->dq[p]);
    if (!t) {
        NOPREEMPT_END();
        return NULL;
    }
    if (!t->in_park || (atomic_load_explicit(&t->flags, relaxed) & (T_CANCEL | T_SUSPEND_REQ))) {
        vmrt__deque_push(&v->dq[p], t); /* cannot fail: we just emptied it */
        NOPREEMPT_END();
        return NULL;
    }
    v->pick_count--;
    v->last_run_ns[p] = now;
    atomic_store_explicit(&v->running_prio, atomic_load_explicit(&t->co->priority, relaxed),
                          relaxed);
    set_running(v, t);
    v->handoff_from = cur;
    return t;
}

static void commit_park(vcpu_t *v, task_t *t);

void vmrt__handoff_arrived(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    task_t *prev = v ? v->handoff_from : NULL;
    if (!prev)
        return;
    v->handoff_from = NULL;
    if (v->handoff_yield) { /* it yielded at a safepoint: requeue it as the loop would */
        v->handoff_yield = false;
        vmrt__sched_ready(v->s, prev, NULL);
    } else {
        commit_park(v, prev);
    }
    NOPREEMPT_END();
}

void vmrt__vcpu_run(vcpu_t *v, task_t *t)
{
    struct vmrt_sched *s = v->s;
    vmrt_coro_t *co = t->co;
    uint32_t flags = atomic_load_explicit(&t->flags, acquire);
    if ((flags & T_CANCEL) && !co->started) {
        t->start_err = VMRT_ECANCELED;
        atomic_store_explicit(&co->state, VMRT_CORO_TERMINATED, release);
        vmrt__sched_finish(v, t);
        return;
    }
    if (flags & T_SUSPEND_REQ) {
        atomic_fetch_and_explicit(&t->flags, ~(uint32_t)T_SUSPEND_REQ, relaxed);
        suspend_now(t);
        return;
    }
    if (atomic_load_explicit(&t->wait, relaxed) == &t->susp) {
        spin_lock(&t->wait_lock);
        atomic_store_explicit(&t->wait, NULL, relaxed);
        spin_unlock(&t->wait_lock);
    }
    if (atomic_load_explicit(&v->preempt_req, relaxed))
        vmrt__preempt_clear(v); /* stale: meant for the previous coroutine */
    /* read once: vmrt_coro_set_priority may change it from another thread */
    int prio = atomic_load_explicit(&co->priority, relaxed);
    atomic_store_explicit(&v->running_prio, prio, relaxed);
    /* One full fence per switch: in_run (and running_prio before it) are
     * published before we look at stw [SCHED-STW] and at the High queue. */
    atomic_store_explicit(&v->in_run, 1, seq_cst);
    if (atomic_load_explicit(&s->stw, seq_cst)) { /* do not start anything */
        atomic_store_explicit(&v->running_prio, VMRT_PRIO_COUNT, relaxed);
        atomic_store_explicit(&v->in_run, 0, release);
        vmrt__sched_ready(s, t, v);
        vmrt__stw_check(v);
        return;
    }
    /* A High coroutine that became ready while we picked saw no running
     * priority here and skipped us: yield to it at the first safepoint. */
    if (prio != VMRT_PRIO_HIGH && atomic_load_explicit(&s->global[VMRT_PRIO_HIGH].count, seq_cst))
        vmrt__preempt_request(v);
    set_running(v, t);
    vmrt_coro_resume(co);
    /* after hand-offs (vmrt__handoff_take) another coroutine came back */
    t = atomic_load_explicit(&v->current, relaxed);
    co = t->co;
    atomic_store_explicit(&v->current, NULL, relaxed);
    atomic_store_explicit(&v->running_prio, VMRT_PRIO_COUNT, relaxed);
    atomic_store_explicit(&v->in_run, 0, release);
    switch (vmrt_coro_state(co)) {
    case VMRT_CORO_READY:
        if (atomic_load_explicit(&t->flags, relaxed) & T_SUSPEND_REQ) {
            atomic_fetch_and_explicit(&t->flags, ~(uint32_t)T_SUSPEND_REQ, relaxed);
            suspend_now(t);
        } else if (v->preempted) {
            /* [SCHED-FAIR] a preempted coroutine goes to the global FIFO, so
             * CPU-bound coroutines take turns across all vCPUs (as in Go). */
            v->preempted = false;
            vmrt__sched_ready(s, t, NULL);
        } else {
            vmrt__sched_ready(s, t, v);
        }
        break;
    case VMRT_CORO_BLOCKED:
    case VMRT_CORO_SUSPENDED:
        commit_park(v, t);
        break;
    case VMRT_CORO_TERMINATED:
        vmrt__sched_finish(v, t);
        break;
    case VMRT_CORO_RUNNING:
    default:
        break;
    }
}

vcpu_t *vmrt__vcpu_alloc(struct vmrt_sched *s, unsigned id)
{
    vcpu_t *v = aligned_alloc(64, (sizeof *v + 63) & ~(size_t)63);
    if (!v)
        return NULL;
    memset(v, 0, sizeof *v);
    v->id = id;
    v->s = s;
    for (int p = 0; p < VMRT_PRIO_COUNT; p++) {
        if (vmrt__deque_init(&v->dq[p], s->cfg.ready_queue_size) != 0) {
            for (int q = 0; q < p; q++)
                vmrt__deque_fini(&v->dq[q]);
            free(v);
            return NULL;
        }
    }
    atomic_init(&v->timers.earliest, UINT64_MAX);
    atomic_init(&v->host_cpu, -1);
    atomic_init(&v->running_prio, VMRT_PRIO_COUNT);
    v->rng = 0x9e3779b97f4a7c15ull * (id + 1);
    v->spin_ns = SPIN_NS;
    v->started_ns = vmrt_now_ns();
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        v->last_run_ns[p] = v->started_ns; /* not starved at birth */
    return v;
}

int vmrt__vcpu_create(struct vmrt_sched *s, unsigned id)
{
    vcpu_t *v = s->vcpus[id];
    if (!v) {
        v = vmrt__vcpu_alloc(s, id);
        if (!v)
            return -ENOMEM;
        s->vcpus[id] = v;
    }
    atomic_store_explicit(&v->host_cpu, -1, relaxed);
    v->started_ns = vmrt_now_ns();
    return 0;
}
