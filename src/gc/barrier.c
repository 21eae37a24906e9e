/* Write barrier: snapshot-at-the-beginning (SATB, a deletion barrier).
 *
 * While marking is in progress, every reference overwritten in a heap
 * object is recorded before the store. Together with allocate-black this
 * keeps the invariant [INV-SATB]: every object reachable when the cycle
 * started, or allocated since, is marked by the end of the cycle. Roots
 * are scanned once, at the start, so handle scopes and stacks need no
 * barrier and no re-scan (that is why SATB rather than an insertion
 * (Dijkstra) barrier, which would need the roots re-scanned in the final
 * pause; Go's hybrid barrier needs the same shading as SATB plus a second
 * load).
 *
 * Fast path (inline in <vmrt/gc.h>): one load of m->fast.marking and one
 * branch. Slow path: append the old value to the mutator's buffer (no
 * lock: the buffer is the mutator's own). A full buffer is pushed on a
 * lock-free stack (CAS) and a fresh one popped from a free stack that only
 * pauses push to (so popping has no ABA problem). Pauses drain all buffers
 * [INV-STW].
 *
 * -Dno_write_barrier=true (or VMRT_TEST_NO_BARRIER for one test program)
 * compiles the slow path to nothing; tests/unit/gc/test_gc_barrier.c then
 * fails, which is how the barrier is shown to be necessary.
 */
#include <stdlib.h>

#include "gc_internal.h"

#if VMRT_NO_WRITE_BARRIER || defined(VMRT_TEST_NO_BARRIER)
#define BARRIER_ON 0
#else
#define BARRIER_ON 1
#endif

static gc_satb_buf_t *buf_get(struct vmrt_gc *gc)
{
    gc_satb_buf_t *b = atomic_load(&gc->satb_free);
    while (b && !atomic_compare_exchange_weak(&gc->satb_free, &b, b->next))
        ;
    if (!b)
        b = malloc(sizeof *b);
    if (b)
        b->n = 0;
    return b;
}

/* Records obj (not NULL) as overwritten or otherwise exposed. */
void vmrt__gc_satb_record(vmrt_gc_mutator_t *m, void *obj)
{
    struct vmrt_gc *gc = m->gc;
    gc_satb_buf_t *b = m->satb;
    if (!b || b->n == GC_SATB_CAP) {
        if (b) {
            b->next = atomic_load(&gc->satb_full);
            while (!atomic_compare_exchange_weak(&gc->satb_full, &b->next, b))
                ;
        }
        m->satb = b = buf_get(gc);
        if (!b) {
            atomic_store(&gc->satb_lost, true);
            return;
        }
    }
    b->v[b->n++] = obj;
}

void vmrt_gc_write_slow(vmrt_gc_mutator_t *m, void *old)
{
#if BARRIER_ON
    if (old)
        vmrt__gc_satb_record(m, old);
#else
    (void)m;
    (void)old;
#endif
}

static void drain_buf(struct vmrt_gc *gc, gc_marker_t *mk, gc_satb_buf_t *b)
{
    for (unsigned i = 0; i < b->n; i++)
        vmrt__gc_mark_obj(gc, mk, b->v[i]);
    b->n = 0;
}

/* Greys everything the barrier recorded. In a pause. */
void vmrt__gc_satb_drain(struct vmrt_gc *gc, gc_marker_t *mk)
{
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next)
        if (m->satb)
            drain_buf(gc, mk, m->satb);
    gc_satb_buf_t *b = atomic_exchange(&gc->satb_full, NULL);
    while (b) {
        gc_satb_buf_t *next = b->next;
        drain_buf(gc, mk, b);
        b->next = atomic_load(&gc->satb_free);
        atomic_store(&gc->satb_free, b);
        b = next;
    }
}

void vmrt__gc_satb_destroy(struct vmrt_gc *gc)
{
    gc_satb_buf_t *lists[2] = {atomic_exchange(&gc->satb_full, NULL),
                               atomic_exchange(&gc->satb_free, NULL)};
    for (int i = 0; i < 2; i++)
        for (gc_satb_buf_t *b = lists[i], *n; b; b = n) {
            n = b->next;
            free(b);
        }
}
