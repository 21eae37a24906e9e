/* vmrt — garbage collector (the seed's GcRuntime).
 *
 * A precise, incremental, parallel, compacting mark-sweep collector.
 *
 *   - Objects carry a type descriptor (vmrt_gc_type_t): payload size or
 *     element size, a pointer map or a trace callback, an optional finalizer.
 *   - Every thread that touches the heap is a *mutator*: it attaches
 *     (vmrt_gc_thread_attach) and gets a vmrt_gc_mutator_t, which holds its
 *     allocation caches, its handle scope (shadow stack of root slots) and its
 *     write-barrier buffer. A mutator is used by one thread at a time.
 *   - Roots: registered global slots, the handle scopes of all mutators,
 *     and optionally conservatively scanned ranges (thread stacks, coroutine
 *     stacks reported by a hook, explicit ranges); objects found only
 *     conservatively are pinned (never moved).
 *   - Pointer stores into heap objects go through vmrt_gc_write() (the SATB
 *     write barrier). Mutators poll vmrt_gc_safepoint() regularly.
 *
 * See docs/gc.md for the object model and a complete embedding example.
 */
#ifndef VMRT_GC_H
#define VMRT_GC_H

#include <vmrt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmrt_gc vmrt_gc_t;
typedef struct vmrt_gc_mutator vmrt_gc_mutator_t;
typedef struct vmrt_gc_weak vmrt_gc_weak_t;
typedef struct vmrt_gc_visitor vmrt_gc_visitor_t;

/* Trigger policies (the seed's GcTriggerPolicy). */
typedef enum vmrt_gc_trigger {
    VMRT_GC_TRIGGER_FIXED_THRESHOLD = 0, /* a cycle every threshold_bytes allocated */
    VMRT_GC_TRIGGER_ADAPTIVE,            /* GOGC-like pacer: goal = live * (1 + gogc/100) */
    VMRT_GC_TRIGGER_MEMORY_PRESSURE,     /* cgroup v2/v1 limit+usage, PSI or MemAvailable */
    VMRT_GC_TRIGGER_TIME_BASED,          /* a cycle every interval_ns */
} vmrt_gc_trigger_t;

/* A type descriptor. Static storage, never changed after the first
 * allocation. An object's payload is `size` bytes, followed, for a
 * variable-length type (elem_size > 0), by `length` elements. */
typedef struct vmrt_gc_type {
    const char *name; /* for statistics and debugging */
    size_t size;      /* fixed payload bytes (multiple of 8 recommended) */
    size_t elem_size; /* bytes per element, 0 for fixed-size objects */
    uint64_t ref_map; /* bit i set: payload word i (bytes 8i..8i+7) is a reference */
    bool elem_refs;   /* the elements are references (elem_size must be sizeof(void *)) */
    /* Optional: visits the reference slots itself (then ref_map/elem_refs are
     * ignored). Called by GC threads during a pause; must only call
     * vmrt_gc_visit() on slots of obj. */
    void (*trace)(void *obj, vmrt_gc_visitor_t *v);
    /* Optional: run once after the object became unreachable (see docs/gc.md
     * for the ordering with weak references). Runs on a mutator thread, from
     * vmrt_gc_run_finalizers(); may allocate. */
    void (*finalize)(void *obj, void *user);
    void *finalize_user;
} vmrt_gc_type_t;

/* Hooks by which a scheduler coordinates the GC (all optional). Default:
 * threads attached with vmrt_gc_thread_attach poll vmrt_gc_safepoint() and
 * the GC parks them at a requested safepoint. */
typedef struct vmrt_gc_hooks {
    /* Bring every other mutator to a safepoint; return 0 once they are all
     * stopped. When set, the default safepoint protocol is not used. */
    int (*stop_world)(void *ctx);
    void (*resume_world)(void *ctx);
    /* Report each stack (e.g. of a suspended coroutine) to scan
     * conservatively: visit(arg, lo, hi) for every [lo, hi). */
    void (*enumerate_stacks)(void *ctx, void (*visit)(void *arg, const void *lo, const void *hi),
                             void *arg);
    /* With stop_world set: called where a mutator would otherwise wait for
     * the GC (a safepoint during a pause, waiting for another thread's
     * collection) — it must let the scheduler stop this thread, e.g. by
     * polling the scheduler's own safepoint. NULL: the thread spins. */
    void (*safepoint)(void *ctx);
    void *ctx;
} vmrt_gc_hooks_t;

typedef struct vmrt_gc_stats vmrt_gc_stats_t;

