/* The GcRuntime object: creation, mutators, and the collection cycle.
 *
 * A cycle (all phases but lazy sweeping run in pauses [INV-STW]) is full or
 * minor (generational mode, see gc_internal.h):
 *
 *   start   (thread holding gc->collecting) finish lazy sweeping, then in a
 *           pause: take back allocation caches; full: move to a fresh mark epoch,
 *           zero the blocks' marked bytes, clear the cards; turn the write
 *           barrier on, grey the roots.
 *   mark    a full collection drains the grey set in the same pause; an
 *           incremental cycle drains it in bounded steps (each a pause of
 *           about step_budget_ns), run by vmrt_gc_check_and_run_step and by
 *           allocation slow paths (assists). Each step first greys what the
 *           SATB barrier recorded; in a minor cycle, the steps first grey
 *           the old objects in dirty cards, a cursor's worth per step
 *           within its deadline, and marking ends only once all are done.
 *   finish  when a step finds nothing grey: clear dead weak references,
 *           resurrect finalizable objects, pin conservatively referenced
 *           objects, compact, free dead large objects and empty blocks,
 *           queue the other blocks for lazy sweeping, turn the barrier off,
 *           set the pacer's next goal.
 *
 * `collecting` serializes the thread that sweeps up to and starts a cycle;
 * everything else is serialized by the pause itself (one initiator at a
 * time, see safepoint.c). Phase changes happen only in pauses, so a
 * mutator that observes phase == MARKING outside a pause sees it stable
 * until its next safepoint.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>

#include "gc_internal.h"

static __thread vmrt_gc_mutator_t *tls_mutator;

/* The mark of a new object: black (the epoch) while marking; between
 * cycles, in generational mode, 0 (young: never equal to the epoch). */
static uint8_t alloc_mark(const vmrt_gc_t *gc, uint32_t marking)
{
    return marking || !gc->cards ? gc->epoch : 0;
}

/* The mark of the objects whose stores the card barrier records: old ones,
 * between cycles, in generational mode; none (0x100 matches no mark byte)
 * while marking: a cycle ends with every reachable object marked, so only
 * the stores made after its end can create old-to-young references (and
 * objects allocated black during the cycle would dirty cards for nothing). */
static uint32_t card_mark_of(const vmrt_gc_t *gc, uint32_t marking)
{
    return gc->cards && !marking ? gc->epoch : 0x100u;
}

void vmrt_gc_config_init(vmrt_gc_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->reserve = (size_t)16 << 30;
    cfg->retain_bytes = (size_t)16 << 20;
    cfg->trigger = VMRT_GC_TRIGGER_ADAPTIVE;
    cfg->threshold_bytes = (size_t)8 << 20;
    cfg->gogc = 30;
    cfg->min_heap = (size_t)4 << 20;
    cfg->pressure_ratio = 0.8;
    cfg->interval_ns = 1000000000u;
    cfg->step_budget_ns = 200000u;
    cfg->compact = true;
    cfg->compact_live_ratio = 0.3;
    cfg->enabled = true;
    cfg->generational = true;
}

static void gc_free_all(vmrt_gc_t *gc)
{
    vmrt__gc_markers_stop(gc);
    for (vmrt_gc_mutator_t *m = gc->mutators, *n; m; m = n) {
        n = m->next;
        free(m->roots);
        free(m->satb);
        free(m);
    }
    vmrt__gc_satb_destroy(gc);
    vmrt__gc_finalize_destroy(gc);
    vmrt__gc_roots_destroy(gc);
    vmrt__gc_heap_destroy(&gc->heap);
    if (gc->cards)
        munmap(gc->cards, gc->card_len);
    pthread_mutex_destroy(&gc->mu);
    pthread_mutex_destroy(&gc->roots_lock);
    pthread_mutex_destroy(&gc->st.lock);
    pthread_cond_destroy(&gc->cv_parked);
    pthread_cond_destroy(&gc->cv_resume);
    free(gc);
}

/* The card table: one byte per 512 bytes of the reservation, rounded up
 * to a power of two so that the barrier indexes it with a mask (any
 * address maps to some card; heap addresses to distinct ones). Reserved
 * like the heap: pages are touched only where the heap is used. */
