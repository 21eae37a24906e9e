/* Scheduler internals shared by the files of src/sched. See sched.c for the
 * design overview and the invariants (tags [SCHED-*]). */
#ifndef VMRT_SCHED_INTERNAL_H
#define VMRT_SCHED_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <vmrt/pool.h>
#include <vmrt/sched.h>
#include <vmrt/sync.h>

#include "coro/coro_internal.h"

#if defined(__x86_64__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ volatile("yield" ::: "memory")
#else
#define cpu_relax() ((void)0)
#endif

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire
#define release memory_order_release
#define seq_cst memory_order_seq_cst

/* Signal preemption is built for x86-64 and AArch64, also under ASan, but
 * not under TSan (preempt.c says why). */
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(__SANITIZE_THREAD__)
#define VMRT_SIGNAL_PREEMPT 1
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#undef VMRT_SIGNAL_PREEMPT
#endif
#endif
#endif

#ifdef VMRT_SIGNAL_PREEMPT
/* >0 while this thread is inside a region of vmrt that a signal must not
 * interrupt (never held across a yield, so the TLS address is stable). */
extern _Thread_local int vmrt__nopreempt __attribute__((tls_model("initial-exec")));
#define NOPREEMPT_BEGIN() (vmrt__nopreempt++)
#define NOPREEMPT_END()   (vmrt__nopreempt--)
#else
#define NOPREEMPT_BEGIN() ((void)0)
#define NOPREEMPT_END()   ((void)0)
#endif

/* ---- small spinlock ------------------------------------------------------ */

typedef struct spin {
    _Atomic uint32_t v;
} spin_t;

void vmrt__spin_lock_slow(spin_t *l);
static inline void spin_lock(spin_t *l)
{
    NOPREEMPT_BEGIN();
    if (__builtin_expect(atomic_exchange_explicit(&l->v, 1, acquire) == 0, 1))
        return;
    vmrt__spin_lock_slow(l);
}
static inline void spin_unlock(spin_t *l)
{
    atomic_store_explicit(&l->v, 0, release);
    NOPREEMPT_END();
}

/* A scheduling point after a channel operation woke someone: when that made
 * a High coroutine ready and asked this vCPU (running lower-priority work) to
 * yield to it (vmrt__preempt_for_high), yield now instead of at the next
 * safepoint, so the High coroutine runs on this cache-warm vCPU at once.
 * Only operations that may block anyway are such points (channels). */
static inline void yield_point(void)
{
    vmrt_safepoint();
}

/* ---- futex --------------------------------------------------------------- */

/* Waits while *word == expect, at most timeout_ns (0 = forever). */
void vmrt__futex_wait(_Atomic uint32_t *word, uint32_t expect, uint64_t timeout_ns);
void vmrt__futex_wake(_Atomic uint32_t *word, int n);

/* ---- waiting [SCHED-PARK] ------------------------------------------------ */

/* State of one blocking operation (struct wait, on the blocker's stack).
 * A waker must *claim* the wait before writing its result; exactly one
 * claim succeeds. Because the blocker may still be switching out when the
 * waker comes (the [CORO-PARK] window), the vCPU loop and the waker agree
 * through this state which of them makes the coroutine runnable:
 *
 *   WAITING --waker--> CLAIMED --waker--> WOKEN --loop--> (enqueued by loop)
 *      |                  `--loop--> CLAIMED_PARKED --waker--> (enqueued by waker)
 *      `--loop--> PARKED --waker--> CLAIMED_PARKED --waker--> (enqueued by waker)
 */
enum {
    W_IDLE = 0,
    W_WAITING,
    W_PARKED,
    W_CLAIMED,
    W_CLAIMED_PARKED,
    W_WOKEN,
};

struct vcpu;
struct task;