/* Configuration. Fill with vmrt_gc_config_init(), then change fields. */
typedef struct vmrt_gc_config {
    size_t struct_size;  /* set by vmrt_gc_config_init (versioning) */
    size_t max_heap;     /* heap limit in bytes, 0 = none */
    size_t reserve;      /* address space reserved for the heap (default 16 GiB) */
    size_t retain_bytes; /* free memory kept committed before returning it to the OS */
    vmrt_gc_trigger_t trigger;
    size_t threshold_bytes;    /* FixedThreshold: bytes allocated between cycles */
    unsigned gogc;             /* Adaptive: heap growth percent over live (default 30) */
    size_t min_heap;           /* Adaptive: no cycle below this heap size (default 4 MiB) */
    double pressure_ratio;     /* MemoryPressure: collect when usage/limit exceeds it (0.8) */
    uint64_t interval_ns;      /* TimeBased: nanoseconds between cycles (default 1 s) */
    bool incremental;          /* mark in bounded steps (default false: stop-the-world) */
    uint64_t step_budget_ns;   /* incremental: one step's time budget (default 200 us) */
    unsigned markers;          /* marking threads including the caller, 0 = auto */
    bool parallel_steps;       /* incremental steps use the marker threads too (default:
                                  only full collections and final pauses do; a helper that
                                  the OS does not schedule in time stalls a step) */
    bool compact;              /* evacuate sparse blocks after marking (default true) */
    double compact_live_ratio; /* a block with less live data than this ratio is sparse (0.3) */
    bool scan_thread_stacks;   /* scan attached threads' stacks conservatively (default false) */
    bool enabled;              /* automatic collection on (default true) */
    /* Generational (default true): sticky mark bits. Objects that survived a
     * cycle are old; minor cycles mark only from the roots and the old
     * objects written since the last cycle (a card table filled by
     * vmrt_gc_write) and free dead young objects; full cycles run when the
     * old generation has grown by a quarter of the heap growth the pacer
     * allows (or a minor cycle kept more than half of what was allocated).
     * Requires every reference store into a heap object, initializing
     * stores included, to go through vmrt_gc_write. */
    bool generational;
    vmrt_gc_hooks_t hooks;
    /* Called when an allocation would exceed max_heap even after a full
     * collection; may raise the limit (vmrt_gc_set_limit) or drop references
     * and return true to retry once; false gives up (the allocation fails). */
    bool (*near_limit)(vmrt_gc_t *gc, size_t requested, void *user);
    void (*on_cycle_start)(vmrt_gc_t *gc, uint64_t cycle, void *user);
    void (*on_cycle_end)(vmrt_gc_t *gc, const vmrt_gc_stats_t *stats, void *user);
    void *user;
} vmrt_gc_config_t;

#define VMRT_GC_PAUSE_BUCKETS 64

/* Statistics (the seed's GcRuntimeStats: heap_usage, gc_count, gc_time,
 * pause_time, and more). Times in nanoseconds. */
struct vmrt_gc_stats {
    size_t heap_usage;     /* bytes in objects (live after last cycle + allocated since) */
    size_t heap_committed; /* bytes of heap memory committed from the OS */
    size_t heap_limit;     /* current limit, 0 = none */
    uint64_t gc_count;     /* completed cycles */
    uint64_t gc_time;      /* total time in GC work (pauses + steps) */
    uint64_t pause_time;   /* total time the world was stopped */
    uint64_t pause_count;  /* number of pauses */
    uint64_t pause_max;    /* longest pause */
    uint64_t pause_p50;    /* from a histogram: at most 25% over, never under */
    uint64_t pause_p99;
    uint64_t pause_hist[VMRT_GC_PAUSE_BUCKETS]; /* bucket i: pauses in [2^i, 2^(i+1)) ns */
    uint64_t bytes_allocated;                   /* total */
    uint64_t bytes_freed;                       /* total */
    uint64_t bytes_moved;                       /* total, by compaction */
    uint64_t objects_moved;
    uint64_t mark_time; /* totals per phase */
    uint64_t sweep_time;
    uint64_t compact_time;
    size_t live_bytes;      /* marked at the end of the last cycle */
    uint64_t last_cycle_ns; /* duration of the last cycle, start to end */
    uint64_t incremental_steps;
    uint64_t finalizers_run;
    uint64_t weak_cleared;
    uint64_t steals; /* work items stolen between markers */
    unsigned markers;
    uint64_t minor_count; /* completed minor (young-generation) cycles, part of gc_count */
    size_t live_full;     /* bytes marked by the last full cycle: not exact reachability; it
                             includes floating garbage (objects that died while an
                             incremental cycle marked) and objects allocated during it
                             (black), large ones at their size */
    size_t live_full_max; /* the largest live_full so far: "live data" for RSS ratios */
};

