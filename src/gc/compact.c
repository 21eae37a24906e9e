/* Compaction: opportunistic evacuation of sparse blocks, in the final pause.
 *
 * Candidates are small blocks whose marked bytes are below
 * compact_live_ratio of their capacity, that hold no conservatively
 * referenced object (b->pinned) [INV-PIN] and were not allocated into
 * during the cycle. Unless forced, compaction runs only when the candidates
 * hold at least 1/8 of the heap as free space. Each live object of a
 * candidate is copied into a fresh block of its class (bump allocation)
 * and its old header becomes a forwarding pointer (type = new | 1);
 * objects with an explicit pin stay, and so does their block. Then every
 * reference is updated: the slots of every marked object in the heap, the
 * precise roots, weak references and the finalization lists. Fully
 * evacuated candidates are freed; the others are swept normally
 * (forwarded slots count as free).
 *
 * The reference update walks every live object: O(live heap) in the pause,
 * which is why compaction is opportunistic (and forced by
 * vmrt_gc_collect(VMRT_GC_COMPACT) or a heap-limit collection).
 */
#include <string.h>

#include "gc_internal.h"

typedef struct evac {
    gc_block_t *blk[GC_NCLASSES]; /* current target per class */
    uint32_t next[GC_NCLASSES];   /* next free slot in it */
    uint64_t moved, objects;
} evac_t;

/* A slot in a target block, or NULL at the heap limit. h->lock held. */
static gc_hdr_t *evac_alloc(struct vmrt_gc *gc, evac_t *e, unsigned cls)
{
    gc_heap_t *h = &gc->heap;
    gc_block_t *b = e->blk[cls];
    if (!b || e->next[cls] == b->nslots) {
        if (vmrt__gc_block_alloc(h, 1, &b))
            return NULL;
        vmrt__gc_small_init(h, b, cls);
        b->evac = 2;
        if (!b->zeroed)
            memset((void *)gc_block_addr(h, b), 0, GC_BLOCK_SIZE); /* free slots: [INV-ZERO] */
        b->zeroed = 0;
        e->blk[cls] = b;
        e->next[cls] = 0;
    }
    uintptr_t start = gc_block_addr(h, b);
    atomic_fetch_add_explicit(&b->live_bytes, b->slot_size, memory_order_relaxed);
    return (gc_hdr_t *)(start + (size_t)e->next[cls]++ * b->slot_size);
}

static void fixup_visit(vmrt_gc_visitor_t *v, void **slot)
{
    (void)v;
    void *p = *slot;
    if (!p)
        return;
    gc_hdr_t *h = gc_hdr(p);
    if (h->type & 1)
        *slot = gc_payload((gc_hdr_t *)(h->type & ~(uintptr_t)1));
}

static inline bool live(const gc_hdr_t *o, uint8_t epoch)
{
    return o->type && !(o->type & 1) &&
           atomic_load_explicit(&o->mark, memory_order_relaxed) == epoch;
}

static size_t choose(struct vmrt_gc *gc, bool force)
{
    gc_heap_t *h = &gc->heap;
    size_t n = 0, sparse_free = 0;
    for (size_t i = 0; i < h->top; i++) {
        gc_block_t *b = &h->blocks[i];
        if (b->kind != GC_BLOCK_SMALL || b->pinned || b->evac)
            continue;
        size_t cap = (size_t)b->nslots * b->slot_size;
        size_t lv = atomic_load_explicit(&b->live_bytes, memory_order_relaxed);
        if (lv && (double)lv < gc->cfg.compact_live_ratio * (double)cap) {
            b->evac = 1;
            n++;
            sparse_free += cap - lv;
        }
    }
    if (!n || force || sparse_free >= h->in_use / 8)
        return n;
    for (size_t i = 0; i < h->top; i++)
        if (h->blocks[i].evac == 1)
            h->blocks[i].evac = 0;
    return 0;
}

static void evacuate_block(struct vmrt_gc *gc, evac_t *e, gc_block_t *b)
{
    uintptr_t start = gc_block_addr(&gc->heap, b);
    for (uint32_t i = 0; i < b->nslots; i++) {
        gc_hdr_t *o = (gc_hdr_t *)(start + (size_t)i * b->slot_size);
        if (!live(o, gc->epoch))
            continue;
        gc_hdr_t *dst = NULL;
        if (atomic_load_explicit(&o->pins, memory_order_relaxed) == 0)
            dst = evac_alloc(gc, e, b->cls);
        if (!dst) {
            b->pinned = 1; /* stays; so does its block */
            continue;
        }
        memcpy(dst, o, b->slot_size);
        o->type = (uintptr_t)dst | 1;
        e->moved += b->slot_size;
        e->objects++;
    }
}

static void fixup_heap(struct vmrt_gc *gc, vmrt_gc_visitor_t *v)
{
    gc_heap_t *h = &gc->heap;
    for (size_t i = 0; i < h->top; i++) {
        gc_block_t *b = &h->blocks[i];
        if (b->kind == GC_BLOCK_SMALL) {
            uintptr_t start = gc_block_addr(h, b);
            for (uint32_t k = 0; k < b->nslots; k++) {
                gc_hdr_t *o = (gc_hdr_t *)(start + (size_t)k * b->slot_size);
                if (live(o, gc->epoch))
                    vmrt__gc_trace_obj(o, v);
            }
        } else if (b->kind == GC_BLOCK_LARGE) {
            gc_hdr_t *o = (gc_hdr_t *)(gc_block_addr(h, b) + GC_LARGE_PREFIX);
            if (live(o, gc->epoch))
                vmrt__gc_trace_obj(o, v);
        }
    }
}

void vmrt__gc_compact(struct vmrt_gc *gc, bool force)
{
    uint64_t t0 = vmrt_now_ns();
    gc_heap_t *h = &gc->heap;
    pthread_mutex_lock(&h->lock);
    size_t n = choose(gc, force);
    if (!n) {
        pthread_mutex_unlock(&h->lock);
        return;
    }
    evac_t e;
    memset(&e, 0, sizeof e);
    size_t top = h->top;
    for (size_t i = 0; i < top; i++)
        if (h->blocks[i].evac == 1)
            evacuate_block(gc, &e, &h->blocks[i]);
    vmrt_gc_visitor_t v = {.fn = fixup_visit, .gc = gc, .mk = NULL};
    fixup_heap(gc, &v);
    vmrt__gc_fixup_roots(gc, &v);
    vmrt__gc_finalize_fixup(gc, &v);
    for (size_t i = 0; i < top; i++) {
        gc_block_t *b = &h->blocks[i];
        if (b->evac != 1)
            continue;
        if (b->pinned)
            b->evac = 0;
        else
            vmrt__gc_block_free(h, b);
    }
    pthread_mutex_unlock(&h->lock);
    pthread_mutex_lock(&gc->st.lock);
    gc->st.s.bytes_moved += e.moved;
    gc->st.s.objects_moved += e.objects;
    gc->st.cycle_moved += e.moved;
    gc->st.cycle_compact_ns += vmrt_now_ns() - t0;
    pthread_mutex_unlock(&gc->st.lock);
}
