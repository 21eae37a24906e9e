/* GC internals shared between the files of src/gc.
 *
 * Heap layout. One contiguous reservation of address space, cut into 64 KiB
 * blocks. A small block holds slots of one size class (segregated fits);
 * objects above GC_SMALL_MAX take a run of whole blocks (the large-object
 * space). Each block has a descriptor in a side table indexed by block
 * number, so any address maps to its block in O(1) (needed by conservative
 * scanning and compaction).
 *
 * Object layout: a 16-byte header (gc_hdr_t) then the payload; references
 * point at the payload. A free slot has type == 0 and its free-list link in
 * the second header word. A forwarded (evacuated) object has type =
 * new address | 1.
 *
 * Marking uses an epoch in the header's mark byte (1..GC_EPOCHS): an object
 * is black/grey when mark == gc->epoch. Every block is swept before the
 * next cycle moves the epoch, so a stale epoch always means "not marked this
 * cycle" [INV-EPOCH]. A full marking that restarts (a lost SATB record)
 * moves to yet another epoch, never back to one an object may hold. New objects are allocated with
 * the current epoch while marking (allocate-black), which is what SATB needs.
 *
 * Generations (sticky mark bits): between cycles, in generational mode,
 * new objects get mark 0 (young). A full cycle moves the epoch; a minor
 * cycle keeps it, so old objects (mark == epoch) stay marked and marking
 * stops at them, and its extra roots are the old objects in dirty cards
 * (vmrt_gc_write marks the card of a store into an old object between
 * cycles). At the end of any cycle every reachable object is marked, i.e.
 * old [INV-GEN]: only stores made after it can create old-to-young
 * references. A small block's live_bytes is its marked (old) bytes: full
 * cycles zero it, sweeping recounts it, minor cycles add to it.
 *
 * Mutators never run while marking work runs: marking, compaction and
 * mark termination happen in stop-the-world pauses (bounded steps when
 * incremental) [INV-STW]. Between steps mutators run and the SATB write
 * barrier records overwritten references in per-mutator buffers.
 */
#ifndef VMRT_GC_INTERNAL_H
#define VMRT_GC_INTERNAL_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>

#include <vmrt/gc.h>

#include "vmrt_config.h"

#define GC_BLOCK_SHIFT     16
#define GC_BLOCK_SIZE      ((size_t)1 << GC_BLOCK_SHIFT)
#define GC_HDR             16u
#define GC_SMALL_MAX       8192u /* largest slot (header included) of a small object */
#define GC_NCLASSES        40
#define GC_SATB_CAP        256
#define GC_DQ_CAP          (1u << 15)
#define GC_CARD_SHIFT      VMRT_GC_CARD_SHIFT
#define GC_CARDS_PER_BLOCK (GC_BLOCK_SIZE >> GC_CARD_SHIFT)
#define GC_EPOCHS          255u /* mark values 1..GC_EPOCHS; 0 is young (generational) */

typedef struct gc_hdr {
    uintptr_t type;       /* const vmrt_gc_type_t *; 0 = free slot; bit 0 = forwarded */
    uint32_t length;      /* elements of a variable-length object */
    _Atomic uint8_t mark; /* == gc->epoch: marked this cycle */
    _Atomic uint8_t pins; /* explicit pin count (saturating) */
    uint8_t flags;        /* GC_F_* */
    uint8_t cls;          /* size class, or 0xff for large */
} gc_hdr_t;

_Static_assert(sizeof(gc_hdr_t) == GC_HDR, "header is 16 bytes");
_Static_assert(offsetof(gc_hdr_t, mark) == GC_HDR - 4, "vmrt_gc_write_card reads payload[-4]");

#define GC_F_FINALIZE 1u /* registered for finalization */

/* A free slot: type word 0, then the next free slot (public: the inline
 * allocation fast path pops these lists). */
typedef vmrt_gc_free_t gc_free_t;
_Static_assert(sizeof(gc_free_t) == GC_HDR, "a free slot is a header");
_Static_assert(GC_NCLASSES == VMRT_GC_NCLASSES, "size classes");