static int cards_init(vmrt_gc_t *gc)
{
    size_t need = gc->heap.nblocks * GC_CARDS_PER_BLOCK, len = 4096;
    while (len < need)
        len <<= 1;
    void *p =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    gc->cards = p;
    gc->card_len = len;
    return 0;
}

int vmrt_gc_new(vmrt_gc_t **out, const vmrt_gc_config_t *cfg)
{
    *out = NULL;
    vmrt_gc_config_t def;
    if (!cfg) {
        vmrt_gc_config_init(&def);
        cfg = &def;
    }
    if (cfg->struct_size != sizeof *cfg || (unsigned)cfg->trigger > VMRT_GC_TRIGGER_TIME_BASED ||
        cfg->compact_live_ratio < 0 || cfg->compact_live_ratio > 1)
        return -EINVAL;
    vmrt_gc_t *gc = calloc(1, sizeof *gc);
    if (!gc)
        return -ENOMEM;
    gc->cfg = *cfg;
    if (!gc->cfg.step_budget_ns)
        gc->cfg.step_budget_ns = 200000u;
    /* Address space to reserve: VMRT_GC_RESERVE (bytes, K/M/G suffix)
     * overrides the configuration. Emulators such as qemu-user slow down
     * every later mmap in proportion to large reservations. */
    const char *rs = getenv("VMRT_GC_RESERVE");
    if (rs && *rs) {
        char *end;
        unsigned long long v = strtoull(rs, &end, 10);
        int shift = *end == 'K' || *end == 'k'   ? 10
                    : *end == 'M' || *end == 'm' ? 20
                    : *end == 'G' || *end == 'g' ? 30
                                                 : 0;
        if (v && v < (1ull << (63 - shift)))
            gc->cfg.reserve = (size_t)(v << shift);
    }
    const char *mk = getenv("VMRT_GC_MARKERS");
    if (mk && *mk)
        gc->cfg.markers = (unsigned)strtoul(mk, NULL, 10);
    const char *tr = getenv("VMRT_GCTRACE");
    gc->trace = tr && tr[0] ? atoi(tr) : 0;
    pthread_mutex_init(&gc->mu, NULL);
    pthread_mutex_init(&gc->roots_lock, NULL);
    pthread_cond_init(&gc->cv_parked, NULL);
    pthread_cond_init(&gc->cv_resume, NULL);
    vmrt__gc_stats_init(gc);
    gc->weak.next = gc->weak.prev = &gc->weak;
    gc->epoch = 1;
    atomic_store(&gc->enabled, cfg->enabled);
    atomic_store(&gc->incremental, cfg->incremental);
    atomic_store(&gc->trigger, (int)cfg->trigger);
    vmrt__gc_pacer_init(gc);
    gc->cycle_t0 = vmrt_now_ns();
    int rc = vmrt__gc_heap_init(&gc->heap, gc->cfg.reserve, cfg->max_heap, cfg->retain_bytes);
    if (!rc && cfg->generational)
        rc = cards_init(gc);
    if (!rc)
        rc = vmrt__gc_markers_start(gc);
    if (rc) {
        gc_free_all(gc);
        return rc;
    }
    *out = gc;
    return 0;
}

void vmrt_gc_destroy(vmrt_gc_t *gc)
{
    if (!gc)
        return;
    if (tls_mutator && tls_mutator->gc == gc)
        tls_mutator = NULL;
    gc_free_all(gc);
}

int vmrt_gc_thread_attach(vmrt_gc_t *gc, vmrt_gc_mutator_t **out)
{
    vmrt_gc_mutator_t *m = calloc(1, sizeof *m);
    if (!m)
        return -ENOMEM;
    m->gc = gc;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        void *lo;
        size_t sz;
        if (pthread_attr_getstack(&attr, &lo, &sz) == 0)
            m->stack_hi = (uintptr_t)lo + sz;
        pthread_attr_destroy(&attr);
    }
    m->fast.cards = gc->cards; /* NULL when not generational: old_mark then matches no
                                  mark byte, so the barrier never stores into it */
    m->fast.card_mask = gc->cards ? gc->card_len - 1 : 0;
    pthread_mutex_lock(&gc->mu);
    vmrt__gc_wait_pause_end_locked(gc);
    m->fast.marking = atomic_load(&gc->phase) == GC_MARKING;
    m->fast.old_mark = card_mark_of(gc, m->fast.marking);
    vmrt__gc_mutator_set_epoch(m, alloc_mark(gc, m->fast.marking));
    m->next = gc->mutators;
    if (gc->mutators)
        gc->mutators->prev = m;
    gc->mutators = m;
    gc->nmutators++;
    pthread_mutex_unlock(&gc->mu);
    tls_mutator = m;
    *out = m;
    return 0;
}

