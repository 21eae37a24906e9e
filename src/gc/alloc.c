/* Allocation: a per-mutator free list per size class (the thread-local
 * allocation cache), refilled a block at a time.
 *
 * Fast path (vmrt_gc_alloc, inline in include/vmrt/gc.h, payloads up to
 * VMRT_GC_INLINE_MAX): class = (size + 7) / 8, pop the free list
 * m->fast.free[class], write the two header words. No lock, no atomic RMW,
 * no zeroing: the payload of every free slot is already zero [INV-ZERO]
 * (recycled blocks are cleared when carved, blocks fresh from the OS are
 * zero, sweeping clears dead objects). Other fixed-size objects take
 * vmrt_gc_alloc_slow, which pops the same lists by a class table first.
 * The free list of a block belongs to one mutator at a time (b->owned);
 * blocks move between mutators only through the class lists under the heap
 * lock. In a pause the GC takes every cache back (tlab_release_all).
 *
 * Slow path: safepoint, pacing (may start or assist a cycle), then refill
 * from (1) swept blocks with free slots, (2) unswept blocks, swept here
 * (lazy sweeping), (3) a new block. At the heap limit: one full collection,
 * then the near_limit callback, then a clean failure (VMRT_ELIMIT).
 */
#include <errno.h>
#include <string.h>

#include "gc_internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "header word layout");

/* Two stores: the type word, then length | mark | pins | flags | class. The
 * object is not visible to any other thread yet. */
static inline void init_header(gc_hdr_t *h, const vmrt_gc_type_t *t, uint32_t len, uint8_t epoch,
                               uint8_t cls)
{
    uint64_t w = (uint64_t)len | (uint64_t)epoch << 32 | (uint64_t)cls << 56;
    h->type = (uintptr_t)t;
    memcpy(&h->length, &w, sizeof w);
}

static int alloc_slow(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *t, size_t len, void **out);

/* Caches the second header word per class (mark epoch and class). */
void vmrt__gc_mutator_set_epoch(vmrt_gc_mutator_t *m, uint8_t epoch)
{
    m->epoch = epoch;
    for (unsigned c = 0; c < GC_NCLASSES; c++)
        m->fast.hdrw[c] = (uint64_t)epoch << 32 | (uint64_t)c << 56;
}

/* The out-of-line part of vmrt_gc_alloc (include/vmrt/gc.h): every
 * fixed-size type, from the caches when they have a slot, else refilling. */
void *vmrt_gc_alloc_slow(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *t)
{
#if !VMRT_STRESS_GC
    size_t sz = t->size;
    if (__builtin_expect(sz <= GC_SMALL_MAX - GC_HDR && !t->finalize, 1)) {
        unsigned c = vmrt__gc_size_class[(sz + GC_HDR + 7) >> 3];
        gc_free_t *f = m->fast.free[c];
        if (__builtin_expect(f != NULL, 1)) {
            m->fast.free[c] = f->next;
            f->type = (uintptr_t)t;
            memcpy(&f->next, &m->fast.hdrw[c], 8); /* length 0, mark, pins 0, flags 0, class */
            return (char *)f + GC_HDR;
        }
    }
#endif
    void *p = NULL;
    (void)alloc_slow(m, t, 0, &p);
    return p;
}

void *vmrt_gc_alloc_array(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *t, size_t length)
{
    void *p = NULL;
    (void)vmrt_gc_alloc_ex(m, t, length, &p);
    return p;
}

int vmrt_gc_alloc_ex(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *t, size_t length, void **out)
{
    *out = NULL;
    if (!m || !t || (length && !t->elem_size) || length > UINT32_MAX)
        return -EINVAL;
    return alloc_slow(m, t, length, out);
}

const vmrt_gc_type_t *vmrt_gc_type_of(const void *obj)
{
    return gc_type(gc_hdr(obj));
}

size_t vmrt_gc_length(const void *obj)
{
    return gc_hdr(obj)->length;
}

