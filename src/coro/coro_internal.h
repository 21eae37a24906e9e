/* The coroutine object and the per-thread coroutine state. Internal to vmrt:
 * shared by coro/, the pool and the scheduler (which owns the fields marked
 * "scheduler"). */
#ifndef VMRT_CORO_INTERNAL_H
#define VMRT_CORO_INTERNAL_H

#include <stdatomic.h>
#include <vmrt/coro.h>

#include "coro/stack.h"

#define VMRT_CORO_NAME_MAX 32

struct vmrt_pool;

struct vmrt_coro {
    void *sp;             /* saved stack pointer while not running */
    void *resumer_sp;     /* resumer's stack pointer while running */
    vmrt_coro_t *resumer; /* coroutine that resumed us (NULL: thread stack) */
    vmrt_coro_fn fn;      /* entry */
    void *arg;            /* entry argument */
    void *result;         /* entry's return value once terminated */
    _Atomic int state;    /* vmrt_coro_state_t */
    bool started;         /* has run at least once since (re)initialisation */
    vmrt__stack_t stack;
    uint64_t id; /* unique, never reused (also across pool reuse) */
    char name[VMRT_CORO_NAME_MAX];
    /* vmrt_prio_t; atomic: vmrt_coro_set_priority may run on any thread
     * while a scheduler reads it on others (relaxed: the value is all) */
    _Atomic int priority;
    uint64_t affinity; /* allowed vCPU mask, 0 = any */
    int bind_vcpu;     /* -1 or the vCPU it is bound to */
    unsigned flags;    /* VMRT_CORO_* */
    void *userdata;

    /* sanitizer bookkeeping */
    void *asan_fake_stack;        /* ASan fake stack of this coroutine while switched out */
    const void *resumer_stack_lo; /* ASan: bounds of the resumer's stack */
    size_t resumer_stack_size;
    bool asan_handed_off;     /* ASan: arrived by vmrt__coro_handoff, keep the resumer bounds */
    void *tsan_fiber;         /* TSan fiber of this coroutine */
    void *resumer_tsan_fiber; /* TSan fiber of the resumer */

    /* pool */
    struct vmrt_pool *pool;             /* owning pool, NULL if created directly */
    vmrt_coro_t *pool_prev, *pool_next; /* active list or idle stack */
    const char *site_file;              /* creation site (pool) */
    int site_line;
    uint64_t t_get_ns; /* when handed out */

    /* scheduler */
    void *sched;      /* owning scheduler, NULL if none */
    void *sched_data; /* the scheduler's per-coroutine record */
};

/* Where a coroutine's first frame starts: below the top of its stack
 * mapping by a "colour" of 0-63 cache lines (0-15 on stacks under 64 KiB, so
 * at most 1/16 of the stack) that changes from one coroutine to the next.
 * Stacks lie a multiple of the page size apart, so without it the top frames
 * of every coroutine sit at the same page offset and compete for the same
 * 1/64 of the L1 and L2 cache sets (the caches are indexed by address bits
 * 6-11 within a page): with 503 coroutines passing a token (thread-ring)
 * each pass missed the L2 about 7 times (cachegrind, 2 MiB 16-way L2); with
 * colours, under twice. The GC's stack scan uses the same top. */
static inline void *vmrt__coro_stack_top(const vmrt_coro_t *co)
{
    uint64_t colours = vmrt__stack_usable(&co->stack) >= 64 * 1024 ? 64 : 16;
    return (char *)vmrt__stack_hi(&co->stack) - (co->id & (colours - 1)) * 64;
}

/* (Re)initialises identity and entry of an existing coroutine object whose
 * stack is already mapped (used by create and by pool reuse). */
void vmrt__coro_init(vmrt_coro_t *co, const vmrt_coro_attr_t *attr, vmrt_coro_fn fn, void *arg);

/* Allocates the object and stack (no entry set). */
int vmrt__coro_alloc(vmrt_coro_t **out, size_t stack_size);

/* Sets the state and yields; used by blocking primitives (state BLOCKED or
 * SUSPENDED). */
void vmrt__coro_yield_as(vmrt_coro_state_t state);

/* Like vmrt__coro_yield_as(state), but switches straight to `to` instead of
 * to the resumer: `to` must be a started coroutine switched out by
 * vmrt__coro_yield_as or vmrt__coro_handoff (not by vmrt_coro_yield: its
 * saved frame is the one patched here). `to` takes over the current
 * coroutine's resumer, so when `to` later leaves, the resumer's
 * vmrt_coro_resume() returns (with `to`'s state, not the coroutine it
 * resumed: the caller of resume must find out which one came back). The
 * current coroutine's state becomes `state` once it is off its stack, as
 * with a yield [CORO-PARK]. Returns when the current coroutine is resumed. */
void vmrt__coro_handoff(vmrt_coro_t *to, vmrt_coro_state_t state);

/* Installs the stack-overflow reporter (SIGSEGV on an alternate stack) for the
 * calling thread; idempotent and cheap after the first call on a thread. */
void vmrt__coro_thread_init(void);

#endif