void vmrt_gc_thread_detach(vmrt_gc_mutator_t *m)
{
    if (!m)
        return;
    vmrt_gc_t *gc = m->gc;
    vmrt__gc_tlab_release(m);
    m->nroots = 0;
    for (;;) {
        vmrt_gc_safepoint_slow(m);
        pthread_mutex_lock(&gc->mu);
        if (!gc->stw)
            break;
        pthread_mutex_unlock(&gc->mu);
    }
    if (m->satb && m->satb->n) { /* its records still count this cycle */
        gc_satb_buf_t *b = m->satb;
        b->next = atomic_load(&gc->satb_full);
        while (!atomic_compare_exchange_weak(&gc->satb_full, &b->next, b))
            ;
        m->satb = NULL;
    }
    if (m->prev)
        m->prev->next = m->next;
    else
        gc->mutators = m->next;
    if (m->next)
        m->next->prev = m->prev;
    gc->nmutators--;
    pthread_mutex_unlock(&gc->mu);
    if (tls_mutator == m)
        tls_mutator = NULL;
    free(m->satb);
    free(m->roots);
    free(m);
}

vmrt_gc_mutator_t *vmrt_gc_current(vmrt_gc_t *gc)
{
    return tls_mutator && tls_mutator->gc == gc ? tls_mutator : NULL;
}

vmrt_gc_t *vmrt_gc_of(vmrt_gc_mutator_t *m)
{
    return m->gc;
}

void vmrt_gc_set_enabled(vmrt_gc_t *gc, bool on)
{
    atomic_store(&gc->enabled, on);
}

bool vmrt_gc_enabled(vmrt_gc_t *gc)
{
    return atomic_load(&gc->enabled);
}

void vmrt_gc_set_incremental(vmrt_gc_t *gc, bool on)
{
    atomic_store(&gc->incremental, on);
}

bool vmrt_gc_incremental(vmrt_gc_t *gc)
{
    return atomic_load(&gc->incremental);
}

int vmrt_gc_set_trigger(vmrt_gc_t *gc, vmrt_gc_trigger_t policy)
{
    if ((unsigned)policy > VMRT_GC_TRIGGER_TIME_BASED)
        return -EINVAL;
    atomic_store(&gc->trigger, (int)policy);
    return 0;
}

vmrt_gc_trigger_t vmrt_gc_trigger(vmrt_gc_t *gc)
{
    return (vmrt_gc_trigger_t)atomic_load(&gc->trigger);
}

void vmrt_gc_set_limit(vmrt_gc_t *gc, size_t max_heap)
{
    pthread_mutex_lock(&gc->heap.lock);
    gc->heap.limit = max_heap;
    pthread_mutex_unlock(&gc->heap.lock);
}

bool vmrt_gc_in_cycle(vmrt_gc_t *gc)
{
    return atomic_load(&gc->phase) == GC_MARKING;
}

/* ---- The cycle ------------------------------------------------------------ */

/* CPU time of the calling thread (VMRT_GCTRACE=2: tells GC work from the
 * time the OS kept the thread off the CPU during a pause). */
static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int pause_begin(vmrt_gc_t *gc, vmrt_gc_mutator_t *m, uint64_t *t0)
{
    if (gc->trace >= 2)
        gc->pause_cpu0 = thread_cpu_ns();
    *t0 = vmrt_now_ns();
    return vmrt__gc_stop_world(gc, m);
}

static void pause_end(vmrt_gc_t *gc, vmrt_gc_mutator_t *m, uint64_t t0)
{
    uint64_t d = vmrt_now_ns() - t0;
    vmrt__gc_resume_world(gc, m);
    vmrt__gc_stats_pause(gc, d);
}