typedef struct wait {
    _Atomic uint32_t state; /* W_* */
    struct task *task;      /* blocked coroutine, NULL: a plain thread (futex on state) */
    int result;             /* set by the claiming waker */
    int index;              /* select: the case that fired */
    uint64_t deadline;      /* absolute CLOCK_MONOTONIC ns, 0 = none */
    int timer_idx;          /* position in a vCPU timer heap, -1 = none */
    struct vcpu *timer_vcpu;
    bool suspend; /* this wait is a suspension (vmrt_sched_resume may claim it) */
} wait_t;

void vmrt__wait_init(wait_t *w);
/* Claims w for a waker; false if someone else claimed it first. */
bool vmrt__wait_claim(wait_t *w);
/* After a successful claim and writing w->result: makes the waiter run. */
void vmrt__wait_finish(wait_t *w);
/* claim + result + finish. */
bool vmrt__wake(wait_t *w, int result);
/* Blocks the caller (coroutine or thread) on w until woken, the deadline or
 * cancellation; returns w->result. w must be WAITING (set by wait_init and
 * registered wherever wakers find it). */
int vmrt__park(wait_t *w, uint64_t deadline);
/* Absolute deadline from a relative timeout (0 = none). */
uint64_t vmrt__deadline(uint64_t timeout_ns);

/* A wait-queue node; a select registers one per case, all sharing one wait. */
typedef struct waiter {
    struct waiter *next, *prev;
    wait_t *w;
    void *elem; /* channel: value to send / where to receive */
    int index;  /* select case */
    bool linked;
} waiter_t;

typedef struct waitq {
    waiter_t *head, *tail;
} waitq_t;

void vmrt__waitq_push(waitq_t *q, waiter_t *n);
void vmrt__waitq_unlink(waitq_t *q, waiter_t *n);
/* Pops nodes until one whose wait it can claim; NULL if none. */
waiter_t *vmrt__waitq_claim(waitq_t *q);

/* ---- per-coroutine record ------------------------------------------------ */

enum {
    T_CANCEL = 1u << 0,      /* cancellation requested */
    T_SUSPEND_REQ = 1u << 1, /* suspend at the next scheduling point */
    T_POOLED = 1u << 2,      /* spawned on the scheduler's pool */
    T_LIVE = 1u << 3,        /* scheduled and not yet terminated */
};

#define JOIN_DONE   ((wait_t *)(uintptr_t)1)
#define JOIN_DETACH ((wait_t *)(uintptr_t)2)

typedef struct task {
    vmrt_coro_t *co;
    struct vmrt_sched *s;
    struct task *next;                /* link in global queues / inboxes */
    struct task *reg_next, *reg_prev; /* registry (all tasks of s) */
    _Atomic uint32_t flags;           /* T_* */
    _Atomic(wait_t *) joiner;         /* NULL, a joiner's wait, JOIN_DONE, JOIN_DETACH */
    _Atomic(wait_t *) wait;           /* current wait (for cancel) */
    spin_t wait_lock;                 /* guards wait against a cancelling thread */
    wait_t susp;                      /* the wait used while suspended */
    _Atomic int vcpu;                 /* vCPU it runs on / last ran on, -1 */
    _Atomic int migrate_to;           /* one-shot target vCPU, -1 */
    uint64_t ready_ns;                /* sampled: when it became ready, 0 = not sampled */
    bool in_park;  /* switched out inside vmrt__park (a hand-off may resume it) */
    int start_err; /* VMRT_ECANCELED if cancelled before starting */
} task_t;

static inline task_t *task_of(const vmrt_coro_t *co)
{
    return (task_t *)co->sched_data;
}

/* ---- run queues (runq.c) --------------------------------------------------- */

/* Chase-Lev deque: the owner pushes and pops at the bottom (newest first),
 * thieves (and the owner, for round-robin) take from the top (oldest). */
typedef struct deque {
    _Atomic int64_t top;
    char pad0[56];
    _Atomic int64_t bottom;
    char pad1[56];
    _Atomic(task_t *) *buf;
    int64_t mask;
} deque_t;

