/* vmrt — CoroutinePool: bounded, reusable coroutines with leak detection.
 *
 * The pool hands out coroutines whose stacks and objects are recycled: a
 * released coroutine goes to a LIFO idle cache (warm stack first) and the next
 * vmrt_pool_get() reuses it. Idle stacks beyond the high-water mark are given
 * back to the OS with madvise(MADV_DONTNEED) ("trimmed"), keeping the mapping.
 * A factory (the spec's CoroutineFactory) initialises per-coroutine data once
 * and resets it at each reuse.
 *
 * Every coroutine handed out is tracked until released; vmrt_pool_leaks()
 * lists those never finished or finished but never released, with their name,
 * age and creation site. Thread-safe: any thread may get/release.
 */
#ifndef VMRT_POOL_H
#define VMRT_POOL_H

#include <stdio.h>
#include <vmrt/coro.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmrt_pool vmrt_pool_t;

/* The spec's CoroutineFactory. Each hook may be NULL. */
typedef struct vmrt_coro_factory {
    /* Called once when a new coroutine object is created; may set userdata.
     * Returning non-zero fails the get() with that error. */
    int (*init)(vmrt_coro_t *co, void *factory_arg);
    /* Called when a released coroutine is reused, before it runs again. */
    void (*reset)(vmrt_coro_t *co, void *factory_arg);
    /* Called when the pool frees the coroutine object for good. */
    void (*fini)(vmrt_coro_t *co, void *factory_arg);
    void *arg;
} vmrt_coro_factory_t;

typedef struct vmrt_pool_config {
    size_t size;            /* sizeof(vmrt_pool_config_t), set by _init */
    size_t max_coroutines;  /* pool_size: bound on coroutines alive at once; 0 = unbounded */
    size_t stack_size;      /* stack of every pooled coroutine; 0 → default */
    size_t idle_max;        /* idle coroutines kept at most (more are freed); default 1024 */
    size_t idle_high_water; /* idle stacks beyond this are madvise'd away; default 64 */
    vmrt_coro_factory_t factory;
} vmrt_pool_config_t;

typedef struct vmrt_pool_stats {
    uint64_t created;  /* coroutine objects created (stack mapped) */
    uint64_t reused;   /* gets served from the idle cache */
    uint64_t active;   /* handed out, not yet released */
    uint64_t idle;     /* in the idle cache */
    uint64_t peak;     /* highest active count */
    uint64_t trimmed;  /* idle stacks returned to the OS */
    uint64_t leaked;   /* active coroutines reported by the last leak check */
    uint64_t rejected; /* gets refused because max_coroutines was reached */
} vmrt_pool_stats_t;

/* One leaked coroutine, as reported by vmrt_pool_leaks(). */
typedef struct vmrt_pool_leak {
    uint64_t id;
    const char *name; /* valid until the coroutine is released/destroyed */
    vmrt_coro_state_t state;
    uint64_t age_ns;  /* time since get() */
    const char *file; /* creation site */
    int line;
    bool finished; /* true: terminated but never released ("never joined") */
} vmrt_pool_leak_t;

VMRT_API void vmrt_pool_config_init(vmrt_pool_config_t *cfg);

/* Errors: -EINVAL (bad config), -ENOMEM. cfg may be NULL for defaults. */
VMRT_API int vmrt_pool_new(vmrt_pool_t **out, const vmrt_pool_config_t *cfg);

/* Frees the pool and its idle coroutines. Coroutines still handed out are
 * reported as leaks on stderr (name, age, creation site) and freed if not
 * running. Returns the number of leaks. */
VMRT_API size_t vmrt_pool_destroy(vmrt_pool_t *pool);

/* Gets a READY coroutine that will run fn(arg). attr may be NULL; its
 * stack_size is ignored (the pool's is used). Errors: -EINVAL, -ENOMEM,
 * VMRT_ELIMIT (max_coroutines active). Use the vmrt_pool_get() macro, which
 * records the creation site. */
VMRT_API int vmrt_pool_get_at(vmrt_pool_t *pool, vmrt_coro_t **out, const vmrt_coro_attr_t *attr,
                              vmrt_coro_fn fn, void *arg, const char *file, int line);
#define vmrt_pool_get(pool, out, attr, fn, arg)                                                    \
    vmrt_pool_get_at((pool), (out), (attr), (fn), (arg), __FILE__, __LINE__)

/* Returns co to the pool. It should be TERMINATED; a not-yet-terminated
 * (e.g. cancelled, never-resumed) one is accepted and its stack reused from
 * scratch. Errors: -EINVAL (not from this pool), VMRT_ESTATE (running). */
VMRT_API int vmrt_pool_release(vmrt_pool_t *pool, vmrt_coro_t *co);

VMRT_API void vmrt_pool_stats(vmrt_pool_t *pool, vmrt_pool_stats_t *out);

/* Fills up to max entries of out with the coroutines currently handed out
 * and returns how many there are in total (may exceed max). Updates the
 * 'leaked' statistic. out may be NULL with max 0 to count. */
VMRT_API size_t vmrt_pool_leaks(vmrt_pool_t *pool, vmrt_pool_leak_t *out, size_t max);

/* Writes a human-readable leak report (one line per leak) to f; returns the count. */
VMRT_API size_t vmrt_pool_report_leaks(vmrt_pool_t *pool, FILE *f);

/* Frees idle coroutines beyond keep (0 frees all idle). Returns how many. */
VMRT_API size_t vmrt_pool_shrink(vmrt_pool_t *pool, size_t keep);

#ifdef __cplusplus
}
#endif
#endif