static void push_avail(gc_heap_t *h, gc_block_t *b)
{
    if (b->listed)
        return;
    b->listed = 1;
    b->next = h->cls[b->cls].avail;
    h->cls[b->cls].avail = b;
}

/* Gives one class's cache back to its block. Caller: the mutator itself,
 * or the GC during a pause. */
static void tlab_release_class(vmrt_gc_mutator_t *m, unsigned c)
{
    gc_block_t *b = m->tlab[c];
    if (!b)
        return;
    gc_heap_t *h = &m->gc->heap;
    size_t n = 0;
    for (gc_free_t *f = m->fast.free[c]; f; f = f->next)
        n++;
    atomic_fetch_sub(&m->gc->alloc_bytes, n * b->slot_size);
    atomic_fetch_sub(&m->gc->alloc_total, n * b->slot_size);
    pthread_mutex_lock(&h->lock);
    b->owned = 0;
    b->freelist = m->fast.free[c];
    b->free_slots = (uint32_t)n;
    if (n)
        push_avail(h, b);
    pthread_mutex_unlock(&h->lock);
    m->fast.free[c] = NULL;
    m->tlab[c] = NULL;
}

void vmrt__gc_tlab_release(vmrt_gc_mutator_t *m)
{
    for (unsigned c = 0; c < GC_NCLASSES; c++)
        tlab_release_class(m, c);
}

void vmrt__gc_tlab_release_all(struct vmrt_gc *gc)
{
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next)
        vmrt__gc_tlab_release(m);
}

static void take_block(vmrt_gc_mutator_t *m, unsigned c, gc_block_t *b)
{
    if (atomic_load_explicit(&m->gc->phase, memory_order_relaxed) == GC_MARKING)
        b->evac = 2; /* new black objects: not a compaction candidate */
    m->fast.free[c] = b->freelist;
    m->tlab[c] = b;
    b->freelist = NULL;
    size_t bytes = (size_t)b->free_slots * b->slot_size;
    atomic_fetch_add(&m->gc->alloc_bytes, bytes);
    atomic_fetch_add(&m->gc->alloc_total, bytes);
}

static void build_fresh(gc_block_t *b, uintptr_t start)
{
    if (!b->zeroed) /* [INV-ZERO]: a recycled block; fresh ones are zero already */
        memset((void *)start, 0, GC_BLOCK_SIZE);
    b->zeroed = 0;
    gc_free_t *head = NULL;
    for (size_t i = b->nslots; i-- > 0;) {
        gc_free_t *f = (gc_free_t *)(start + i * b->slot_size);
        f->next = head;
        head = f;
    }
    b->freelist = head;
    b->free_slots = b->nslots;
}

/* Refills class c's cache. Errors: VMRT_ELIMIT, -ENOMEM. */
static int refill(vmrt_gc_mutator_t *m, unsigned c)
{
    struct vmrt_gc *gc = m->gc;
    gc_heap_t *h = &gc->heap;
    tlab_release_class(m, c);
    pthread_mutex_lock(&h->lock);
    for (;;) {
        gc_block_t *b = h->cls[c].avail;
        if (b) {
            h->cls[c].avail = b->next;
            b->listed = 0;
            b->owned = 1;
            pthread_mutex_unlock(&h->lock);
            take_block(m, c, b);
            return 0;
        }
        b = h->cls[c].unswept;
        if (b) {
            h->cls[c].unswept = b->next;
            b->listed = 0;
            b->owned = 1;
            pthread_mutex_unlock(&h->lock);
            size_t n = vmrt__gc_sweep_block(gc, b);
            if (n) {
                take_block(m, c, b);
                return 0;
            }
            pthread_mutex_lock(&h->lock);
            b->owned = 0;
            continue;
        }
        int rc = vmrt__gc_block_alloc(h, 1, &b);
        if (rc) {
            pthread_mutex_unlock(&h->lock);
            return rc;
        }
        vmrt__gc_small_init(h, b, c);
        b->owned = 1;
        pthread_mutex_unlock(&h->lock);
        build_fresh(b, gc_block_addr(h, b));
        take_block(m, c, b);
        return 0;
    }
}

