/* Marking: tri-colour, incremental, parallel with work stealing.
 *
 * White: mark != epoch. Grey: marked and on a marker's deque (or the
 * overflow stack). Black: marked and scanned. Pointer-free objects turn
 * black at once (never pushed).
 *
 * Marking runs only while the world is stopped [INV-STW]: a full
 * collection drains everything in one pause; an incremental step drains
 * until its deadline and leaves the rest grey on the deques, which persist
 * between steps. Marker 0 is the thread that stopped the world; markers
 * 1..n-1 are GC threads woken for each job. Each marker owns a Chase-Lev
 * deque (push/pop at the bottom by the owner, steal from the top by the
 * others); a full deque spills to a shared overflow stack under a mutex.
 *
 * Termination: a marker with no work increments mk_idle and watches the
 * deques; it leaves when mk_idle reaches the number of markers that joined
 * the job (then no deque can gain work: only busy markers push) or when the
 * step's deadline stopped the job. Helpers join when they wake up, unless
 * the job is already over: on a loaded machine the pause never waits for a
 * helper thread that was not scheduled in time.
 *
 * The grey set holds two kinds of items: marked objects to scan (from the
 * roots and the barrier), and edges (a child pointer | 1) that scanning
 * pushes without looking at the child. A marker puts popped edges through
 * a small FIFO after prefetching the child's header, and marks the child
 * when it leaves the FIFO, so header cache misses overlap instead of
 * stalling the scan one by one. Marking is an atomic exchange of the mark
 * byte only while helpers run; single-threaded drains use a plain store.
 *
 * Each marker first pushes to a private LIFO (plain stores; the deque's pop
 * costs a full fence) and moves the older half of it to its deque when the
 * LIFO fills up or, every 64 pushes, when another marker is idle.
 *
 * Live bytes per block (for compaction and early freeing) are accumulated
 * per marker while consecutive objects fall in the same block, and flushed
 * with one atomic add.
 */
#include <errno.h>
#include <sched.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gc_internal.h"

/* ---- Chase-Lev deque ---------------------------------------------------- */

static int dq_init(gc_deque_t *d)
{
    atomic_init(&d->top, 0);
    atomic_init(&d->bottom, 0);
    d->buf = calloc(GC_DQ_CAP, sizeof *d->buf);
    return d->buf ? 0 : -ENOMEM;
}

static bool dq_push(gc_deque_t *d, void *x)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
    if (b - t >= (int64_t)GC_DQ_CAP)
        return false;
    atomic_store_explicit(&d->buf[b & (GC_DQ_CAP - 1)], x, memory_order_relaxed);
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    return true;
}

static void *dq_pop(gc_deque_t *d)
{
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
    /* seq_cst store then seq_cst load: the store-load order the algorithm
     * needs (a fence in the original; TSan does not model fences). */
    atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    if (t > b) {
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    void *x = atomic_load_explicit(&d->buf[b & (GC_DQ_CAP - 1)], memory_order_relaxed);
    if (t == b) {
        if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                     memory_order_relaxed))
            x = NULL;
        atomic_store_explicit(&d->bottom, b + 1, memory_order_relaxed);
    }
    return x;
}

static void *dq_steal(gc_deque_t *d)
{
    int64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
    int64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
    if (t >= b)
        return NULL;
    void *x = atomic_load_explicit(&d->buf[t & (GC_DQ_CAP - 1)], memory_order_relaxed);
    if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return NULL;
    return x;
}

static bool dq_empty(gc_deque_t *d)
{
    return atomic_load_explicit(&d->bottom, memory_order_acquire) <=
           atomic_load_explicit(&d->top, memory_order_acquire);
}

/* ---- Grey set ------------------------------------------------------------ */