int vmrt__deque_init(deque_t *d, size_t cap);
void vmrt__deque_fini(deque_t *d);
bool vmrt__deque_push(deque_t *d, task_t *t); /* owner; false if full */
task_t *vmrt__deque_pop(deque_t *d);          /* owner, newest */
/* Anyone: oldest; *retry set when a race was lost. */
task_t *vmrt__deque_steal(deque_t *d, bool *retry);
/* Owner only: the oldest (round-robin after a yield). */
task_t *vmrt__deque_take_oldest(deque_t *d);
/* Racy size (exact for the owner's own pushes/pops); inline: every pick asks. */
static inline int64_t vmrt__deque_size(deque_t *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, relaxed);
    int64_t top = atomic_load_explicit(&d->top, relaxed);
    return b > top ? b - top : 0;
}

/* A locked FIFO (global queues, per-vCPU inboxes). */
typedef struct fifo {
    spin_t lock;
    task_t *head, *tail;
    _Atomic uint64_t count;
} fifo_t;

void vmrt__fifo_push(fifo_t *q, task_t *t);
task_t *vmrt__fifo_pop(fifo_t *q);
static inline uint64_t fifo_count(fifo_t *q)
{
    return atomic_load_explicit(&q->count, relaxed);
}

/* ---- timers (timer.c) ---------------------------------------------------- */

typedef struct timer_heap {
    spin_t lock;
    wait_t **items;
    size_t n, cap;
    _Atomic uint64_t earliest; /* deadline of the top, UINT64_MAX if empty */
} timer_heap_t;

int vmrt__timer_add(struct vcpu *v, wait_t *w);
void vmrt__timer_remove(wait_t *w);
/* Fires expired timers of v; returns how many. */
unsigned vmrt__timer_run(struct vcpu *v, uint64_t now);
void vmrt__timer_fini(timer_heap_t *h);
/* Moves every timer of from to to (vCPU removal). */
void vmrt__timer_move(struct vcpu *from, struct vcpu *to);

/* ---- vCPUs (vcpu.c) ------------------------------------------------------ */

enum { V_OFFLINE = 0, V_ONLINE, V_RETIRING };

#define VCPU_CACHE  256
#define LAT_BUCKETS 160

typedef struct vcpu_counters {
    _Atomic uint64_t switches, steals, preempt_coop, preempt_signal, parks, wakeups, migrations,
        spawned, finished, idle_ns;
} vcpu_counters_t;

#ifndef SPIN_NS
#define SPIN_NS 1000 /* shortest idle spin before a vCPU parks [SCHED-IDLE] */
#endif
/* The next idle spin window after a park of parked_ns that ended by a
 * wake-up (woken) or a timer/spuriously: grows to cover short parks (at most
 * max), halves back towards SPIN_NS otherwise. */
uint64_t vmrt__spin_next(uint64_t cur, uint64_t parked_ns, bool woken, uint64_t max);