static inline gc_hdr_t *gc_hdr(const void *obj)
{
    return (gc_hdr_t *)((char *)obj - GC_HDR);
}

static inline void *gc_payload(gc_hdr_t *h)
{
    return (char *)h + GC_HDR;
}

static inline const vmrt_gc_type_t *gc_type(const gc_hdr_t *h)
{
    return (const vmrt_gc_type_t *)h->type;
}

enum gc_block_kind {
    GC_BLOCK_UNMAPPED = 0, /* never used, or returned to the OS (0: the descriptor table
                              stays untouched, so it costs no RSS, until blocks are used) */
    GC_BLOCK_FREE,         /* committed, unused */
    GC_BLOCK_SMALL,        /* slots of one size class */
    GC_BLOCK_LARGE,        /* first block of a large object */
    GC_BLOCK_LARGE_CONT,   /* following blocks of a large object */
};

typedef struct gc_block {
    uint8_t kind;                /* enum gc_block_kind */
    uint8_t cls;                 /* size class (small) */
    uint8_t pinned;              /* holds a pinned object this cycle: never evacuated */
    uint8_t evac;                /* 1: chosen for evacuation; 2: allocated into while marking */
    uint8_t owned;               /* a mutator allocates from it (or is sweeping it) */
    uint8_t listed;              /* on its class's list */
    uint8_t zeroed;              /* memory known to be all zero (fresh from the OS); set by
                                    vmrt__gc_block_alloc on the head of a run, cleared by its user */
    uint32_t slot_size;          /* bytes per slot (small) */
    uint32_t nslots;             /* slots in the block (small) */
    uint32_t run;                /* LARGE: blocks in the run; CONT: distance to head */
    uint32_t swept_gen;          /* heap generation of its last sweep */
    uint32_t free_slots;         /* after the last sweep */
    _Atomic uint32_t live_bytes; /* bytes marked this cycle */
    gc_free_t *freelist;         /* free slots while not owned by a mutator */
    struct gc_block *next;       /* class list link */
} gc_block_t;

typedef struct gc_class_list {
    gc_block_t *unswept; /* swept in the previous generation */
    gc_block_t *avail;   /* swept, has free slots, not owned */
} gc_class_list_t;

typedef struct gc_large {
    struct gc_large *next, *prev;
    size_t bytes; /* committed bytes of the run */
} gc_large_t;
/* A large object's run starts with a gc_large_t, then its header, then payload. */
#define GC_LARGE_PREFIX 32u

typedef struct gc_heap {
    uintptr_t base, end; /* the reservation */
    size_t nblocks;
    gc_block_t *blocks;    /* descriptor per block */
    pthread_mutex_t lock;  /* blocks, class lists, large list, counters below */
    size_t hint;           /* lowest block index that may be free */
    size_t top;            /* blocks [0, top) have ever been used */
    size_t committed;      /* bytes committed (FREE + in use) */
    size_t free_committed; /* bytes committed in FREE blocks */
    size_t in_use;         /* bytes in SMALL/LARGE blocks */
    size_t limit;          /* max_heap, 0 = none */
    size_t retain;         /* FREE bytes kept committed */
    uint32_t gen;          /* sweep generation, bumped at mark termination */
    gc_class_list_t cls[GC_NCLASSES];
    gc_large_t large; /* sentinel of the large object list */
    size_t large_bytes;
} gc_heap_t;

/* Size classes: slot sizes (header included), multiples of 8. */
extern const uint32_t vmrt__gc_class_size[GC_NCLASSES];
extern uint8_t vmrt__gc_size_class[GC_SMALL_MAX / 8 + 1];

/* Chase-Lev work-stealing deque of grey objects. */
typedef struct gc_deque {
    _Atomic int64_t top;
    char pad1[56];
    _Atomic int64_t bottom;
    char pad2[56];
    _Atomic(void *) *buf;
} gc_deque_t;