/* Pushes n items with one lock (publish: what the deque has no room for). */
static size_t ovf_push_n(struct vmrt_gc *gc, void *const *x, size_t n)
{
    pthread_mutex_lock(&gc->ovf_lock);
    if (gc->ovf_cap - gc->novf < n) {
        size_t cap = gc->ovf_cap ? gc->ovf_cap : 4096;
        while (cap - gc->novf < n)
            cap *= 2;
        void **nw = realloc(gc->ovf, cap * sizeof *nw);
        if (nw) {
            gc->ovf = nw;
            gc->ovf_cap = cap;
        } else {
            n = gc->ovf_cap - gc->novf; /* what still fits */
        }
    }
    if (n)
        memcpy(gc->ovf + gc->novf, x, n * sizeof *x);
    gc->novf += n;
    atomic_store_explicit(&gc->novf_hint, gc->novf, memory_order_release);
    pthread_mutex_unlock(&gc->ovf_lock);
    return n;
}

static void *ovf_pop(struct vmrt_gc *gc)
{
    if (!atomic_load_explicit(&gc->novf_hint, memory_order_acquire))
        return NULL;
    void *x = NULL;
    pthread_mutex_lock(&gc->ovf_lock);
    if (gc->novf)
        x = gc->ovf[--gc->novf];
    atomic_store_explicit(&gc->novf_hint, gc->novf, memory_order_release);
    pthread_mutex_unlock(&gc->ovf_lock);
    return x;
}

static void scan(struct vmrt_gc *gc, gc_marker_t *mk, void *obj);
static void process_edge(struct vmrt_gc *gc, gc_marker_t *mk, void *obj);

/* Moves the older half of the private LIFO (all of it when `all`) to the
 * shared deque. Returns false if the grey set cannot grow (no memory). */
static bool publish(struct vmrt_gc *gc, gc_marker_t *mk, bool all)
{
    unsigned n = all ? mk->npriv : mk->npriv / 2, k = 0;
    while (k < n && dq_push(&mk->dq, mk->priv[k]))
        k++;
    if (k < n) /* the deque is full: the rest in bulk */
        k += (unsigned)ovf_push_n(gc, mk->priv + k, n - k);
    memmove(mk->priv, mk->priv + k, (mk->npriv - k) * sizeof(void *));
    mk->npriv -= k;
    return k == n;
}

static inline bool push_item(struct vmrt_gc *gc, gc_marker_t *mk, void *item)
{
    if (mk->npriv == GC_PRIV && !publish(gc, mk, false) && mk->npriv == GC_PRIV)
        return false;
    mk->priv[mk->npriv++] = item;
    if ((mk->npriv & 63) == 0 && gc->mk_parallel &&
        atomic_load_explicit(&gc->mk_idle, memory_order_relaxed))
        publish(gc, mk, false);
    return true;
}

static inline void *pop_item(gc_marker_t *mk)
{
    return mk->npriv ? mk->priv[--mk->npriv] : dq_pop(&mk->dq);
}

static inline void grey_push(struct vmrt_gc *gc, gc_marker_t *mk, void *obj)
{
    if (!push_item(gc, mk, obj))
        scan(gc, mk, obj); /* out of memory for the grey set: scan it right here */
}

static inline void edge_push(struct vmrt_gc *gc, gc_marker_t *mk, void *child)
{
    if (!push_item(gc, mk, (void *)((uintptr_t)child | 1)))
        process_edge(gc, mk, child);
}

/* Whether nothing is grey in the shared structures (private LIFOs are
 * published whenever no job runs, so outside jobs this is the whole set). */
bool vmrt__gc_grey_empty(struct vmrt_gc *gc)
{
    if (atomic_load_explicit(&gc->novf_hint, memory_order_acquire))
        return false;
    for (unsigned i = 0; i < gc->nmarkers; i++)
        if (!dq_empty(&gc->markers[i].dq))
            return false;
    return true;
}

/* Drops every grey object (restarting a mark). In a pause. */
void vmrt__gc_grey_clear(struct vmrt_gc *gc)
{
    for (unsigned i = 0; i < gc->nmarkers; i++)
        gc->markers[i].npriv = 0;
    for (unsigned i = 0; i < gc->nmarkers; i++)
        while (!dq_empty(&gc->markers[i].dq))
            (void)dq_steal(&gc->markers[i].dq);
    pthread_mutex_lock(&gc->ovf_lock);
    gc->novf = 0;
    atomic_store(&gc->novf_hint, 0);
    pthread_mutex_unlock(&gc->ovf_lock);
}