typedef struct vcpu {
    unsigned id;
    struct vmrt_sched *s;
    pthread_t thread;
    _Atomic bool has_thread; /* read by the monitor and statistics readers */
    bool is_embed;           /* run_one's pseudo-vCPU */
    _Atomic int online;      /* V_* */
    deque_t dq[VMRT_PRIO_COUNT];
    fifo_t inbox[VMRT_PRIO_COUNT]; /* bound/affine/migrated coroutines, never stolen */
    timer_heap_t timers;
    _Atomic(task_t *) current;  /* running task or NULL */
    _Atomic uint32_t in_run;    /* 1 while resuming a coroutine [SCHED-STW] */
    _Atomic uint32_t park_word; /* futex: 0 parked, 1 woken */
    _Atomic uint32_t preempt_req;
    _Atomic uint32_t stw_stopped;
    _Atomic uint64_t run_seq; /* ++ at every resume (monitor: slice accounting) */
    _Atomic int running_prio;
    _Atomic int host_cpu;
    _Atomic uint64_t load_milli; /* load EWMA x 1000 */
    uint64_t monitor_seq;        /* monitor-private */
    unsigned monitor_ticks;
    uint64_t monitor_busy_ns;
    uint64_t last_run_ns[VMRT_PRIO_COUNT]; /* coarse time a level last ran (anti-starvation) */
    uint32_t pick_count;
    bool take_oldest;                 /* round-robin: next pick takes the oldest [SCHED-FAIR] */
    bool preempted;                   /* the coroutine just resumed was preempted */
    struct task *handoff_from;        /* parked by a hand-off: its park is committed by the next */
    bool handoff_yield;               /* handoff_from yielded (READY), not parked */
    _Atomic uint32_t fair_req;        /* bit p: the oldest of deque p waited a slice (monitor) */
    int64_t mon_top[VMRT_PRIO_COUNT]; /* monitor-private: deque tops last tick */
    unsigned mon_top_ticks[VMRT_PRIO_COUNT];
    uint64_t steal_seen[VMRT_SCHED_MAX_VCPUS + 1]; /* victims' run_seq when spinning began */
    uint64_t rng;
    uint64_t spin_ns; /* current idle spin window (owner thread only) [SCHED-IDLE] */
    uint64_t started_ns;
    vmrt_coro_t *cache[VCPU_CACHE]; /* terminated pooled coroutines kept for reuse */
    unsigned ncache;
    vcpu_counters_t c;
    /* ready -> running latency of the sampled coroutines this vCPU started
     * (owner-written like c; summed by vmrt_sched_stats) */
    _Atomic uint64_t lat_hist[LAT_BUCKETS];
    _Atomic uint64_t lat_max;
    char pad[64];
} vcpu_t;

/* The vCPU the calling thread drives, NULL if none (migration-safe). */
vcpu_t *vmrt__vcpu_self(void);
void vmrt__vcpu_set_self(vcpu_t *v);
int vmrt__vcpu_create(struct vmrt_sched *s, unsigned id);
vcpu_t *vmrt__vcpu_alloc(struct vmrt_sched *s, unsigned id);
int vmrt__vcpu_start(struct vmrt_sched *s, vcpu_t *v);
uint64_t vmrt__live_count(struct vmrt_sched *s, uint64_t *total);
void *vmrt__vcpu_main(void *arg);
/* Runs one task on v (the caller is v's thread). */
void vmrt__vcpu_run(vcpu_t *v, task_t *t);
/* Finds a ready task for v without blocking. */
task_t *vmrt__vcpu_pick(vcpu_t *v);
/* Direct hand-off (vcpu.c): the ready coroutine that the running one, about
 * to block, may switch to without the vCPU loop, or NULL; see the rules
 * there. On success the bookkeeping of a resume is done and the caller must
 * switch (vmrt__coro_handoff) at once. */
task_t *vmrt__handoff_take(vcpu_t *v, task_t *cur);
/* The same for the lone coroutine of the global High queue, which v was asked
 * to yield for (from vmrt__handoff_take and from a safepoint). */
task_t *vmrt__handoff_take_high(vcpu_t *v, task_t *cur);
/* Run by the coroutine that just arrived on v: commits the park of the one
 * that handed off to it, if any. */
void vmrt__handoff_arrived(void);
/* Wakes v if it is parked. */
void vmrt__vcpu_kick(vcpu_t *v);
/* Wakes one parked vCPU if there is one and nobody spins. */
void vmrt__wake_idle(struct vmrt_sched *s);

/* ---- the scheduler ------------------------------------------------------- */

enum { S_NEW = 0, S_RUNNING, S_STOPPING, S_STOPPED };

#define REG_SHARDS 16