#define GC_PRIV    256 /* grey items a marker keeps private before sharing */
#define GC_LB_WAYS 16  /* live-bytes accumulators per marker (power of two) */

typedef struct gc_marker {
    struct vmrt_gc *gc;
    void *priv[GC_PRIV]; /* private LIFO of grey items: no atomics */
    unsigned npriv;
    gc_deque_t dq; /* shared with stealers */
    pthread_t thread;
    unsigned id;
    _Atomic uint64_t steals;
    uint32_t seed;
    /* live-bytes accumulators, direct-mapped by block index: block ... */
    gc_block_t *lb_block[GC_LB_WAYS];
    uint32_t lb_bytes[GC_LB_WAYS]; /* ... and bytes not yet added to its live_bytes */
} gc_marker_t;

typedef struct gc_satb_buf {
    struct gc_satb_buf *next;
    unsigned n;
    void *v[GC_SATB_CAP];
} gc_satb_buf_t;

enum gc_mut_state { GC_MUT_RUNNING, GC_MUT_PARKED, GC_MUT_BLOCKED };

struct vmrt_gc_mutator {
    vmrt_gc_mutator_fast_t fast;   /* must be first: read by inline fast paths; holds the
                                      allocation caches (free lists per class, fast.free) */
    gc_block_t *tlab[GC_NCLASSES]; /* block each free list comes from */
    struct vmrt_gc *gc;
    gc_satb_buf_t *satb; /* write-barrier buffer */
    void ***roots;       /* handle scope: addresses of root slots */
    size_t nroots, roots_cap;
    int state;                           /* enum gc_mut_state, under gc->mu */
    uintptr_t stack_hi;                  /* thread stack top (conservative scan) */
    uintptr_t sp;                        /* stack pointer when it parked */
    jmp_buf regs;                        /* callee-saved registers when it parked */
    size_t alloc_since_check;            /* bytes handed out since the last pacing check */
    uint8_t epoch;                       /* mark value for new objects */
    struct vmrt_gc_mutator *next, *prev; /* gc->mutators */
};

typedef struct gc_range {
    uintptr_t lo, hi;
} gc_range_t;

struct vmrt_gc_weak {
    struct vmrt_gc_weak *next, *prev;
    void *target; /* NULL once cleared */
};

struct vmrt_gc_visitor {
    void (*fn)(vmrt_gc_visitor_t *v, void **slot);
    struct vmrt_gc *gc;
    gc_marker_t *mk;
};

typedef struct gc_pacer {
    _Atomic size_t live_after; /* bytes marked after the last cycle (old generation) */
    size_t live_full;          /* live bytes after the last full cycle; pauses only */
    _Atomic size_t goal;       /* Adaptive: heap goal of the next cycle */
    _Atomic size_t trigger;    /* Adaptive: start a cycle at this heap usage */
    double trigger_ratio;      /* trigger = live + ratio * (goal - live); pauses only */
    size_t goal_floor;         /* largest recent goal (decays); pauses only */
    uint64_t floor_ns;         /* when goal_floor was set */
    _Atomic uint64_t last_cycle_end_ns;
    _Atomic uint64_t last_probe_ns;        /* MemoryPressure: time of the last reading */
    _Atomic bool pressure_high;            /* MemoryPressure: the last reading */
    size_t alloc_at_start;                 /* alloc_bytes when the cycle started */
    _Atomic(const char *) pressure_source; /* "cgroup2", "cgroup1", "psi", "meminfo" or NULL */
} gc_pacer_t;

typedef struct gc_stats_state {
    pthread_mutex_t lock;
    vmrt_gc_stats_t s;
    uint64_t cycle_start_ns;
    uint64_t cycle_mark_ns, cycle_sweep_ns, cycle_compact_ns, cycle_pause_max;
    uint64_t cycle_freed, cycle_moved;
    bool cycle_minor;                         /* the cycle that ended last was minor */
    uint64_t fine[VMRT_GC_PAUSE_BUCKETS * 4]; /* pauses, 4 sub-buckets per power of two */
} gc_stats_state_t;