/* ---- Marking and scanning ------------------------------------------------ */

static inline size_t obj_bytes(const gc_hdr_t *h)
{
    if (h->cls != 0xff)
        return vmrt__gc_class_size[h->cls];
    const vmrt_gc_type_t *t = gc_type(h);
    return GC_HDR + t->size + (size_t)h->length * t->elem_size;
}

static inline bool has_refs(const vmrt_gc_type_t *t)
{
    return t->ref_map || t->elem_refs || t->trace;
}

/* Adds accumulator k to its block's live bytes. */
static void lb_flush(gc_marker_t *mk, unsigned k)
{
    gc_block_t *b = mk->lb_block[k];
    if (mk->lb_bytes[k]) {
        if (mk->gc->mk_parallel)
            atomic_fetch_add_explicit(&b->live_bytes, mk->lb_bytes[k], memory_order_relaxed);
        else /* no other marker runs: no read-modify-write needed */
            atomic_store_explicit(&b->live_bytes,
                                  atomic_load_explicit(&b->live_bytes, memory_order_relaxed) +
                                      mk->lb_bytes[k],
                                  memory_order_relaxed);
    }
    mk->lb_bytes[k] = 0;
    mk->lb_block[k] = NULL;
}

void vmrt__gc_mark_flush(gc_marker_t *mk)
{
    for (unsigned k = 0; k < GC_LB_WAYS; k++)
        lb_flush(mk, k);
}

/* Marks obj if it is white and accounts its bytes; returns its type if it
 * must be scanned (it has references), else NULL. */
static inline const vmrt_gc_type_t *shade(struct vmrt_gc *gc, gc_marker_t *mk, void *obj)
{
    gc_hdr_t *h = gc_hdr(obj);
    uint8_t e = gc->epoch;
    if (atomic_load_explicit(&h->mark, memory_order_relaxed) == e)
        return NULL;
    if (gc->mk_parallel) {
        if (atomic_exchange_explicit(&h->mark, e, memory_order_relaxed) == e)
            return NULL;
    } else {
        atomic_store_explicit(&h->mark, e, memory_order_relaxed);
    }
    size_t bi = ((uintptr_t)h - gc->heap.base) >> GC_BLOCK_SHIFT;
    gc_block_t *b = &gc->heap.blocks[bi];
    uint32_t bytes;
    if (__builtin_expect(b->kind == GC_BLOCK_SMALL, 1)) {
        bytes = b->slot_size;
    } else {
        if (b->kind == GC_BLOCK_LARGE_CONT) {
            bi -= b->run;
            b -= b->run;
        }
        bytes = (uint32_t)obj_bytes(h);
    }
    unsigned k = (unsigned)bi & (GC_LB_WAYS - 1);
    if (__builtin_expect(b != mk->lb_block[k], 0)) {
        lb_flush(mk, k);
        mk->lb_block[k] = b;
    }
    mk->lb_bytes[k] += bytes;
    const vmrt_gc_type_t *t = gc_type(h);
    return has_refs(t) ? t : NULL;
}

static void scan_typed(struct vmrt_gc *gc, gc_marker_t *mk, void *obj, const vmrt_gc_type_t *t);

/* Greys obj if it is white. Any thread during a pause. */
void vmrt__gc_mark_obj(struct vmrt_gc *gc, gc_marker_t *mk, void *obj)
{
    if (shade(gc, mk, obj))
        grey_push(gc, mk, obj);
}

static __attribute__((noinline)) void process_edge(struct vmrt_gc *gc, gc_marker_t *mk, void *obj)
{
    const vmrt_gc_type_t *t = shade(gc, mk, obj);
    if (t)
        scan_typed(gc, mk, obj, t);
}

static void mark_visit(vmrt_gc_visitor_t *v, void **slot)
{
    void *p = *slot;
    if (p)
        edge_push(v->gc, v->mk, p);
}