static int alloc_large(vmrt_gc_mutator_t *m, size_t bytes, gc_hdr_t **out)
{
    struct vmrt_gc *gc = m->gc;
    gc_heap_t *h = &gc->heap;
    size_t total = bytes + GC_LARGE_PREFIX;
    size_t n = (total + GC_BLOCK_SIZE - 1) >> GC_BLOCK_SHIFT;
    gc_block_t *b;
    pthread_mutex_lock(&h->lock);
    int rc = vmrt__gc_block_alloc(h, n, &b);
    pthread_mutex_unlock(&h->lock);
    if (rc)
        return rc;
    uintptr_t start = gc_block_addr(h, b);
    if (!b->zeroed) /* fresh blocks are zero: their untouched pages stay non-resident */
        memset((void *)start, 0, total);
    b->zeroed = 0;
    gc_large_t *l = (gc_large_t *)start;
    l->bytes = n << GC_BLOCK_SHIFT;
    pthread_mutex_lock(&h->lock);
    l->next = h->large.next;
    l->prev = &h->large;
    h->large.next->prev = l;
    h->large.next = l;
    h->large_bytes += l->bytes;
    pthread_mutex_unlock(&h->lock);
    atomic_fetch_add(&gc->alloc_bytes, l->bytes);
    atomic_fetch_add(&gc->alloc_total, l->bytes);
    *out = (gc_hdr_t *)(start + GC_LARGE_PREFIX);
    return 0;
}

/* The slow path, also used for arrays and finalizable types. */
static int alloc_slow(vmrt_gc_mutator_t *m, const vmrt_gc_type_t *t, size_t len, void **out)
{
    struct vmrt_gc *gc = m->gc;
    if (t->elem_size && len > (SIZE_MAX - t->size - GC_HDR - GC_LARGE_PREFIX) / t->elem_size)
        return -ENOMEM;
    size_t bytes = GC_HDR + t->size + len * t->elem_size;
    vmrt_gc_safepoint(m);
#if VMRT_STRESS_GC
    vmrt__gc_collect_full(m, false);
#endif
    if (atomic_load_explicit(&gc->enabled, memory_order_relaxed))
        (void)vmrt__gc_poll(m);
    bool collected = false, called = false;
    gc_hdr_t *h = NULL;
    for (;;) {
        int rc;
        if (bytes <= GC_SMALL_MAX) {
            unsigned c = vmrt__gc_size_class[(bytes + 7) >> 3];
            gc_free_t *f = m->fast.free[c];
            if (f) {
                m->fast.free[c] = f->next;
                h = (gc_hdr_t *)f;
                init_header(h, t, (uint32_t)len, m->epoch, (uint8_t)c);
#if VMRT_STRESS_GC
                tlab_release_class(m, c); /* keep the inline fast path empty: every
                                             allocation comes here and collects */
#endif
                break;
            }
            rc = refill(m, c);
        } else {
            rc = alloc_large(m, bytes, &h);
            if (!rc) {
                init_header(h, t, (uint32_t)len, m->epoch, 0xff);
                break;
            }
        }
        if (rc == 0)
            continue;
        if (!collected) {
            collected = true;
            GC_TRACE(gc, "gc: allocation of %zu bytes hit the limit; full collection\n", bytes);
            int crc = vmrt__gc_collect_full(m, true);
            if (crc < 0 && crc != VMRT_ESTATE)
                return crc;
            continue;
        }
        if (!called && gc->cfg.near_limit) {
            called = true;
            if (gc->cfg.near_limit(gc, bytes, gc->cfg.user))
                continue;
        }
        return rc;
    }
    void *obj = gc_payload(h);
    if (t->finalize && vmrt__gc_finalizable_add(gc, obj) == 0)
        h->flags |= GC_F_FINALIZE;
    *out = obj;
    return 0;
}