enum gc_phase { GC_IDLE = 0, GC_MARKING = 1 };

struct vmrt_gc {
    vmrt_gc_config_t cfg;
    gc_heap_t heap;
    pthread_mutex_t mu;          /* mutator list, safepoint protocol, cycle state */
    pthread_cond_t cv_parked;    /* a mutator parked or blocked */
    pthread_cond_t cv_resume;    /* the world resumed */
    vmrt_gc_mutator_t *mutators; /* attached mutators */
    unsigned nmutators;
    unsigned nstopped;       /* parked + blocked, while stw */
    bool stw;                /* a pause is in progress */
    uint64_t stw_seq;        /* bumped at every resume */
    _Atomic int phase;       /* enum gc_phase */
    _Atomic bool collecting; /* a thread is sweeping up to / starting a cycle */
    uint8_t epoch;           /* current mark value: 1..GC_EPOCHS */
    uint8_t epoch_base;      /* the epoch when this cycle started (see next_epoch) */
    _Atomic bool enabled, incremental;
    _Atomic int trigger;
    int trace; /* VMRT_GCTRACE: 1 a line per cycle, 2 also per pause */
    /* roots */
    pthread_mutex_t roots_lock;
    void ***globals;
    size_t nglobals, globals_cap;
    struct gc_root_fn {
        vmrt_gc_root_fn fn;
        void *arg;
    } * root_fns; /* embedder root enumerators, under roots_lock */
    size_t nroot_fns, root_fns_cap;
    gc_range_t *ranges;
    size_t nranges, ranges_cap;
    /* write barrier: full buffers, lock-free push */
    _Atomic(gc_satb_buf_t *) satb_full;
    _Atomic(gc_satb_buf_t *) satb_free; /* popped by mutators, pushed only in pauses */
    _Atomic bool satb_lost;             /* a buffer could not be allocated: re-mark */
    /* weak refs and finalizers, under roots_lock */
    vmrt_gc_weak_t weak; /* sentinel */
    void **finalizable;
    size_t nfinalizable, finalizable_cap;
    void **to_finalize; /* queued, run by vmrt_gc_run_finalizers */
    size_t nto_finalize, to_finalize_cap;
    /* marking */
    gc_marker_t *markers;
    unsigned nmarkers;
    pthread_mutex_t mk_lock;
    pthread_cond_t mk_cv, mk_done_cv;
    uint64_t mk_job;            /* job sequence */
    unsigned mk_running;        /* helpers that joined the job and are still in it */
    bool mk_parallel;           /* helpers may run: mark with an atomic exchange */
    bool mk_closed;             /* the job terminated: late helpers do not join */
    _Atomic unsigned mk_joined; /* markers in the job (the initiator included) */
    bool mk_quit;
    uint64_t mk_deadline; /* ns, 0 = none */
    _Atomic bool mk_stop;
    _Atomic unsigned mk_idle;
    _Atomic size_t mk_work; /* objects scanned this job */
    size_t mk_work_limit;   /* test hook: stop a step after this many objects */
    pthread_mutex_t ovf_lock;
    void **ovf; /* overflow of the deques */
    size_t novf, ovf_cap;
    _Atomic size_t novf_hint;
    gc_pacer_t pacer;
    gc_stats_state_t st;
    _Atomic size_t alloc_bytes;   /* allocated since the last cycle ended (approx.) */
    _Atomic uint64_t alloc_total; /* bytes allocated, all time */
    _Atomic uint64_t freed_total; /* bytes freed by sweeping, all time */
    _Atomic uint64_t sweep_ns;    /* time spent sweeping, all time */
    uint64_t cycle;               /* number of the running or last cycle */
    uint64_t cycle_t0;
    uint64_t pause_cpu0;  /* VMRT_GCTRACE=2: thread CPU time when the pause began */
    uint64_t finish_ns;   /* duration of the last incremental mark termination */
    bool finish_deferred; /* this cycle's termination was left to the next pause */
    /* generational mode (sticky mark bits) */
    bool minor;                   /* the running (or last) cycle is a minor one */
    _Atomic bool next_full;       /* the pacer asks for a full cycle next */
    uint8_t *cards;               /* card table: (addr >> GC_CARD_SHIFT) & card_mask */
    bool cards_pending;           /* minor cycle: dirty cards left to scan from card_cursor */
    size_t card_cursor;           /* next block index whose cards vmrt__gc_scan_cards scans */
    struct gc_block *card_traced; /* head block of the traced large object greyed last
                                     by the card scan (each is scanned whole, once) */
    size_t card_work_limit; /* test hook: dirty blocks per vmrt__gc_scan_cards call (0: any) */
    size_t card_len;        /* bytes of the table (power of two) */
};