/* Calls v->fn on every reference slot of the object. */
void vmrt__gc_trace_obj(gc_hdr_t *h, vmrt_gc_visitor_t *v)
{
    const vmrt_gc_type_t *t = gc_type(h);
    void **obj = gc_payload(h);
    if (t->trace) {
        t->trace(obj, v);
        return;
    }
    for (uint64_t m = t->ref_map; m; m &= m - 1)
        v->fn(v, &obj[__builtin_ctzll(m)]);
    if (t->elem_refs) {
        void **e = (void **)((char *)obj + t->size);
        for (uint32_t i = 0; i < h->length; i++)
            v->fn(v, &e[i]);
    }
}

/* Reference arrays are scanned in chunks so that one long array cannot
 * overrun an incremental step: scanning pushes a continuation item,
 * obj | 2 | chunk << GC_CHUNK_SHIFT (payloads are 8-aligned and user
 * addresses are below 2^48), for the next chunk. */
#define GC_CHUNK_SHIFT 48
#define GC_CHUNK_MIN   1024u
_Static_assert(sizeof(void *) == 8, "array chunk items need 64-bit pointers");

static inline uint32_t array_chunk(uint32_t len)
{
    uint32_t c = len / 65535u + 1; /* at most 65535 chunks */
    return c > GC_CHUNK_MIN ? c : GC_CHUNK_MIN;
}

/* Scans elements [k * chunk, (k + 1) * chunk) of obj's reference array.
 * The next chunk is queued first, so that this chunk's elements are
 * processed before it (the grey stack stays one chunk deep per array); if
 * the grey set cannot grow or the address does not fit the item encoding,
 * the next chunks are scanned here. */
static void scan_array(struct vmrt_gc *gc, gc_marker_t *mk, void *obj, const vmrt_gc_type_t *t,
                       uint32_t k)
{
    void **e = (void **)((char *)obj + t->size);
    uint32_t n = gc_hdr(obj)->length, cs = array_chunk(n);
    for (;; k++) {
        uint64_t lo = (uint64_t)k * cs, hi = lo + cs < n ? lo + cs : n;
        bool queued =
            hi < n && (uintptr_t)obj >> GC_CHUNK_SHIFT == 0 &&
            push_item(gc, mk, (void *)((uintptr_t)obj | 2 | (uintptr_t)(k + 1) << GC_CHUNK_SHIFT));
        for (uint64_t i = lo; i < hi; i++)
            if (e[i])
                edge_push(gc, mk, e[i]);
        if (hi >= n || queued)
            return;
    }
}

/* The scanning loop, inlined into the mark loop (the hot path). */
static inline __attribute__((always_inline)) void scan_body(struct vmrt_gc *gc, gc_marker_t *mk,
                                                            void *obj, const vmrt_gc_type_t *t)
{
    if (__builtin_expect(t->trace != NULL, 0)) {
        vmrt_gc_visitor_t v = {.fn = mark_visit, .gc = gc, .mk = mk};
        t->trace(obj, &v);
        return;
    }
    void **o = obj;
    for (uint64_t m = t->ref_map; m; m &= m - 1) {
        void *p = o[__builtin_ctzll(m)];
        if (p)
            edge_push(gc, mk, p);
    }
    if (t->elem_refs)
        scan_array(gc, mk, obj, t, 0);
}

static __attribute__((noinline)) void scan_typed(struct vmrt_gc *gc, gc_marker_t *mk, void *obj,
                                                 const vmrt_gc_type_t *t)
{
    scan_body(gc, mk, obj, t);
}

static void scan(struct vmrt_gc *gc, gc_marker_t *mk, void *obj)
{
    scan_typed(gc, mk, obj, gc_type(gc_hdr(obj)));
}

void vmrt_gc_visit(vmrt_gc_visitor_t *v, void **slot)
{
    v->fn(v, slot);
}

