/* The engine's run-time state: one vg_engine per run, one vg_thread per
 * guest thread. Shared by interp.c, engine.c, jit.c and the host adapters.
 *
 * A guest thread owns a register stack (values, the GC roots of the thread)
 * and a frame stack. Frame f's registers are stack[f.base .. f.base +
 * f.fn->nregs); the callee's frame starts right after its caller's
 * registers, so arguments are copied once. Both stacks grow by realloc up to
 * the engine's limits; a guest going deeper gets a "stack overflow" error.
 */
#ifndef VMRT_GUEST_ENGINE_H
#define VMRT_GUEST_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "guest/guest.h"
#include "guest/host.h"
#include "guest/prog.h"
#include "guest/value.h"

typedef struct vg_frame {
    const vg_func *fn;
    const vg_code *code; /* the tier this frame executes */
    uint32_t pc;         /* current instruction (the call while a callee runs) */
    uint32_t base;       /* first register in the thread's stack */
    int32_t ret_reg;     /* caller's register receiving the result (-1: none) */
} vg_frame;

enum { VG_T_NEW = 0, VG_T_RUNNING, VG_T_DONE };

typedef struct vg_thread {
    struct vg_engine *eng;
    uint64_t id;     /* guest-visible thread id (main = 0) */
    vg_value *stack; /* registers of all frames (roots) */
    uint32_t sp;     /* registers in use */
    uint32_t stack_cap;
    vg_frame *frames;
    uint32_t nframes, frames_cap;
    vg_value result;     /* return value once done (root) */
    int prio;            /* VG_PRIO_* */
    _Atomic int state;   /* VG_T_* */
    const char *waiting; /* what it blocks on, for deadlock reports */
    void *host_data;     /* the adapter's record */
} vg_thread;

typedef struct vg_engine {
    const vg_program *prog;
    vg_host *host;
    vmrt_guest_options opts;
    FILE *out, *err;
    pthread_mutex_t lock; /* threads[], error */
    vg_thread **threads;  /* by id */
    uint64_t nthreads, threads_cap;
    _Atomic bool failed;
    _Atomic bool halt;         /* the run is ending: guest threads unwind at their next check */
    char *error;               /* message + guest stack trace */
    const void *const *labels; /* interpreter dispatch table (computed goto), or NULL */
    _Atomic uint64_t polls;    /* host safepoint polls so far (for max_polls) */
    _Atomic uint64_t translations;
    _Atomic uint64_t jit_ns;
} vg_engine;

/* Roots of a thread (see host.h). */
static inline void vg_thread_roots(vg_thread *t, vg_value **base, uint32_t *n)
{
    *base = t->stack;
    *n = t->sp;
}

/* Creates thread `id` that will run fn with args (n values) and registers it. */
int vg_thread_new(vg_engine *eng, const vg_func *fn, const vg_value *args, uint32_t nargs,
                  vg_thread **out);
/* Entry of a guest thread's execution context: runs it until it returns or
 * the run fails. Called by the adapter on the thread's coroutine. */
void vg_thread_body(vg_thread *t);
/* Frees the thread's stacks (keeps the record for join). */
void vg_thread_release_stacks(vg_thread *t);
vg_thread *vg_engine_thread(vg_engine *eng, int64_t id);

/* Records the first guest error (message + stack trace of t, if any) and
 * stops the host. Later errors are ignored. */
void vg_engine_fail(vg_engine *eng, vg_thread *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends the run: every guest thread returns from vg_thread_body() at its
 * next safepoint or wake-up (used by adapters to unwind threads at teardown;
 * blocking operations then return VMRT_ECANCELED). */
void vg_engine_halt(vg_engine *eng);
/* Called by the adapter when every guest thread is blocked forever. */
void vg_engine_deadlock(vg_engine *eng);

/* Runs t's frames; returns when the bottom frame returns or on failure. */
void vg_interp_run(vg_thread *t);
/* The dispatch table (labels of the interpreter), NULL with the switch fallback. */
const void *const *vg_interp_labels(void);

/* Translation tier: asks for fn to be translated (once). */
void vg_jit_request(vg_engine *eng, vg_func *fn);
/* Translates fn now (used by the task, and by jit_sync); 0 or -ENOMEM. */
int vg_jit_translate(vg_engine *eng, vg_func *fn);

/* Writes v in the guest's print format. */
void vg_print_value(FILE *f, vg_value v, int depth);

#endif