/* heap.c */
int vmrt__gc_heap_init(gc_heap_t *h, size_t reserve, size_t limit, size_t retain);
void vmrt__gc_heap_destroy(gc_heap_t *h);
gc_block_t *vmrt__gc_block_of(gc_heap_t *h, uintptr_t addr);
static inline uintptr_t gc_block_addr(const gc_heap_t *h, const gc_block_t *b)
{
    return h->base + ((size_t)(b - h->blocks) << GC_BLOCK_SHIFT);
}
int vmrt__gc_block_alloc(gc_heap_t *h, size_t n, gc_block_t **out); /* h->lock held */
void vmrt__gc_block_free(gc_heap_t *h, gc_block_t *b);              /* h->lock held */
void vmrt__gc_heap_trim(gc_heap_t *h, size_t keep);                 /* h->lock held */
void vmrt__gc_small_init(gc_heap_t *h, gc_block_t *b, unsigned cls);
gc_hdr_t *vmrt__gc_find_object(gc_heap_t *h, uintptr_t addr); /* interior -> header */
void vmrt__gc_inject_mmap_failure(int after);                 /* test hook */
int vmrt__gc_commit(void *p, size_t len);

/* alloc.c */
void vmrt__gc_mutator_set_epoch(vmrt_gc_mutator_t *m, uint8_t epoch);
void vmrt__gc_tlab_release_all(struct vmrt_gc *gc); /* in a pause */
void vmrt__gc_tlab_release(vmrt_gc_mutator_t *m);

/* sweep.c */
size_t vmrt__gc_sweep_block(struct vmrt_gc *gc, gc_block_t *b); /* returns free slots */
void vmrt__gc_sweep_all(struct vmrt_gc *gc);                    /* finish lazy sweeping */
size_t vmrt__gc_sweep_prepare(struct vmrt_gc *gc);              /* in the final pause */
size_t vmrt__gc_sweep_large(struct vmrt_gc *gc);                /* in the final pause */

/* roots.c */
void vmrt__gc_scan_roots(struct vmrt_gc *gc, gc_marker_t *mk);
void vmrt__gc_scan_conservative(struct vmrt_gc *gc, gc_marker_t *mk, bool pin);
void vmrt__gc_fixup_roots(struct vmrt_gc *gc, vmrt_gc_visitor_t *v);
void vmrt__gc_roots_destroy(struct vmrt_gc *gc);

/* mark.c */
int vmrt__gc_markers_start(struct vmrt_gc *gc);
void vmrt__gc_markers_stop(struct vmrt_gc *gc);
void vmrt__gc_mark_obj(struct vmrt_gc *gc, gc_marker_t *mk, void *obj);
bool vmrt__gc_mark_drain(struct vmrt_gc *gc, uint64_t deadline_ns,
                         bool parallel); /* true: no grey left */
void vmrt__gc_trace_obj(gc_hdr_t *h, vmrt_gc_visitor_t *v);
bool vmrt__gc_grey_empty(struct vmrt_gc *gc);
void vmrt__gc_mark_flush(gc_marker_t *mk);
void vmrt__gc_grey_clear(struct vmrt_gc *gc);