/* VMRT_GCTRACE=2: one line per pause: stopping, marking, finishing. */
static void trace_pause(vmrt_gc_t *gc, const char *kind, uint64_t t0, uint64_t t1, uint64_t t2)
{
    if (gc->trace < 2)
        return;
    uint64_t t3 = vmrt_now_ns(), cpu = thread_cpu_ns() - gc->pause_cpu0;
    fprintf(stderr,
            "gc %llu %s pause %.3f ms: stop+roots %.3f, mark %.3f, finish %.3f; on-CPU %.3f\n",
            (unsigned long long)gc->cycle, kind, (double)(t3 - t0) / 1e6, (double)(t1 - t0) / 1e6,
            (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6, (double)cpu / 1e6);
}

static void set_marking(vmrt_gc_t *gc, uint32_t on)
{
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next) {
        m->fast.marking = on;
        m->fast.old_mark = card_mark_of(gc, on);
        vmrt__gc_mutator_set_epoch(m, alloc_mark(gc, on));
    }
}

/* Every block's marked bytes start from zero (a full cycle). In a pause. */
static void live_bytes_clear(vmrt_gc_t *gc)
{
    gc_heap_t *h = &gc->heap;
    for (size_t i = 0; i < h->top; i++)
        atomic_store_explicit(&h->blocks[i].live_bytes, 0, memory_order_relaxed);
}

/* Sets every object's mark byte to 0 (white in a full cycle, whatever its
 * epoch). O(heap); only after GC_EPOCHS - 1 restarts of one cycle. In a pause. */
static void marks_reset(vmrt_gc_t *gc)
{
    gc_heap_t *h = &gc->heap;
    for (size_t i = 0; i < h->top; i++) {
        gc_block_t *b = &h->blocks[i];
        uintptr_t start = gc_block_addr(h, b);
        if (b->kind == GC_BLOCK_SMALL) {
            for (size_t k = 0; k < b->nslots; k++) {
                gc_hdr_t *o = (gc_hdr_t *)(start + k * b->slot_size);
                if (o->type && !(o->type & 1))
                    atomic_store_explicit(&o->mark, 0, memory_order_relaxed);
            }
        } else if (b->kind == GC_BLOCK_LARGE) {
            gc_hdr_t *o = (gc_hdr_t *)(start + GC_LARGE_PREFIX);
            atomic_store_explicit(&o->mark, 0, memory_order_relaxed);
        }
    }
}

/* The epoch of a full marking: a value no object holds. At the start of a
 * cycle every object holds 0 or the last cycle's epoch (epoch_base): every
 * block was swept [INV-EPOCH]. A restart (mark_some) must also avoid the
 * epochs of the abandoned attempts, whose objects it has to see white: the
 * epoch rotates through 1..GC_EPOCHS, and when it comes back to
 * epoch_base, every mark is reset first. In a pause. */
static uint8_t next_epoch(vmrt_gc_t *gc)
{
    uint8_t e = (uint8_t)(gc->epoch % GC_EPOCHS + 1);
    if (e == gc->epoch_base) {
        GC_TRACE(gc, "gc %llu: epochs exhausted by restarts; resetting every mark\n",
                 (unsigned long long)gc->cycle);
        marks_reset(gc);
        gc->epoch_base = e; /* the values after it are free again */
    }
    return e;
}

/* Greys the roots. A full cycle moves to a fresh epoch (every object turns
 * white); a minor one keeps the old objects' marks (sticky mark bits) and
 * greys, as further roots, the old objects in dirty cards. In a pause. */
static void begin_marking(vmrt_gc_t *gc, bool full)
{
    gc->minor = !full;
    if (full) {
        gc->epoch = next_epoch(gc);
        live_bytes_clear(gc);
        if (gc->cards)
            vmrt__gc_cards_clear(gc);
    }
    set_marking(gc, 1);
    /* Minor: the dirty cards are scanned by mark_some, within its deadline
     * (over several steps of an incremental cycle). */
    gc->cards_pending = !full;
    gc->card_cursor = 0;
    gc->card_traced = NULL;
    vmrt__gc_scan_roots(gc, &gc->markers[0]);
}