#define VMRT_GC_FULL    0u /* vmrt_gc_collect flags: a full collection */
#define VMRT_GC_COMPACT 1u /* also evacuate every sparse block */
#define VMRT_GC_MINOR   2u /* a minor (young-generation) cycle; full when not generational */

/* Sets defaults. */
VMRT_API void vmrt_gc_config_init(vmrt_gc_config_t *cfg);

/* Creates a collector (cfg may be NULL for defaults). Errors: -EINVAL,
 * -ENOMEM (address space could not be reserved). Reads VMRT_GCTRACE. */
VMRT_API int vmrt_gc_new(vmrt_gc_t **out, const vmrt_gc_config_t *cfg);

/* Destroys the collector and frees all its memory. Every mutator must be
 * detached; finalizers do not run. */
VMRT_API void vmrt_gc_destroy(vmrt_gc_t *gc);

/* Registers the calling thread as a mutator. Errors: -ENOMEM. */
VMRT_API int vmrt_gc_thread_attach(vmrt_gc_t *gc, vmrt_gc_mutator_t **out);
/* Unregisters it; its handle scope is dropped. */
VMRT_API void vmrt_gc_thread_detach(vmrt_gc_mutator_t *m);
/* The mutator attached by the calling thread to gc, or NULL. */
VMRT_API vmrt_gc_mutator_t *vmrt_gc_current(vmrt_gc_t *gc);
VMRT_API vmrt_gc_t *vmrt_gc_of(vmrt_gc_mutator_t *m);

/* A mutator that will not touch the heap for a while (blocking I/O, idle)
 * says so: the GC then does not wait for it. unblock() waits for any
 * collection pause in progress to end. */
VMRT_API void vmrt_gc_thread_block(vmrt_gc_mutator_t *m);
VMRT_API void vmrt_gc_thread_unblock(vmrt_gc_mutator_t *m);

/* ---- Allocation -------------------------------------------------------- */

/* vmrt_gc_alloc (below, inline): allocates a zeroed object of a fixed-size
 * type; NULL when the heap limit is reached (after a full collection and the
 * near_limit callback) or memory cannot be mapped. May collect (pointers held
 * only in C locals can move: keep them in the handle scope).
 * vmrt_gc_alloc_slow is its out-of-line part (any fixed-size type; also
 * callable directly). */
VMRT_API void *vmrt_gc_alloc_slow(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *type);
/* The same with `length` elements (variable-length types). */
VMRT_API void *vmrt_gc_alloc_array(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *type, size_t length);
/* The same with an error code: 0, VMRT_ELIMIT, -ENOMEM, -EINVAL. */
VMRT_API int vmrt_gc_alloc_ex(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *type, size_t length,
                              void **out);

VMRT_API const vmrt_gc_type_t *vmrt_gc_type_of(const void *obj);
VMRT_API size_t vmrt_gc_length(const void *obj);

/* ---- Inline fast paths ------------------------------------------------- */

/* Size classes of small objects (slot = 16-byte header + payload). */
#define VMRT_GC_NCLASSES 40
/* Payloads up to this size take the inline allocation fast path: their
 * class is (size + 7) / 8 (slots of 16, 24, ..., 64 bytes). */
#define VMRT_GC_INLINE_MAX 48u

/* A free slot of a small block: a zero type word, then the link. */
typedef struct vmrt_gc_free {
    uintptr_t type; /* 0 while free */
    struct vmrt_gc_free *next;
} vmrt_gc_free_t;

/* The first words of every mutator, read by the inline fast paths below.
 * Part of the ABI; do not write them. */
/* Card table of the generational barrier: one byte per 2^VMRT_GC_CARD_SHIFT
 * bytes of heap. */
#define VMRT_GC_CARD_SHIFT 9

typedef struct vmrt_gc_mutator_fast {
    uint32_t poll;     /* nonzero: the GC asks this mutator to reach a safepoint */
    uint32_t marking;  /* nonzero: marking in progress, the write barrier is on */
    uint32_t old_mark; /* the header mark of an old object (0x100: not generational) */
    uint8_t *cards;    /* card table (NULL when not generational: old_mark matches nothing) */
    uintptr_t card_mask;
    /* Allocation buffers: per size class, the free list this mutator owns,
     * and the second header word of a new object of the class (mark epoch,
     * class). */
    vmrt_gc_free_t *free[VMRT_GC_NCLASSES];
    uint64_t hdrw[VMRT_GC_NCLASSES];
} vmrt_gc_mutator_fast_t;