/* Card of an address (generational remembered set). */
static inline uint8_t *gc_card(const struct vmrt_gc *gc, uintptr_t addr)
{
    return &gc->cards[(addr >> GC_CARD_SHIFT) & (gc->card_len - 1)];
}
bool vmrt__gc_scan_cards(struct vmrt_gc *gc, gc_marker_t *mk,
                         uint64_t deadline);   /* minor cycle's pauses: true when done */
void vmrt__gc_cards_clear(struct vmrt_gc *gc); /* full start pause */

/* barrier.c */
void vmrt__gc_satb_drain(struct vmrt_gc *gc, gc_marker_t *mk);
void vmrt__gc_satb_record(vmrt_gc_mutator_t *m, void *obj);
void vmrt__gc_satb_destroy(struct vmrt_gc *gc);

/* compact.c */
void vmrt__gc_compact(struct vmrt_gc *gc, bool force);

/* finalize.c */
void vmrt__gc_weak_process(struct vmrt_gc *gc);
void vmrt__gc_finalize_process(struct vmrt_gc *gc);
int vmrt__gc_finalizable_add(struct vmrt_gc *gc, void *obj);
void vmrt__gc_finalize_fixup(struct vmrt_gc *gc, vmrt_gc_visitor_t *v);
void vmrt__gc_finalize_destroy(struct vmrt_gc *gc);

/* pacer.c */
bool vmrt__gc_should_start(struct vmrt_gc *gc);
void vmrt__gc_pacer_cycle_end(struct vmrt_gc *gc, size_t live, bool full);
size_t vmrt__gc_heap_usage(struct vmrt_gc *gc);
size_t vmrt__gc_heap_headroom(struct vmrt_gc *gc);
const char *vmrt__gc_read_memory_pressure(double *ratio); /* NULL: no source */
void vmrt__gc_set_fs_root(const char *dir); /* test hook: "/" of the pressure sources */
void vmrt__gc_pacer_init(struct vmrt_gc *gc);

/* stats.c */
void vmrt__gc_stats_pause(struct vmrt_gc *gc, uint64_t ns);
void vmrt__gc_stats_cycle_end(struct vmrt_gc *gc, size_t live);
void vmrt__gc_stats_init(struct vmrt_gc *gc);

/* safepoint.c */
void vmrt__gc_wait_pause_end_locked(struct vmrt_gc *gc);
int vmrt__gc_stop_world(struct vmrt_gc *gc, vmrt_gc_mutator_t *self);
void vmrt__gc_resume_world(struct vmrt_gc *gc, vmrt_gc_mutator_t *self);

/* gc.c */
int vmrt__gc_poll(vmrt_gc_mutator_t *m); /* pacing from the allocation slow path */
int vmrt__gc_collect_full(vmrt_gc_mutator_t *m, bool compact);   /* world running */
int vmrt__gc_step(vmrt_gc_mutator_t *m);                         /* world running */
void vmrt__gc_set_step_work(struct vmrt_gc *gc, size_t objects); /* test hook */
void vmrt__gc_set_satb_lost(struct vmrt_gc *gc);                 /* test hook */
void vmrt__gc_set_card_work(struct vmrt_gc *gc, size_t blocks);  /* test hook */
bool vmrt__gc_cards_pending(struct vmrt_gc *gc);                 /* test hook */
bool vmrt__gc_is_marked(struct vmrt_gc *gc, const void *obj);    /* test hook */
bool vmrt__gc_is_valid(struct vmrt_gc *gc, const void *obj);     /* test hook */
void vmrt__gc_finish_sweep(struct vmrt_gc *gc);                  /* test hook */

#define GC_TRACE(gc, ...)                                                                          \
    do {                                                                                           \
        if ((gc)->trace)                                                                           \
            fprintf(stderr, __VA_ARGS__);                                                          \
    } while (0)

#endif