static void begin_cycle(vmrt_gc_t *gc, bool full)
{
    gc->cycle++;
    gc->finish_deferred = false;
    vmrt__gc_tlab_release_all(gc);
    gc->pacer.alloc_at_start = atomic_load(&gc->alloc_bytes);
    pthread_mutex_lock(&gc->st.lock);
    gc->st.cycle_start_ns = vmrt_now_ns();
    pthread_mutex_unlock(&gc->st.lock);
    atomic_store(&gc->phase, GC_MARKING);
    gc->epoch_base = gc->epoch;
    begin_marking(gc, full || !gc->cards);
}

/* Drains the barrier buffers and marks until the deadline (0: to the end).
 * Returns true when nothing is grey. In a pause. */
static bool mark_some(vmrt_gc_t *gc, uint64_t deadline)
{
    uint64_t t0 = vmrt_now_ns();
    if (atomic_exchange(&gc->satb_lost, false)) {
        /* The barrier lost a record: restart marking from the roots. */
        GC_TRACE(gc, "gc: write-barrier buffer allocation failed; re-marking\n");
        vmrt__gc_grey_clear(gc);
        vmrt__gc_satb_drain(gc, &gc->markers[0]);
        vmrt__gc_grey_clear(gc);
        /* A minor cycle cannot unmark: restart as a full one, at an epoch
         * that neither the old objects nor this cycle's marks hold. */
        begin_marking(gc, true);
        deadline = 0;
    }
    vmrt__gc_satb_drain(gc, &gc->markers[0]);
    if (gc->cards_pending)
        gc->cards_pending = !vmrt__gc_scan_cards(gc, &gc->markers[0], deadline);
    /* Marking cannot end before every dirty card was scanned. */
    bool done = vmrt__gc_mark_drain(gc, deadline, !deadline || gc->cfg.parallel_steps) &&
                !gc->cards_pending;
    pthread_mutex_lock(&gc->st.lock);
    gc->st.cycle_mark_ns += vmrt_now_ns() - t0;
    pthread_mutex_unlock(&gc->st.lock);
    return done;
}

/* Whether opportunistic compaction may run in this final pause. Its
 * reference update walks every live object, about the cost of marking the
 * whole heap: an incremental cycle whose marking took longer than one step
 * budget skips it (no O(heap) work in a pause); stop-the-world cycles and
 * forced compactions always may. */
static bool compaction_fits(vmrt_gc_t *gc)
{
    if (!atomic_load(&gc->incremental))
        return true;
    pthread_mutex_lock(&gc->st.lock);
    uint64_t mark_ns = gc->st.cycle_mark_ns;
    pthread_mutex_unlock(&gc->st.lock);
    if (mark_ns <= gc->cfg.step_budget_ns)
        return true;
    GC_TRACE(gc, "gc %llu: no compaction in an incremental pause (marking took %.3f ms)\n",
             (unsigned long long)gc->cycle, (double)mark_ns / 1e6);
    return false;
}

/* The final pause of a cycle. Returns the live bytes. */
static size_t finish_cycle(vmrt_gc_t *gc, bool force_compact)
{
    size_t saved_limit = gc->mk_work_limit;
    gc->mk_work_limit = 0;
    vmrt__gc_weak_process(gc);
    vmrt__gc_finalize_process(gc);
    vmrt__gc_scan_conservative(gc, &gc->markers[0], true);
    vmrt__gc_mark_drain(gc, 0, true);
    gc->mk_work_limit = saved_limit;
    vmrt__gc_tlab_release_all(gc);
    bool forced = force_compact;
    /* A minor cycle's block statistics count old objects it did not mark:
     * only full cycles evacuate. */
    if (!gc->minor && (forced || (gc->cfg.compact && compaction_fits(gc))))
        vmrt__gc_compact(gc, forced);
    vmrt__gc_sweep_large(gc);
    size_t live = vmrt__gc_sweep_prepare(gc);
    set_marking(gc, 0);
    atomic_store(&gc->phase, GC_IDLE);
    vmrt__gc_pacer_cycle_end(gc, live, !gc->minor);
    pthread_mutex_lock(&gc->st.lock);
    gc->st.cycle_minor = gc->minor; /* minor_count: with gc_count, in stats_cycle_end */
    if (!gc->minor) {
        gc->st.s.live_full = live;
        if (live > gc->st.s.live_full_max)
            gc->st.s.live_full_max = live;
    }
    pthread_mutex_unlock(&gc->st.lock);
    size_t a = atomic_load(&gc->alloc_bytes); /* keep what was allocated during the cycle */
    atomic_store(&gc->alloc_bytes, a > gc->pacer.alloc_at_start ? a - gc->pacer.alloc_at_start : 0);
    return live;
}

