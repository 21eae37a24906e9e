/* Sweeping: lazy, one block at a time.
 *
 * At mark termination (in the pause) every small block goes on its class's
 * `unswept` list, except blocks with no live bytes, which are freed at once
 * without being touched, and blocks whose every slot is marked, which have
 * nothing to sweep and stay off the lists until the next cycle. Mutators sweep the blocks they are
 * about to allocate from (alloc.c: refill); whatever is left is swept by the thread that starts the
 * next cycle, before it moves the mark epoch [INV-EPOCH]. Large objects are swept in the pause (a
 * list walk).
 *
 * Sweeping a block rebuilds its free list from every slot that is free,
 * forwarded (evacuated) or unmarked, clearing the payload of the last two
 * (free slots hold zeroes [INV-ZERO], so allocation need not clear), and runs with the block owned
 * by the sweeper (b->owned), so no lock is held while touching its memory.
 */
#include <string.h>

#include "gc_internal.h"

static inline bool slot_live(const gc_hdr_t *h, uint8_t epoch)
{
    uintptr_t t = h->type;
    return t && !(t & 1) && atomic_load_explicit(&h->mark, memory_order_relaxed) == epoch;
}

/* Sweeps a block owned by the caller: every run of consecutive non-live
 * slots is cleared with one memset and linked in address order. */
size_t vmrt__gc_sweep_block(struct vmrt_gc *gc, gc_block_t *b)
{
    uint64_t t0 = vmrt_now_ns();
    uintptr_t start = gc_block_addr(&gc->heap, b);
    uint8_t epoch = gc->epoch;
    size_t ss = b->slot_size, n = b->nslots, nfree = 0, freed = 0;
    gc_free_t *head = NULL, **tail = &head;
    for (size_t i = 0; i < n;) {
        if (slot_live((const gc_hdr_t *)(start + i * ss), epoch)) {
            i++;
            continue;
        }
        size_t j = i;
        for (; j < n; j++) {
            const gc_hdr_t *h = (const gc_hdr_t *)(start + j * ss);
            if (slot_live(h, epoch))
                break;
            if (h->type && !(h->type & 1))
                freed += ss;
        }
        memset((void *)(start + i * ss), 0, (j - i) * ss); /* [INV-ZERO] */
        for (size_t k = i; k < j; k++) {
            gc_free_t *f = (gc_free_t *)(start + k * ss);
            *tail = f;
            tail = &f->next;
        }
        nfree += j - i;
        i = j;
    }
    *tail = NULL;
    b->freelist = head;
    b->free_slots = (uint32_t)nfree;
    /* What stays is marked: the block's old generation (minor cycles add
     * what they mark to it; full cycles start it from zero). */
    atomic_store_explicit(&b->live_bytes, (uint32_t)((n - nfree) * ss), memory_order_relaxed);
    b->swept_gen = gc->heap.gen;
    atomic_fetch_add(&gc->freed_total, freed);
    atomic_fetch_add(&gc->sweep_ns, vmrt_now_ns() - t0);
    return nfree;
}

/* Finishes lazy sweeping; frees empty blocks and trims. World running. */
void vmrt__gc_sweep_all(struct vmrt_gc *gc)
{
    gc_heap_t *h = &gc->heap;
    pthread_mutex_lock(&h->lock);
    for (unsigned c = 0; c < GC_NCLASSES; c++) {
        gc_block_t *b;
        while ((b = h->cls[c].unswept) != NULL) {
            h->cls[c].unswept = b->next;
            b->listed = 0;
            b->owned = 1;
            pthread_mutex_unlock(&h->lock);
            size_t n = vmrt__gc_sweep_block(gc, b);
            pthread_mutex_lock(&h->lock);
            b->owned = 0;
            if (n == b->nslots) {
                vmrt__gc_block_free(h, b);
            } else if (n) {
                b->listed = 1;
                b->next = h->cls[c].avail;
                h->cls[c].avail = b;
            }
        }
    }
    vmrt__gc_heap_trim(h, vmrt__gc_heap_headroom(gc));
    pthread_mutex_unlock(&h->lock);
}

/* In the final pause, after compaction: rebuild the class lists. Every
 * mutator cache has been released. Returns the bytes marked. */
size_t vmrt__gc_sweep_prepare(struct vmrt_gc *gc)
{
    gc_heap_t *h = &gc->heap;
    size_t live = 0;
    pthread_mutex_lock(&h->lock);
    for (unsigned c = 0; c < GC_NCLASSES; c++)
        h->cls[c].unswept = h->cls[c].avail = NULL;
    for (size_t i = 0; i < h->top; i++) {
        gc_block_t *b = &h->blocks[i];
        if (b->kind == GC_BLOCK_LARGE) {
            /* sweep_large freed the unmarked ones: this one is marked (or
             * was allocated black) */
            const gc_hdr_t *hd = (const gc_hdr_t *)(gc_block_addr(h, b) + GC_LARGE_PREFIX);
            const vmrt_gc_type_t *t = gc_type(hd);
            live += GC_HDR + t->size + (size_t)hd->length * t->elem_size;
            b->pinned = b->evac = 0;
        }
        if (b->kind != GC_BLOCK_SMALL)
            continue;
        if (atomic_load_explicit(&b->live_bytes, memory_order_relaxed) == 0 && b->evac != 2) {
            /* Nothing marked and nothing allocated since marking began:
             * freed without touching its memory. */
            vmrt__gc_block_free(h, b);
            continue;
        }
        /* Kept: the block's marked bytes (full cycles start them from
         * zero, sweeping recounts them, minor cycles add to them). */
        size_t lv = atomic_load_explicit(&b->live_bytes, memory_order_relaxed);
        live += lv;
        b->pinned = b->evac = 0;
        b->owned = 0;
        b->freelist = NULL;
        if (lv == (size_t)b->nslots * b->slot_size) {
            /* Every slot marked: no dead object to clear, no free slot to
             * find; swept as it is (the next final pause looks again). */
            b->listed = 0;
            b->free_slots = 0;
            b->swept_gen = h->gen + 1;
            continue;
        }
        b->listed = 1;
        b->next = h->cls[b->cls].unswept;
        h->cls[b->cls].unswept = b;
    }
    h->gen++;
    pthread_mutex_unlock(&h->lock);
    return live;
}

/* In the final pause: frees unmarked large objects. Returns bytes freed. */
size_t vmrt__gc_sweep_large(struct vmrt_gc *gc)
{
    gc_heap_t *h = &gc->heap;
    size_t freed = 0;
    pthread_mutex_lock(&h->lock);
    for (gc_large_t *l = h->large.next, *next; l != &h->large; l = next) {
        next = l->next;
        gc_hdr_t *hd = (gc_hdr_t *)((char *)l + GC_LARGE_PREFIX);
        if (atomic_load_explicit(&hd->mark, memory_order_relaxed) == gc->epoch)
            continue;
        l->prev->next = l->next;
        l->next->prev = l->prev;
        h->large_bytes -= l->bytes;
        freed += l->bytes;
        vmrt__gc_block_free(h, vmrt__gc_block_of(h, (uintptr_t)l));
    }
    pthread_mutex_unlock(&h->lock);
    atomic_fetch_add(&gc->freed_total, freed);
    return freed;
}