static void *steal(struct vmrt_gc *gc, gc_marker_t *mk)
{
    void *x = ovf_pop(gc);
    if (x)
        return x;
    unsigned n = gc->nmarkers;
    if (n < 2)
        return NULL;
    mk->seed = mk->seed * 1103515245u + 12345u;
    unsigned start = (mk->seed >> 16) % n;
    for (unsigned k = 0; k < n; k++) {
        gc_marker_t *v = &gc->markers[(start + k) % n];
        if (v == mk)
            continue;
        x = dq_steal(&v->dq);
        if (x) {
            atomic_fetch_add_explicit(&mk->steals, 1, memory_order_relaxed);
            return x;
        }
    }
    return NULL;
}

/* No work found: wait for global termination or new work. */
static bool terminate(struct vmrt_gc *gc, gc_marker_t *mk)
{
    atomic_fetch_add(&gc->mk_idle, 1);
    uint64_t deadline = gc->mk_deadline;
    for (unsigned spins = 0;; spins++) {
        if (deadline && (spins & 15) == 15 && vmrt_now_ns() >= deadline)
            atomic_store(&gc->mk_stop, true);
        if (atomic_load(&gc->mk_stop) || atomic_load(&gc->mk_idle) == atomic_load(&gc->mk_joined))
            return true;
        if (!vmrt__gc_grey_empty(gc)) {
            atomic_fetch_sub(&gc->mk_idle, 1);
            return false;
        }
        if (spins < 64)
            continue;
        if (mk->id != 0) {
            /* A helper idle this long leaves the job rather than take CPU time
             * from the markers that still work (idle first, so that the count
             * never looks terminated while a marker is busy). */
            atomic_fetch_sub(&gc->mk_idle, 1);
            atomic_fetch_sub(&gc->mk_joined, 1);
            return true;
        }
        if (spins < 256) {
            sched_yield();
        } else {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
}

#define GC_RING 16 /* edges in flight between prefetch and marking */

static void mark_loop(struct vmrt_gc *gc, gc_marker_t *mk)
{
    uint64_t deadline = gc->mk_deadline;
    size_t limit = gc->mk_work_limit;
    void *ring[GC_RING];
    unsigned rh = 0, rn = 0, n = 0;
    for (;;) {
        /* Every 64 items: stop requested (deadline reached by another
         * marker), or this step's deadline passed. */
        if ((++n & 63) == 0) {
            if (atomic_load_explicit(&gc->mk_stop, memory_order_relaxed))
                break;
            if (deadline && vmrt_now_ns() >= deadline) {
                atomic_store(&gc->mk_stop, true);
                break;
            }
        }
        void *o = pop_item(mk);
        if (!o)
            o = steal(gc, mk);
        if (!o && rn) { /* drain the FIFO before going idle */
            o = ring[rh];
            rh = (rh + 1) % GC_RING;
            rn--;
            process_edge(gc, mk, o);
        } else if (!o) {
            if (terminate(gc, mk))
                break;
            continue;
        } else if ((uintptr_t)o & 1) {
            void *c = (void *)((uintptr_t)o & ~(uintptr_t)1);
            __builtin_prefetch(gc_hdr(c), 1);
            if (rn < GC_RING) {
                ring[(rh + rn++) % GC_RING] = c;
                continue;
            }
            void *x = ring[rh];
            ring[rh] = c;
            rh = (rh + 1) % GC_RING;
            const vmrt_gc_type_t *t = shade(gc, mk, x);
            if (t)
                scan_body(gc, mk, x, t);
        } else if ((uintptr_t)o & 2) { /* the next chunk of a reference array */
            void *a = (void *)((uintptr_t)o & (((uintptr_t)1 << GC_CHUNK_SHIFT) - 4));
            scan_array(gc, mk, a, gc_type(gc_hdr(a)), (uint32_t)((uintptr_t)o >> GC_CHUNK_SHIFT));
        } else {
            scan_body(gc, mk, o, gc_type(gc_hdr(o)));
        }
        if (__builtin_expect(limit != 0, 0) &&
            (atomic_load(&gc->mk_stop) || atomic_fetch_add(&gc->mk_work, 1) + 1 >= limit)) {
            atomic_store(&gc->mk_stop, true); /* test hook: exact work limit */
            break;
        }
    }
    for (; rn; rn--, rh = (rh + 1) % GC_RING) /* stopped early: the edges stay grey */
        edge_push(gc, mk, ring[rh]);
    publish(gc, mk, true);
    vmrt__gc_mark_flush(mk);
}

static void *marker_main(void *arg)
{
    gc_marker_t *mk = arg;
    struct vmrt_gc *gc = mk->gc;
    uint64_t seen = 0;
    pthread_mutex_lock(&gc->mk_lock);
    for (;;) {
        while (gc->mk_job == seen && !gc->mk_quit)
            pthread_cond_wait(&gc->mk_cv, &gc->mk_lock);
        if (gc->mk_quit)
            break;
        seen = gc->mk_job;
        if (gc->mk_closed)
            continue;
        atomic_fetch_add(&gc->mk_joined, 1);
        gc->mk_running++;
        pthread_mutex_unlock(&gc->mk_lock);
        mark_loop(gc, mk);
        pthread_mutex_lock(&gc->mk_lock);
        if (--gc->mk_running == 0)
            pthread_cond_signal(&gc->mk_done_cv);
    }
    pthread_mutex_unlock(&gc->mk_lock);
    return NULL;
}

/* Drains the grey set until deadline_ns (0: until empty), with all markers
 * when parallel, else on the calling thread alone (marker 0 steals what
 * earlier parallel jobs left on the other deques). Returns true when nothing
 * grey is left. Caller: the pause initiator. */
bool vmrt__gc_mark_drain(struct vmrt_gc *gc, uint64_t deadline_ns, bool parallel)
{
    vmrt__gc_mark_flush(&gc->markers[0]);
    publish(gc, &gc->markers[0], true); /* what the roots and the barrier greyed */
    if (vmrt__gc_grey_empty(gc))
        return true;
    atomic_store(&gc->mk_stop, false);
    atomic_store(&gc->mk_idle, 0);
    atomic_store(&gc->mk_work, 0);
    pthread_mutex_lock(&gc->mk_lock);
    gc->mk_deadline = deadline_ns;
    gc->mk_running = 0;
    gc->mk_closed = false;
    gc->mk_parallel = gc->nmarkers > 1 && parallel;
    atomic_store(&gc->mk_joined, 1);
    if (gc->mk_parallel) {
        gc->mk_job++;
        pthread_cond_broadcast(&gc->mk_cv);
    }
    pthread_mutex_unlock(&gc->mk_lock);
    mark_loop(gc, &gc->markers[0]);
    pthread_mutex_lock(&gc->mk_lock);
    gc->mk_closed = true;
    while (gc->mk_running)
        pthread_cond_wait(&gc->mk_done_cv, &gc->mk_lock);
    gc->mk_parallel = false;
    pthread_mutex_unlock(&gc->mk_lock);
    return vmrt__gc_grey_empty(gc);
}

int vmrt__gc_markers_start(struct vmrt_gc *gc)
{
    unsigned n = gc->cfg.markers;
    if (!n) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus < 1 ? 1 : cpus > 4 ? 4 : (unsigned)cpus;
    }
    if (n > 64)
        n = 64;
    gc->markers = calloc(n, sizeof *gc->markers);
    if (!gc->markers)
        return -ENOMEM;
    pthread_mutex_init(&gc->mk_lock, NULL);
    pthread_mutex_init(&gc->ovf_lock, NULL);
    pthread_cond_init(&gc->mk_cv, NULL);
    pthread_cond_init(&gc->mk_done_cv, NULL);
    for (unsigned i = 0; i < n; i++) {
        gc_marker_t *mk = &gc->markers[i];
        mk->gc = gc;
        mk->id = i;
        mk->seed = 0x9e3779b9u * (i + 1);
        if (dq_init(&mk->dq)) {
            gc->nmarkers = i + 1;
            return -ENOMEM;
        }
    }
    gc->nmarkers = 1;
    for (unsigned i = 1; i < n; i++) {
        if (pthread_create(&gc->markers[i].thread, NULL, marker_main, &gc->markers[i]) != 0)
            break;
        gc->nmarkers = i + 1;
    }
    return 0;
}

void vmrt__gc_markers_stop(struct vmrt_gc *gc)
{
    if (!gc->markers)
        return;
    pthread_mutex_lock(&gc->mk_lock);
    gc->mk_quit = true;
    pthread_cond_broadcast(&gc->mk_cv);
    pthread_mutex_unlock(&gc->mk_lock);
    for (unsigned i = 1; i < gc->nmarkers; i++)
        pthread_join(gc->markers[i].thread, NULL);
    for (unsigned i = 0; i < gc->nmarkers; i++)
        free(gc->markers[i].dq.buf);
    free(gc->markers);
    free(gc->ovf);
    gc->markers = NULL;
    pthread_mutex_destroy(&gc->mk_lock);
    pthread_mutex_destroy(&gc->ovf_lock);
    pthread_cond_destroy(&gc->mk_cv);
    pthread_cond_destroy(&gc->mk_done_cv);
}

/* ---- The remembered set (generational mode) ------------------------------ */

/* Whether any of the n card bytes at c (n a multiple of 8) is set. */
static bool cards_dirty(const uint8_t *c, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, c + i, 8);
        if (w)
            return true;
    }
    return false;
}