struct vmrt_sched {
    vmrt_sched_config_t cfg;
    _Atomic int state; /* S_* */
    vcpu_t *vcpus[VMRT_SCHED_MAX_VCPUS];
    _Atomic unsigned nslots;      /* vcpus[0..nslots) allocated */
    _Atomic uint64_t online_mask; /* bit i: vCPU i online */
    _Atomic uint64_t idle_mask;   /* bit i: vCPU i parked */
    _Atomic int nspinning;
    vcpu_t *embed; /* run_one's pseudo-vCPU */
    pthread_mutex_t embed_lock;
    pthread_mutex_t mapper_lock; /* vCPU add/remove */
    fifo_t global[VMRT_PRIO_COUNT];
    vmrt_pool_t *pool;
    _Atomic uint64_t coarse_now; /* refreshed by the monitor and vCPUs */
    /* registry of every task (GC enumeration, tables, cancel-all) */
    struct {
        spin_t lock;
        task_t *head;
    } reg[REG_SHARDS];
    _Atomic uint64_t submitted; /* user-submitted coroutines (counted apart from vCPU counters) */
    _Atomic uint64_t submitted_done;
    /* monitor */
    pthread_t monitor;
    bool has_monitor;
    _Atomic uint32_t monitor_word; /* futex; 1 = stop */
    _Atomic uint32_t monitor_idle; /* monitor in its long sleep: wake it on unpark */
    uint64_t monitor_tick_ns;
    /* stop the world */
    pthread_mutex_t stw_lock;
    _Atomic uint32_t stw;      /* nonzero while stopped or stopping */
    _Atomic uint32_t stw_word; /* futex for stopped vCPUs */
    /* netpoll */
    struct netpoll *np;
    pthread_mutex_t np_lock;
    /* offload */
    struct offload *off;
    pthread_mutex_t off_lock;
    uint64_t start_ns;
};

/* Makes t runnable; from is the calling vCPU (NULL on a plain thread). */
void vmrt__sched_ready(struct vmrt_sched *s, task_t *t, vcpu_t *from);
/* Called by the vCPU loop when t terminated. */
void vmrt__sched_finish(vcpu_t *v, task_t *t);
void vmrt__reg_add(struct vmrt_sched *s, task_t *t);
void vmrt__reg_remove(struct vmrt_sched *s, task_t *t);
uint64_t vmrt__coarse_now(struct vmrt_sched *s);
/* Owner of v only (per-vCPU histogram: no shared line on the switch path). */
void vmrt__record_latency(vcpu_t *v, uint64_t ns);

/* steal.c */
task_t *vmrt__steal(vcpu_t *v, int prio, bool take_single);
/* Records every victim's run_seq (see the lone hand-off rule in steal.c). */
void vmrt__steal_observe(vcpu_t *v);
/* True if any queue of s could hold work for v. */
bool vmrt__work_visible(vcpu_t *v);

/* monitor.c */
int vmrt__monitor_start(struct vmrt_sched *s);
void vmrt__monitor_stop(struct vmrt_sched *s);

/* preempt.c */
void vmrt__preempt_request(vcpu_t *v);
void vmrt__preempt_clear(vcpu_t *v);
/* A High coroutine became ready: preempt the vCPU running the lowest level. */
void vmrt__preempt_for_high(struct vmrt_sched *s, vcpu_t *from);
int vmrt__signal_preempt_init(void);
void vmrt__signal_preempt(vcpu_t *v);
/* World stop handling by a vCPU loop. */
void vmrt__stw_check(vcpu_t *v);

/* netpoll.c / offload.c */
void vmrt__netpoll_fini(struct vmrt_sched *s);
void vmrt__offload_fini(struct vmrt_sched *s);

/* mapper.c */
/* The vCPU a coroutine must go to (bound/affine/migrating), or NULL. */
vcpu_t *vmrt__route(struct vmrt_sched *s, task_t *t, vcpu_t *from);

#endif
