/* vmrt — the M:N coroutine scheduler (the spec's CoroutineScheduler and
 * PriorityScheduler) and the vCPU <-> coroutine mapper (VCpuCoroutineMapper).
 *
 * N vCPU worker threads run many coroutines. Each vCPU has lock-free local
 * run queues (three priority levels); global queues take overflow and work
 * from plain threads; idle vCPUs steal half of a random victim's queue and
 * park on a futex. Priorities are strict with a starvation bound; a monitor
 * thread enforces time slices by asking the running coroutine to yield at its
 * next vmrt_safepoint() (and, for coroutines created with
 * VMRT_CORO_SIGNAL_PREEMPT, by a signal). Sleeping, waiting on fds, on sync
 * objects (sync.h) and on blocking calls park the coroutine, never the vCPU.
 *
 * Threads: unless noted, functions may be called from any thread or
 * coroutine. Functions that block (join, sleep, I/O, sync.h) park the calling
 * coroutine when called from a scheduled coroutine and block the thread
 * otherwise. See docs/scheduler.md.
 */
#ifndef VMRT_SCHED_H
#define VMRT_SCHED_H

#include <sys/types.h>
#include <vmrt/common.h>
#include <vmrt/coro.h>
#include <vmrt/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmrt_sched vmrt_sched_t;

#define VMRT_SCHED_MAX_VCPUS 64

/* The spec's SchedulerConfig (+ vCPU count). Fill with _init(), then change. */
typedef struct vmrt_sched_config {
    size_t size;               /* sizeof(vmrt_sched_config_t), set by _init */
    unsigned vcpus;            /* worker threads; 0 = none (drive with run_one only);
                                  _init sets vmrt_sched_default_vcpus() */
    size_t max_coroutines;     /* spawned coroutines alive at once; 0 = unbounded */
    size_t ready_queue_size;   /* per-vCPU local queue capacity per priority (power of 2,
                                  16..65536); overflow goes to the global queues */
    uint64_t time_slice_ns;    /* slice before a safepoint yields (100 us .. 10 s) */
    bool preemptive;           /* false: no time slices (coroutines run until they yield) */
    uint64_t starvation_ns;    /* a ready lower-priority coroutine waits at most about this
                                  long per vCPU while higher levels saturate it (default
                                  10 x time_slice; >= time_slice) */
    size_t stack_size;         /* stack of spawned coroutines (0 = VMRT_CORO_DEFAULT_STACK) */
    bool pin_vcpus;            /* pin vCPU i to the i-th allowed host CPU */
    uint64_t idle_spin_max_ns; /* an idle vCPU spins ~1 us before it parks; while its
                                  recent parks were short (woken within this bound) it
                                  spins up to this long instead, so a quick exchange
                                  with another vCPU skips the futex wake-up (default
                                  200 us, as KVM's halt polling; 0 = always ~1 us;
                                  at most 10 ms) */
} vmrt_sched_config_t;

VMRT_API void vmrt_sched_config_init(vmrt_sched_config_t *cfg);

/* CPUs this process may use: sched_getaffinity, capped by the cgroup CPU
 * quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, rounded up).
 * At least 1. */
VMRT_API unsigned vmrt_sched_default_vcpus(void);

/* Checks cfg as vmrt_sched_new does: 0, or -EINVAL with err (if non-NULL)
 * naming the field, its value and the valid range, e.g. "time_slice_ns: 5
 * is outside [100 us, 10 s]". */
VMRT_API int vmrt_sched_config_check(const vmrt_sched_config_t *cfg, char *err, size_t errlen);

/* Lifecycle. new validates cfg (NULL = defaults): -EINVAL with a bad field
 * (vmrt_sched_config_check says which).
 * start launches the vCPU threads and the monitor (VMRT_ESTATE if started). */
VMRT_API int vmrt_sched_new(vmrt_sched_t **out, const vmrt_sched_config_t *cfg);
VMRT_API int vmrt_sched_start(vmrt_sched_t *s);

typedef enum vmrt_sched_stop_mode {
    VMRT_SCHED_STOP_WAIT = 0, /* wait until every coroutine has terminated */
    VMRT_SCHED_STOP_CANCEL,   /* cancel every coroutine, then wait */
} vmrt_sched_stop_mode_t;