static inline bool old_obj(const gc_hdr_t *h, uint8_t epoch)
{
    uintptr_t t = h->type;
    return t && !(t & 1) && atomic_load_explicit(&h->mark, memory_order_relaxed) == epoch;
}

/* Greys the young objects that the part [lo, hi) of old large object h
 * references: the elements of a reference array in that range (and the
 * fixed part's references when the range overlaps it). (An object with a
 * trace callback is scanned whole instead, once: vmrt__gc_scan_cards.) */
static void scan_large_range(struct vmrt_gc *gc, gc_marker_t *mk, gc_hdr_t *h, uintptr_t lo,
                             uintptr_t hi)
{
    const vmrt_gc_type_t *t = gc_type(h);
    void **obj = gc_payload(h);
    uintptr_t fixed_end = (uintptr_t)obj + t->size;
    if (lo < fixed_end)
        for (uint64_t m = t->ref_map; m; m &= m - 1) {
            void *p = obj[__builtin_ctzll(m)];
            if (p)
                edge_push(gc, mk, p);
        }
    if (!t->elem_refs)
        return;
    void **e = (void **)fixed_end;
    size_t n = h->length;
    size_t i = lo > fixed_end ? (lo - fixed_end) / sizeof(void *) : 0;
    size_t j = hi > fixed_end ? (hi - fixed_end + sizeof(void *) - 1) / sizeof(void *) : 0;
    if (j > n)
        j = n;
    for (; i < j; i++)
        if (e[i])
            edge_push(gc, mk, e[i]);
}

