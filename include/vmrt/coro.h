/* vmrt — stackful coroutines.
 *
 * A coroutine is a function running on its own mmap'ed stack (with a guard
 * page). vmrt_coro_resume() runs it on the calling OS thread until it yields
 * or returns; it may later be resumed on any other thread. The states are the
 * spec's CoroutineState. The scheduler (sched.h) drives coroutines on vCPU
 * threads; this header is usable on its own for symmetric/asymmetric use.
 *
 * Thread rules: one coroutine runs on at most one thread at a time; the
 * caller must make sure resume() is never called concurrently for the same
 * coroutine (the scheduler guarantees it).
 */
#ifndef VMRT_CORO_H
#define VMRT_CORO_H

#include <vmrt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmrt_coro vmrt_coro_t;

/* The spec's CoroutineState. */
typedef enum vmrt_coro_state {
    VMRT_CORO_READY = 0,  /* created or runnable, not running */
    VMRT_CORO_RUNNING,    /* executing on some thread */
    VMRT_CORO_BLOCKED,    /* waiting on a timer, fd, sync object or offloaded call */
    VMRT_CORO_SUSPENDED,  /* explicitly suspended; runs again only after resume */
    VMRT_CORO_TERMINATED, /* entry function returned (or it was cancelled) */
} vmrt_coro_state_t;

/* The spec's priorities: High (JIT compile, GC), Medium (vCPU execution), Low (I/O). */
typedef enum vmrt_prio {
    VMRT_PRIO_HIGH = 0,
    VMRT_PRIO_MEDIUM = 1,
    VMRT_PRIO_LOW = 2,
} vmrt_prio_t;
#define VMRT_PRIO_COUNT 3

/* Creation flags. */
enum {
    VMRT_CORO_SIGNAL_PREEMPT = 1u << 0, /* may be preempted by a signal (see sched.h) */
};

#define VMRT_CORO_DEFAULT_STACK (256u * 1024u)
#define VMRT_CORO_MIN_STACK     (16u * 1024u)
#define VMRT_CORO_MAX_STACK     (1024u * 1024u * 1024u)

typedef void *(*vmrt_coro_fn)(void *arg);

/* Creation attributes. Fill with vmrt_coro_attr_init(), then change fields. */
typedef struct vmrt_coro_attr {
    size_t size;       /* sizeof(vmrt_coro_attr_t), set by _init (ABI versioning) */
    const char *name;  /* copied (truncated to 31 bytes); NULL → "coro" */
    size_t stack_size; /* usable bytes in [VMRT_CORO_MIN_STACK, VMRT_CORO_MAX_STACK], rounded up to
                          pages */
    vmrt_prio_t priority; /* used by the scheduler */
    uint64_t affinity;    /* bitmask of allowed vCPUs (bit i = vCPU i); 0 = any */
    int bind_vcpu;        /* ≥0: bound to this vCPU, never stolen; -1 = not bound */
    unsigned flags;       /* VMRT_CORO_* flags */
} vmrt_coro_attr_t;

VMRT_API void vmrt_coro_attr_init(vmrt_coro_attr_t *attr);

/* Creates a coroutine in state READY that will run fn(arg) when first resumed.
 * attr may be NULL for defaults. Errors: -EINVAL (NULL fn/out, stack size out
 * of [VMRT_CORO_MIN_STACK, VMRT_CORO_MAX_STACK]), -ENOMEM. */
VMRT_API int vmrt_coro_create(vmrt_coro_t **out, const vmrt_coro_attr_t *attr, vmrt_coro_fn fn,
                              void *arg);

/* Runs co on the calling thread until it yields or terminates. Returns 0, or
 * -EINVAL (NULL), VMRT_ESTATE (co is running or terminated). May be called
 * from inside another coroutine (nesting). */
VMRT_API int vmrt_coro_resume(vmrt_coro_t *co);

/* Called from inside a coroutine: returns control to whoever resumed it. The
 * state becomes READY unless the caller set another state before (the
 * scheduler uses that to block). Returns when resumed again. */
VMRT_API void vmrt_coro_yield(void);

/* The coroutine running on this thread, or NULL on a plain thread stack. */
VMRT_API vmrt_coro_t *vmrt_coro_self(void);

VMRT_API vmrt_coro_state_t vmrt_coro_state(const vmrt_coro_t *co);
VMRT_API const char *vmrt_coro_state_name(vmrt_coro_state_t state);
VMRT_API const char *vmrt_coro_name(const vmrt_coro_t *co);
VMRT_API uint64_t vmrt_coro_id(const vmrt_coro_t *co);
VMRT_API vmrt_prio_t vmrt_coro_priority(const vmrt_coro_t *co);
/* Changes the priority; a scheduler applies it the next time co becomes
 * ready (a queued coroutine stays in the queue it is in, a running one keeps
 * its vCPU's running priority until it next yields or blocks). Safe from any
 * thread or coroutine while co is queued, running or blocked (an atomic
 * store). -EINVAL for an unknown priority. */
VMRT_API int vmrt_coro_set_priority(vmrt_coro_t *co, vmrt_prio_t prio);

/* Return value of the entry function; NULL until TERMINATED. */
VMRT_API void *vmrt_coro_result(const vmrt_coro_t *co);

/* Per-coroutine user slot (used e.g. by the pool factory or an embedder). */
VMRT_API void *vmrt_coro_userdata(const vmrt_coro_t *co);
VMRT_API void vmrt_coro_set_userdata(vmrt_coro_t *co, void *data);

/* Usable stack size in bytes. */
VMRT_API size_t vmrt_coro_stack_size(const vmrt_coro_t *co);

/* Frees a coroutine that is not running. A coroutine destroyed before it
 * terminated simply never runs again (its stack is unmapped; nothing on it is
 * unwound). Returns 0 or VMRT_ESTATE if it is running. NULL is a no-op. */
VMRT_API int vmrt_coro_destroy(vmrt_coro_t *co);

#ifdef __cplusplus
}
#endif
#endif