/* Stops the scheduler (from a plain thread, not a coroutine of s): waits
 * until no coroutine is alive (CANCEL first cancels them all), then joins
 * the threads. timeout_ns 0 = no limit; VMRT_ETIMEOUT if coroutines are still
 * alive then (the scheduler keeps running). */
VMRT_API int vmrt_sched_stop(vmrt_sched_t *s, vmrt_sched_stop_mode_t mode, uint64_t timeout_ns);

/* Stops (cancel mode, 1 s) if needed and frees everything, including
 * coroutines that never finished. NULL is a no-op. */
VMRT_API void vmrt_sched_destroy(vmrt_sched_t *s);

/* The spec's schedule(): makes a coroutine created with vmrt_coro_create()
 * (state READY, not scheduled yet) runnable on s. The caller keeps
 * ownership: destroy it only after vmrt_sched_join() returned (or after
 * vmrt_sched_destroy). Errors: -EINVAL, VMRT_ESTATE. */
VMRT_API int vmrt_sched_submit(vmrt_sched_t *s, vmrt_coro_t *co);

/* Spawns fn(arg) on a pooled coroutine (attr may be NULL; its stack_size is
 * ignored). With out non-NULL the coroutine is joinable: call
 * vmrt_sched_join() or vmrt_sched_detach() exactly once. With out NULL it is
 * detached (recycled when it ends). Errors: -EINVAL, -ENOMEM, VMRT_ELIMIT
 * (max_coroutines), VMRT_ESTATE (stopping). */
VMRT_API int vmrt_sched_spawn(vmrt_sched_t *s, vmrt_coro_t **out, const vmrt_coro_attr_t *attr,
                              vmrt_coro_fn fn, void *arg);

/* Waits until co terminated and stores its result (may be NULL). A spawned
 * coroutine is recycled by join. A plain thread joining on a scheduler
 * without vCPU threads runs run_one itself meanwhile. Returns 0,
 * VMRT_ECANCELED (cancelled before it started, or the joining coroutine was
 * cancelled), -EINVAL. */
VMRT_API int vmrt_sched_join(vmrt_coro_t *co, void **result);

/* Gives up the right to join a spawned coroutine. */
VMRT_API int vmrt_sched_detach(vmrt_coro_t *co);

/* Drives one scheduling step from the caller's thread (not from a coroutine):
 * runs one ready coroutine until it yields, blocks or ends. Returns 1 if one
 * ran, 0 if none was ready, or an error. Works with vcpus = 0 (the embedder's
 * loop is the only vCPU) and alongside vCPU threads. */
VMRT_API int vmrt_sched_run_one(vmrt_sched_t *s);

/* Cooperative operations from inside a scheduled coroutine (no-ops or plain
 * thread equivalents elsewhere). */
VMRT_API void vmrt_yield(void);
/* Sleeps ns; returns 0 or VMRT_ECANCELED. */
VMRT_API int vmrt_sleep_ns(uint64_t ns);
/* Runs fn(arg) on an offload thread (fn may block in system calls) while the
 * calling coroutine is parked; returns fn's result. On a plain thread, calls
 * fn directly. */
VMRT_API void *vmrt_blocking(void *(*fn)(void *), void *arg);

/* Suspends co (the Suspended state): the caller itself at once, another
 * coroutine when it next yields or is scheduled. vmrt_sched_resume makes a
 * suspended coroutine ready again (VMRT_ESTATE if it is not suspended). */
VMRT_API int vmrt_sched_suspend(vmrt_coro_t *co);
VMRT_API int vmrt_sched_resume(vmrt_coro_t *co);

/* Requests cancellation: a coroutine that has not started never runs; one
 * that is blocked (sleep, I/O, sync.h) wakes with VMRT_ECANCELED, as does
 * every later blocking call it makes. C cannot unwind: the coroutine must
 * return on its own. */
VMRT_API int vmrt_sched_cancel(vmrt_coro_t *co);
/* True if the calling coroutine was cancelled. */
VMRT_API bool vmrt_sched_cancelled(void);

/* The scheduler the caller runs on (NULL on a plain thread). */
VMRT_API vmrt_sched_t *vmrt_sched_current(void);

/* ---- safepoints and preemption ------------------------------------------- */

/* Nonzero while some vCPU has a pending preemption request or the world is
 * being stopped. Written by the scheduler only. */
extern VMRT_API volatile uint32_t vmrt_safepoint_flag;
VMRT_API void vmrt_safepoint_slow(void);

