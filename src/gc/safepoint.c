/* Stopping the world: the default safepoint protocol, or the scheduler's
 * hooks when it registered them.
 *
 * Default protocol (under gc->mu): the initiator sets gc->stw and every
 * other mutator's poll word, then waits until each of them is PARKED (it
 * called vmrt_gc_safepoint and sleeps on cv_resume) or BLOCKED (it
 * declared it will not touch the heap). Resuming clears the poll words,
 * bumps stw_seq and broadcasts. Two initiators never deadlock: one that
 * finds a pause already requested parks like any mutator and retries.
 *
 * Before sleeping, a mutator saves its registers (setjmp) and its frame
 * address so that conservative scanning sees every reference it holds:
 * [frame, stack top) holds the callers' frames and, at the frame address,
 * the caller's frame pointer (which setjmp stores mangled); the other
 * callee-saved registers are plain in the jmp_buf.
 */
#include <pthread.h>
#include <sched.h>

#include "gc_internal.h"

/* Parks m until the current pause ends. gc->mu held. */
static void park_locked(struct vmrt_gc *gc, vmrt_gc_mutator_t *m)
{
    uint64_t seq = gc->stw_seq;
    if (m) {
        m->state = GC_MUT_PARKED;
        gc->nstopped++;
        pthread_cond_broadcast(&gc->cv_parked);
    }
    while (gc->stw_seq == seq)
        pthread_cond_wait(&gc->cv_resume, &gc->mu);
    /* resume_world set m RUNNING: if another pause began meanwhile, it
     * counts m as running and waits for it to park again. */
}

__attribute__((noinline)) void vmrt_gc_safepoint_slow(vmrt_gc_mutator_t *m)
{
    struct vmrt_gc *gc = m->gc;
    if (gc->cfg.hooks.stop_world) {
        /* The scheduler stops the world: a GC-side park would hide this
         * thread from it (deadlock). Let it stop us instead. */
        if (gc->cfg.hooks.safepoint)
            gc->cfg.hooks.safepoint(gc->cfg.hooks.ctx);
        return;
    }
    setjmp(m->regs);
    m->sp = (uintptr_t)__builtin_frame_address(0);
    pthread_mutex_lock(&gc->mu);
    while (gc->stw && m->state == GC_MUT_RUNNING)
        park_locked(gc, m);
    pthread_mutex_unlock(&gc->mu);
}

void vmrt_gc_thread_block(vmrt_gc_mutator_t *m)
{
    struct vmrt_gc *gc = m->gc;
    setjmp(m->regs);
    m->sp = (uintptr_t)__builtin_frame_address(0);
    pthread_mutex_lock(&gc->mu);
    m->state = GC_MUT_BLOCKED;
    if (gc->stw) {
        gc->nstopped++;
        pthread_cond_broadcast(&gc->cv_parked);
    }
    pthread_mutex_unlock(&gc->mu);
}

/* Waits until no pause is in progress. gc->mu held (released meanwhile).
 * With scheduler hooks the wait happens where the scheduler can stop this
 * thread (its safepoint hook), never on a GC condition variable. */
void vmrt__gc_wait_pause_end_locked(struct vmrt_gc *gc)
{
    while (gc->stw) {
        if (gc->cfg.hooks.stop_world) {
            pthread_mutex_unlock(&gc->mu);
            if (gc->cfg.hooks.safepoint)
                gc->cfg.hooks.safepoint(gc->cfg.hooks.ctx);
            sched_yield();
            pthread_mutex_lock(&gc->mu);
        } else {
            pthread_cond_wait(&gc->cv_resume, &gc->mu);
        }
    }
}

void vmrt_gc_thread_unblock(vmrt_gc_mutator_t *m)
{
    struct vmrt_gc *gc = m->gc;
    pthread_mutex_lock(&gc->mu);
    vmrt__gc_wait_pause_end_locked(gc);
    m->state = GC_MUT_RUNNING;
    pthread_mutex_unlock(&gc->mu);
}

static unsigned count_stopped(struct vmrt_gc *gc, vmrt_gc_mutator_t *self)
{
    unsigned n = 0;
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next)
        if (m != self && m->state != GC_MUT_RUNNING)
            n++;
    return n;
}

/* Stops every mutator but self (which may be NULL: a thread that is no
 * mutator). Returns 0 when the world is stopped. */
int vmrt__gc_stop_world(struct vmrt_gc *gc, vmrt_gc_mutator_t *self)
{
    if (self) {
        setjmp(self->regs);
        self->sp = (uintptr_t)__builtin_frame_address(0);
    }
    pthread_mutex_lock(&gc->mu);
    while (gc->stw) {
        if (gc->cfg.hooks.stop_world) {
            /* Another thread's pause, run by the scheduler: let it stop us
             * there rather than park where it cannot see us. */
            pthread_mutex_unlock(&gc->mu);
            if (gc->cfg.hooks.safepoint)
                gc->cfg.hooks.safepoint(gc->cfg.hooks.ctx);
            else
                sched_yield();
            pthread_mutex_lock(&gc->mu);
            continue;
        }
        park_locked(gc, self);
    }
    gc->stw = true;
    if (gc->cfg.hooks.stop_world) {
        pthread_mutex_unlock(&gc->mu);
        int rc = gc->cfg.hooks.stop_world(gc->cfg.hooks.ctx);
        if (rc) {
            pthread_mutex_lock(&gc->mu);
            gc->stw = false;
            gc->stw_seq++;
            pthread_cond_broadcast(&gc->cv_resume);
            pthread_mutex_unlock(&gc->mu);
        }
        return rc;
    }
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next)
        if (m != self)
            __atomic_store_n(&m->fast.poll, 1, __ATOMIC_RELAXED);
    gc->nstopped = count_stopped(gc, self);
    unsigned others = gc->nmutators - (self ? 1 : 0);
    while (gc->nstopped < others)
        pthread_cond_wait(&gc->cv_parked, &gc->mu);
    pthread_mutex_unlock(&gc->mu);
    return 0;
}

void vmrt__gc_resume_world(struct vmrt_gc *gc, vmrt_gc_mutator_t *self)
{
    (void)self;
    if (gc->cfg.hooks.resume_world)
        gc->cfg.hooks.resume_world(gc->cfg.hooks.ctx);
    pthread_mutex_lock(&gc->mu);
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next) {
        __atomic_store_n(&m->fast.poll, 0, __ATOMIC_RELAXED);
        if (m->state == GC_MUT_PARKED)
            m->state = GC_MUT_RUNNING;
    }
    gc->stw = false;
    gc->stw_seq++;
    pthread_cond_broadcast(&gc->cv_resume);
    pthread_mutex_unlock(&gc->mu);
}