static void after_cycle(vmrt_gc_t *gc, size_t live)
{
    pthread_mutex_lock(&gc->heap.lock);
    vmrt__gc_heap_trim(&gc->heap, vmrt__gc_heap_headroom(gc));
    pthread_mutex_unlock(&gc->heap.lock);
    vmrt__gc_stats_cycle_end(gc, live);
}

static bool try_collecting(vmrt_gc_t *gc)
{
    bool f = false;
    return atomic_compare_exchange_strong(&gc->collecting, &f, true);
}

/* Waits for `collecting`, parking at safepoints meanwhile. */
static void acquire_collecting(vmrt_gc_t *gc, vmrt_gc_mutator_t *m)
{
    while (!try_collecting(gc)) {
        vmrt_gc_safepoint_slow(m);
        sched_yield();
    }
}

static void cycle_starting(vmrt_gc_t *gc)
{
    vmrt__gc_sweep_all(gc);
    if (gc->cfg.on_cycle_start)
        gc->cfg.on_cycle_start(gc, gc->cycle + 1, gc->cfg.user);
}

/* Finishes a cycle in progress, then runs a complete one, world stopped
 * (a full one, or a minor one when !full in generational mode). */
static int collect(vmrt_gc_mutator_t *m, bool compact, bool wait, bool full)
{
    vmrt_gc_t *gc = m->gc;
    uint64_t t0;
    if (wait)
        acquire_collecting(gc, m);
    else if (!try_collecting(gc))
        return 0;
    int rc = 0;
    if (atomic_load(&gc->phase) == GC_MARKING) {
        rc = pause_begin(gc, m, &t0);
        if (rc)
            goto out;
        size_t live = 0;
        bool was = atomic_load(&gc->phase) == GC_MARKING;
        if (was) {
            mark_some(gc, 0);
            live = finish_cycle(gc, false);
        }
        pause_end(gc, m, t0);
        if (was)
            after_cycle(gc, live);
    }
    cycle_starting(gc);
    rc = pause_begin(gc, m, &t0);
    if (rc)
        goto out;
    begin_cycle(gc, full || compact);
    mark_some(gc, 0);
    size_t live = finish_cycle(gc, compact);
    pause_end(gc, m, t0);
    after_cycle(gc, live);
    rc = 1;
out:
    atomic_store(&gc->collecting, false);
    return rc;
}

int vmrt__gc_collect_full(vmrt_gc_mutator_t *m, bool compact)
{
    return collect(m, compact, true, true);
}

/* Whether mark termination (finish_cycle) runs in this pause, now that
 * nothing is grey. An incremental pause whose marking has used its budget
 * so far that the last cycle's termination time would not fit leaves it
 * to the next pause (once per cycle; the barrier stays on meanwhile), so
 * that a pause lasts about max(step budget, termination) rather than
 * their sum. */
static bool finish_now(vmrt_gc_t *gc, uint64_t deadline)
{
    if (!deadline || gc->finish_deferred || vmrt_now_ns() + gc->finish_ns <= deadline)
        return true;
    gc->finish_deferred = true;
    return false;
}

/* finish_cycle, timed for finish_now. */
static size_t finish_timed(vmrt_gc_t *gc)
{
    uint64_t t = vmrt_now_ns();
    size_t live = finish_cycle(gc, false);
    gc->finish_ns = vmrt_now_ns() - t;
    gc->finish_deferred = false;
    return live;
}