/* Polls for preemption: one load and one branch on the fast path. Call it on
 * loop back-edges and calls of long-running code; it yields when the time
 * slice is spent, a higher-priority coroutine waits, or the world stops. */
static inline void vmrt_safepoint(void)
{
    /* a relaxed atomic load: a plain mov on x86-64 and aarch64 */
    if (__builtin_expect(__atomic_load_n(&vmrt_safepoint_flag, __ATOMIC_RELAXED) != 0, 0))
        vmrt_safepoint_slow();
}

/* ---- timers and I/O (netpoll) -------------------------------------------- */

/* Coroutine-aware I/O on any fd (made O_NONBLOCK on first use): the
 * coroutine parks until the fd is ready, the vCPU runs others; on a plain
 * thread they block in poll(2). timeout_ns: 0 = no limit. read returns the
 * bytes read (0 at EOF), write writes all n bytes (returns n, or the bytes
 * written before an error), accept the new fd (non-blocking, close-on-exec),
 * connect and wait 0; or -errno, VMRT_ETIMEOUT, VMRT_ECANCELED. One reader
 * and one writer may wait on an fd at a time (-EBUSY). Close fds used here
 * with vmrt_io_close(), which also wakes their waiters with -EBADF. */
VMRT_API ssize_t vmrt_io_read(int fd, void *buf, size_t n, uint64_t timeout_ns);
VMRT_API ssize_t vmrt_io_write(int fd, const void *buf, size_t n, uint64_t timeout_ns);
VMRT_API int vmrt_io_accept(int fd, uint64_t timeout_ns);
/* Connects socket fd to addr (struct sockaddr *) of addrlen bytes. */
VMRT_API int vmrt_io_connect(int fd, const void *addr, unsigned addrlen, uint64_t timeout_ns);
/* Waits until fd is readable (events 1), writable (2) or either (3). */
VMRT_API int vmrt_io_wait(int fd, int events, uint64_t timeout_ns);
VMRT_API int vmrt_io_close(int fd);

/* ---- the spec's SchedulerStats ------------------------------------------- */

typedef struct vmrt_vcpu_stats {
    uint64_t context_switches;  /* coroutines resumed */
    uint64_t steals;            /* coroutines stolen from other vCPUs */
    uint64_t preempt_coop;      /* yields at safepoints on request */
    uint64_t preempt_signal;    /* preemptions by signal */
    uint64_t parks, wakeups;    /* vCPU thread parked on its futex / woken */
    uint64_t migrations;        /* coroutines moved here by migrate/rebalance */
    uint64_t spawned, finished; /* spawns made by coroutines on this vCPU (spawns from other
                                   threads count only in total_coroutines); coroutines
                                   that ended here */
    uint64_t queue_depth;       /* ready coroutines queued on this vCPU now */
    double cpu_utilization;     /* 0..1: time not parked since start */
    double load;                /* load EWMA (running + queued) */
} vmrt_vcpu_stats_t;

typedef struct vmrt_sched_stats {
    uint64_t total_coroutines;  /* ever scheduled */
    uint64_t active_coroutines; /* alive now (ready, running, blocked, suspended) */
    uint64_t context_switches;
    double cpu_utilization; /* mean over vCPUs, 0..1 */
    uint64_t steals, preempt_coop, preempt_signal, migrations, parks, wakeups;
    uint64_t queue_depth;        /* local + global ready queues */
    uint64_t global_queue_depth; /* of which in the global queues */
    uint64_t latency_samples;    /* ready -> running latency (sampled) */
    uint64_t latency_p50_ns, latency_p99_ns, latency_max_ns;
    unsigned vcpus; /* online vCPUs */
} vmrt_sched_stats_t;

/* Statistics of the scheduler's coroutine pool (spawned coroutines). */
VMRT_API int vmrt_sched_pool_stats(vmrt_sched_t *s, vmrt_pool_stats_t *out);

/* Aggregates the per-vCPU counters (no lock on the scheduler's paths). */
VMRT_API int vmrt_sched_stats(vmrt_sched_t *s, vmrt_sched_stats_t *out);
VMRT_API int vmrt_vcpu_stats(vmrt_sched_t *s, unsigned vcpu, vmrt_vcpu_stats_t *out);

/* ---- the VCpuCoroutineMapper --------------------------------------------- */