VMRT_API void vmrt_gc_write_slow(vmrt_gc_mutator_t *m, void *old);
VMRT_API void vmrt_gc_safepoint_slow(vmrt_gc_mutator_t *m);

/* The generational half of the barrier alone: slot of heap object obj now
 * holds a reference; if obj is old (its header's mark byte, 4 bytes below
 * the payload, is the old mark), the slot's card is marked. For embedders
 * whose slots also hold non-reference values (tagged integers): when the
 * old value was not a reference, it must not go to vmrt_gc_write's SATB
 * record, but a new reference must be remembered. */
static inline void vmrt_gc_write_card(vmrt_gc_mutator_t *m, void *obj, void *slot)
{
    const vmrt_gc_mutator_fast_t *f = (const vmrt_gc_mutator_fast_t *)m;
    if (__atomic_load_n((const uint8_t *)obj - 4, __ATOMIC_RELAXED) == f->old_mark)
        __atomic_store_n(&f->cards[((uintptr_t)slot >> VMRT_GC_CARD_SHIFT) & f->card_mask],
                         (uint8_t)1, __ATOMIC_RELAXED);
}

/* The SATB half of the barrier alone, for embedders that load and store
 * their slots themselves (e.g. with relaxed atomics, because other threads
 * access the same slots): old, the reference the store is about to
 * overwrite (not NULL), is recorded while marking. Then store, then
 * vmrt_gc_write_card if the new value is a reference. */
static inline void vmrt_gc_write_satb(vmrt_gc_mutator_t *m, void *old)
{
    if (__builtin_expect(((const vmrt_gc_mutator_fast_t *)m)->marking != 0, 0))
        vmrt_gc_write_slow(m, old);
}

/* Stores val into the reference slot `slot` of heap object obj (obj must be
 * the object that contains slot; the old value must be a reference or
 * NULL). Every reference store into a heap object, initializing stores
 * included, must use it. Fast path: one load and one branch (the SATB
 * barrier, taken only while marking), the store, then the generational
 * barrier: a load of obj's mark byte and a branch, and for an old object a
 * byte store into the card table (no lock, no atomic read-modify-write). */
static inline void vmrt_gc_write(vmrt_gc_mutator_t *m, void *obj, void *slot, void *val)
{
    void **s = (void **)slot;
    if (__builtin_expect(((const vmrt_gc_mutator_fast_t *)m)->marking != 0, 0))
        vmrt_gc_write_slow(m, *s);
    *s = val;
    vmrt_gc_write_card(m, obj, slot);
}

/* The allocation fast path: pop the mutator's free list of the object's
 * size class and write the two header words (with a type descriptor the
 * compiler can see, the size checks fold away: a load, a branch, two
 * stores of the list, two header stores). No lock, no atomic, no zeroing
 * (free slots are zero). Everything else — an empty list (refill, lazy
 * sweeping, GC pacing and assists), larger objects, finalizable types,
 * the heap limit — is vmrt_gc_alloc_slow. */
static inline void *vmrt_gc_alloc(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *type)
{
    size_t size = type->size;
    if (__builtin_expect(size <= VMRT_GC_INLINE_MAX && !type->finalize, 1)) {
        vmrt_gc_mutator_fast_t *f = (vmrt_gc_mutator_fast_t *)m;
        size_t c = (size + 7) >> 3;
        vmrt_gc_free_t *s = f->free[c];
        if (__builtin_expect(s != NULL, 1)) {
            f->free[c] = s->next;
            s->type = (uintptr_t)type;
            __builtin_memcpy(&s->next, &f->hdrw[c], sizeof(uint64_t));
            return (char *)s + sizeof(vmrt_gc_free_t);
        }
    }
    return vmrt_gc_alloc_slow(m, type);
}

/* Polls for a GC request: a load and a branch. */
static inline void vmrt_gc_safepoint(vmrt_gc_mutator_t *m)
{
    if (__builtin_expect(__atomic_load_n(&((vmrt_gc_mutator_fast_t *)m)->poll, __ATOMIC_RELAXED),
                         0))
        vmrt_gc_safepoint_slow(m);
}

/* ---- Roots -------------------------------------------------------------- */

/* Global roots: `slot` holds a reference (or NULL) and is updated when the
 * object moves. Errors: -ENOMEM; remove: -ENOENT. */