static int start_incremental(vmrt_gc_mutator_t *m)
{
    vmrt_gc_t *gc = m->gc;
    if (!try_collecting(gc))
        return 0;
    int rc = 0;
    if (atomic_load(&gc->phase) == GC_IDLE) {
        cycle_starting(gc);
        uint64_t t0;
        rc = pause_begin(gc, m, &t0);
        if (!rc) {
            begin_cycle(gc, atomic_load(&gc->next_full));
            uint64_t t1 = vmrt_now_ns(), deadline = t1 + gc->cfg.step_budget_ns;
            bool done = mark_some(gc, deadline) && finish_now(gc, deadline);
            uint64_t t2 = vmrt_now_ns();
            size_t live = done ? finish_timed(gc) : 0;
            trace_pause(gc, "start", t0, t1, t2);
            pause_end(gc, m, t0);
            if (done)
                after_cycle(gc, live);
            rc = 1;
        }
    }
    atomic_store(&gc->collecting, false);
    return rc;
}

int vmrt__gc_step(vmrt_gc_mutator_t *m)
{
    vmrt_gc_t *gc = m->gc;
    if (atomic_load(&gc->phase) != GC_MARKING)
        return 0;
    uint64_t t0;
    int rc = pause_begin(gc, m, &t0);
    if (rc)
        return rc;
    if (atomic_load(&gc->phase) != GC_MARKING) {
        pause_end(gc, m, t0);
        return 0;
    }
    uint64_t t1 = vmrt_now_ns();
    uint64_t deadline = atomic_load(&gc->incremental) ? t1 + gc->cfg.step_budget_ns : 0;
    bool done = mark_some(gc, deadline) && finish_now(gc, deadline);
    uint64_t t2 = vmrt_now_ns();
    size_t live = done ? finish_timed(gc) : 0;
    trace_pause(gc, done ? "final" : "step", t0, t1, t2);
    pause_end(gc, m, t0);
    pthread_mutex_lock(&gc->st.lock);
    gc->st.s.incremental_steps++;
    pthread_mutex_unlock(&gc->st.lock);
    if (done)
        after_cycle(gc, live);
    return 1;
}

int vmrt__gc_poll(vmrt_gc_mutator_t *m)
{
    vmrt_gc_t *gc = m->gc;
    if (atomic_load_explicit(&gc->phase, memory_order_relaxed) == GC_MARKING)
        return vmrt__gc_step(m);
    if (!atomic_load_explicit(&gc->enabled, memory_order_relaxed) || !vmrt__gc_should_start(gc))
        return 0;
    if (atomic_load(&gc->incremental))
        return start_incremental(m);
    return collect(m, false, false, atomic_load(&gc->next_full));
}

int vmrt_gc_collect(vmrt_gc_mutator_t *m, unsigned flags)
{
    if (!m || (flags & ~(VMRT_GC_COMPACT | VMRT_GC_MINOR)))
        return -EINVAL;
    int rc = collect(m, flags & VMRT_GC_COMPACT, true, !(flags & VMRT_GC_MINOR));
    vmrt_gc_run_finalizers(m);
    return rc < 0 ? rc : 0;
}

int vmrt_gc_check_and_run_step(vmrt_gc_mutator_t *m)
{
    if (!m)
        return -EINVAL;
    vmrt_gc_safepoint(m);
    int rc = vmrt__gc_poll(m);
    vmrt_gc_run_finalizers(m);
    return rc;
}

/* ---- Test hooks ------------------------------------------------------------ */

void vmrt__gc_set_step_work(vmrt_gc_t *gc, size_t objects)
{
    gc->mk_work_limit = objects;
}

void vmrt__gc_set_card_work(vmrt_gc_t *gc, size_t blocks)
{
    gc->card_work_limit = blocks;
}

bool vmrt__gc_cards_pending(vmrt_gc_t *gc)
{
    return gc->cards_pending;
}

void vmrt__gc_set_satb_lost(vmrt_gc_t *gc)
{
    atomic_store(&gc->satb_lost, true);
}

bool vmrt__gc_is_marked(vmrt_gc_t *gc, const void *obj)
{
    return atomic_load(&gc_hdr(obj)->mark) == gc->epoch;
}

void vmrt__gc_finish_sweep(vmrt_gc_t *gc)
{
    vmrt__gc_sweep_all(gc);
}

bool vmrt__gc_is_valid(vmrt_gc_t *gc, const void *obj)
{
    return vmrt__gc_find_object(&gc->heap, (uintptr_t)obj) == gc_hdr(obj);
}