VMRT_API unsigned vmrt_vcpu_count(vmrt_sched_t *s); /* online vCPUs */
/* Adds a vCPU at run time; returns its id (>= 0) or VMRT_ELIMIT / -errno. */
VMRT_API int vmrt_vcpu_add(vmrt_sched_t *s);
/* Removes a vCPU: its queued coroutines move to other vCPUs; coroutines
 * bound to it become unbound. Not vCPU 0 and not the last one (-EINVAL). */
VMRT_API int vmrt_vcpu_remove(vmrt_sched_t *s, unsigned vcpu);
/* Pins a vCPU thread to a host CPU (-1: allowed CPUs again). */
VMRT_API int vmrt_vcpu_pin(vmrt_sched_t *s, unsigned vcpu, int host_cpu);
/* The vCPU the caller runs on, or -1. */
VMRT_API int vmrt_vcpu_current(void);

/* Binds co to a vCPU (-1 unbinds): it then runs only there and is never
 * stolen. Takes effect at co's next scheduling (at once for the caller). */
VMRT_API int vmrt_coro_bind(vmrt_coro_t *co, int vcpu);
/* Allowed vCPUs (bit i = vCPU i; 0 = any). Same timing as bind. */
VMRT_API int vmrt_coro_set_affinity(vmrt_coro_t *co, uint64_t mask);
/* Moves co to vCPU once (it may be stolen later unless bound/affine). The
 * caller itself moves at once. */
VMRT_API int vmrt_coro_migrate(vmrt_coro_t *co, unsigned vcpu);
/* vCPU co runs on or last ran on (-1 never ran). */
VMRT_API int vmrt_coro_vcpu(const vmrt_coro_t *co);

/* One row of the vCPU -> coroutine table. */
typedef struct vmrt_vcpu_info {
    unsigned id;
    bool online;
    int host_cpu;          /* pinned host CPU or -1 */
    uint64_t running_coro; /* id of the coroutine running now, 0 = none */
    uint64_t queued;       /* ready coroutines queued here */
    double load;           /* load EWMA */
} vmrt_vcpu_info_t;

/* One row of the coroutine -> vCPU table (and the affinity map). */
typedef struct vmrt_coro_info {
    uint64_t id;
    const char *name; /* valid while the coroutine lives */
    vmrt_coro_state_t state;
    vmrt_prio_t priority;
    int vcpu;          /* current / last vCPU, -1 never ran */
    int bind_vcpu;     /* -1 unbound */
    uint64_t affinity; /* 0 = any */
} vmrt_coro_info_t;

/* Fill up to max rows; return the total count (may exceed max). */
VMRT_API size_t vmrt_vcpu_table(vmrt_sched_t *s, vmrt_vcpu_info_t *out, size_t max);
VMRT_API size_t vmrt_coro_table(vmrt_sched_t *s, vmrt_coro_info_t *out, size_t max);

/* ---- hooks for the garbage collector ------------------------------------- */

/* Stops the world: returns once every vCPU has stopped at a safepoint or a
 * scheduling point (coroutines that never poll delay it; those with
 * VMRT_CORO_SIGNAL_PREEMPT are interrupted). Callable from a plain thread
 * or a coroutine of s (its own vCPU counts as stopped). Nests: one at a time. */
VMRT_API int vmrt_sched_stop_world(vmrt_sched_t *s);
VMRT_API int vmrt_sched_start_world(vmrt_sched_t *s);

/* For code on a vCPU that must wait while another thread has the world
 * stopped but cannot yield (it holds per-thread state, e.g. a GC mutator):
 * stops the calling vCPU in place — counted as stopped, its coroutine's stack
 * published up to this frame with registers spilled — until the world is
 * started again. Returns at once when no stop is in progress or when called
 * off a vCPU. */
VMRT_API void vmrt_sched_stw_wait(void);

/* Calls cb for every started, not terminated coroutine of s, with its stack
 * bounds [lo, hi) and the saved stack pointer (live data lies in [sp, hi)).
 * For the calling coroutine sp is the caller's current frame. Call it with
 * the world stopped. Returns the number of coroutines visited. */
typedef void (*vmrt_stack_visit_fn)(vmrt_coro_t *co, const void *lo, const void *hi, const void *sp,
                                    void *arg);
VMRT_API size_t vmrt_sched_for_each_stack(vmrt_sched_t *s, vmrt_stack_visit_fn cb, void *arg);

#ifdef __cplusplus
}
#endif
#endif