/* In the pauses of a minor cycle, from its start until the cursor reaches
 * the top of the heap: every old object in a dirty card may reference a
 * young one (vmrt_gc_write marked the card when it stored into the object
 * since the last cycle ended), so it is a root of this cycle: its
 * references are greyed (old referents are marked already and stop there).
 * Cards are cleared as they are scanned; at the end of any cycle no young
 * object is left, so cards dirtied during an incremental cycle only cost a
 * look in the next minor one.
 *
 * Deferring cards to later steps is safe: while marking, the card barrier
 * marks no card (old_mark matches no mark byte), so the cards hold what was
 * dirtied before the cycle started; a reference that such an old object
 * held then and that a store removed since was recorded by the SATB
 * barrier (on from the start pause), and what a store put there since is
 * black (allocated during the cycle) or was reachable at the start, i.e. is
 * reached from the roots, the cards or the SATB records anyway. Marking
 * ends only once the cursor is done (mark_some).
 *
 * Stops after the block during which the deadline (0: none) passed.
 * Returns true when every block is done. Marker 0, world stopped. */
bool vmrt__gc_scan_cards(struct vmrt_gc *gc, gc_marker_t *mk, uint64_t deadline)
{
    gc_heap_t *h = &gc->heap;
    uint8_t e = gc->epoch;
    unsigned clean = 0;
    size_t dirty = 0;
    for (size_t i = gc->card_cursor; i < h->top; i++) {
        gc_block_t *b = &h->blocks[i];
        uintptr_t start = h->base + (i << GC_BLOCK_SHIFT);
        uint8_t *c = gc_card(gc, start);
        if (!cards_dirty(c, GC_CARDS_PER_BLOCK)) {
            if (deadline && ++clean % 512 == 0 && vmrt_now_ns() >= deadline) {
                gc->card_cursor = i + 1;
                return false;
            }
            continue;
        }
#ifndef VMRT_TEST_NO_REMSET /* test: the remembered set ignored (must fail) */
        /* A small block's marked bytes count its old objects (every block
         * was swept, recounting them, or is fully marked, since the last
         * cycle ended), plus what this cycle marked in it so far: none
         * means no old object, only young ones whose initializing stores
         * dirtied the cards. (Young objects marked since, and objects
         * allocated black, now pass old_obj: scanning them again is only
         * extra work.) */
        if (b->kind == GC_BLOCK_SMALL &&
            atomic_load_explicit(&b->live_bytes, memory_order_relaxed) != 0) {
            size_t ss = b->slot_size, next = 0; /* slots below next are done */
            for (size_t k = 0; k < GC_CARDS_PER_BLOCK; k++) {
                if (!c[k])
                    continue;
                size_t lo = (k << GC_CARD_SHIFT) / ss, hi = (((k + 1) << GC_CARD_SHIFT) - 1) / ss;
                if (hi >= b->nslots)
                    hi = b->nslots - 1;
                if (lo < next) /* a slot across two dirty cards: once */
                    lo = next;
                next = hi + 1;
                for (size_t s = lo; s <= hi; s++) {
                    gc_hdr_t *o = (gc_hdr_t *)(start + s * ss);
                    if (old_obj(o, e) && has_refs(gc_type(o)))
                        grey_push(gc, mk, gc_payload(o));
                }
            }
        } else if (b->kind == GC_BLOCK_LARGE || b->kind == GC_BLOCK_LARGE_CONT) {
            gc_block_t *head = b->kind == GC_BLOCK_LARGE ? b : b - b->run;
            gc_hdr_t *o = (gc_hdr_t *)(gc_block_addr(h, head) + GC_LARGE_PREFIX);
            const vmrt_gc_type_t *t = gc_type(o);
            if (old_obj(o, e) && has_refs(t)) {
                if (!t->trace) {
                    for (size_t k = 0; k < GC_CARDS_PER_BLOCK; k++)
                        if (c[k]) {
                            uintptr_t lo = start + (k << GC_CARD_SHIFT);
                            scan_large_range(gc, mk, o, lo, lo + ((size_t)1 << GC_CARD_SHIFT));
                        }
                } else if (gc->card_traced != head) { /* scanned whole: once, not per card */
                    gc->card_traced = head;
                    grey_push(gc, mk, gc_payload(o));
                }
            }
        }
#else
        (void)b;
        (void)e;
        (void)mk;
        (void)scan_large_range;
#endif
        memset(c, 0, GC_CARDS_PER_BLOCK);
        /* (The test hook's limit applies to steps only: deadline 0 means
         * "to the end", e.g. a stop-the-world collection finishing the cycle.) */
        if (deadline && (vmrt_now_ns() >= deadline ||
                         (gc->card_work_limit && ++dirty == gc->card_work_limit))) {
            gc->card_cursor = i + 1;
            return i + 1 >= h->top;
        }
    }
    gc->card_cursor = h->top;
    return true;
}

/* Clears every card of the heap (a full cycle needs none). In a pause. */
void vmrt__gc_cards_clear(struct vmrt_gc *gc)
{
    gc_heap_t *h = &gc->heap;
    size_t first = (size_t)(gc_card(gc, h->base) - gc->cards), n = h->top * GC_CARDS_PER_BLOCK;
    size_t part = n < gc->card_len - first ? n : gc->card_len - first; /* the table wraps */
    memset(gc->cards + first, 0, part);
    memset(gc->cards, 0, n - part);
}