VMRT_API int vmrt_gc_root_add(vmrt_gc_t *gc, void **slot);
VMRT_API int vmrt_gc_root_remove(vmrt_gc_t *gc, void **slot);

/* Handle scopes: a per-mutator stack of root slots (addresses of the
 * caller's variables). enter() returns a mark; leave(mark) pops the slots
 * pushed since. */
VMRT_API size_t vmrt_gc_scope_enter(vmrt_gc_mutator_t *m);
VMRT_API void vmrt_gc_scope_leave(vmrt_gc_mutator_t *m, size_t mark);
VMRT_API int vmrt_gc_push_root(vmrt_gc_mutator_t *m, void *slot);

/* Conservative ranges: [lo, hi) is scanned word by word; any word that
 * points into a live object keeps it alive and pins it. */
/* A root enumerator, for embedders that keep references outside the heap
 * in places of their own (an interpreter's register stacks): called in every
 * pause that scans roots, and again when compaction moves objects; it must
 * call vmrt_gc_visit(v, slot) on each such slot holding a reference (never on
 * other words), and may be called on any GC thread with the world stopped. */
typedef void (*vmrt_gc_root_fn)(vmrt_gc_visitor_t *v, void *arg);
VMRT_API int vmrt_gc_root_fn_add(vmrt_gc_t *gc, vmrt_gc_root_fn fn, void *arg);
VMRT_API int vmrt_gc_root_fn_remove(vmrt_gc_t *gc, vmrt_gc_root_fn fn, void *arg);

VMRT_API int vmrt_gc_conservative_add(vmrt_gc_t *gc, const void *lo, const void *hi);
VMRT_API int vmrt_gc_conservative_remove(vmrt_gc_t *gc, const void *lo);

/* Explicit pinning: a pinned object is never moved (counted). */
VMRT_API int vmrt_gc_pin(void *obj);
VMRT_API int vmrt_gc_unpin(void *obj);

/* ---- Collection control ------------------------------------------------- */

/* Runs a complete collection now, stopping the world (finishes an
 * incremental cycle in progress first). flags: VMRT_GC_FULL | VMRT_GC_COMPACT. */
VMRT_API int vmrt_gc_collect(vmrt_gc_mutator_t *m, unsigned flags);

/* The seed's check_and_run_gc_step(): if a cycle is in progress, runs one
 * bounded step of it; else, if the trigger policy says so, starts one.
 * Returns 1 when it did GC work, 0 when not, negative on error. Runs pending
 * finalizers afterwards. */
VMRT_API int vmrt_gc_check_and_run_step(vmrt_gc_mutator_t *m);

/* Runs finalizers queued by past cycles; returns how many ran. */
VMRT_API int vmrt_gc_run_finalizers(vmrt_gc_mutator_t *m);

VMRT_API void vmrt_gc_set_enabled(vmrt_gc_t *gc, bool on);
VMRT_API bool vmrt_gc_enabled(vmrt_gc_t *gc);
VMRT_API void vmrt_gc_set_incremental(vmrt_gc_t *gc, bool on);
VMRT_API bool vmrt_gc_incremental(vmrt_gc_t *gc);
VMRT_API int vmrt_gc_set_trigger(vmrt_gc_t *gc, vmrt_gc_trigger_t policy);
VMRT_API vmrt_gc_trigger_t vmrt_gc_trigger(vmrt_gc_t *gc);
VMRT_API void vmrt_gc_set_limit(vmrt_gc_t *gc, size_t max_heap);
/* True while an incremental cycle is in progress. */
VMRT_API bool vmrt_gc_in_cycle(vmrt_gc_t *gc);

VMRT_API void vmrt_gc_stats(vmrt_gc_t *gc, vmrt_gc_stats_t *out);
VMRT_API const char *vmrt_gc_trigger_name(vmrt_gc_trigger_t t);

/* ---- Weak references ---------------------------------------------------- */

/* A weak reference to obj: cleared (reads NULL) once obj is unreachable,
 * before obj's finalizer runs. Errors: -ENOMEM. */
VMRT_API int vmrt_gc_weak_new(vmrt_gc_mutator_t *m, void *obj, vmrt_gc_weak_t **out);
VMRT_API void *vmrt_gc_weak_get(vmrt_gc_mutator_t *m, vmrt_gc_weak_t *w);
VMRT_API void vmrt_gc_weak_free(vmrt_gc_t *gc, vmrt_gc_weak_t *w);

/* From a trace callback: reports one reference slot. */
VMRT_API void vmrt_gc_visit(vmrt_gc_visitor_t *v, void **slot);

#ifdef __cplusplus
}
#endif
#endif
