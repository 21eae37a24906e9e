/* Roots: registered global slots, per-mutator handle scopes (a shadow stack
 * of slot addresses), conservative ranges (explicit, attached threads'
 * stacks with their saved registers, stacks reported by the scheduler's
 * enumerate_stacks hook), and the finalization queue.
 *
 * Precise roots are updated when compaction moves their referents.
 * Conservative words are never updated: an object they reference is marked
 * and its block pinned for this cycle [INV-PIN], so it cannot move. Roots
 * are scanned once at the start of a cycle (SATB needs no re-scan); the
 * conservative ones are scanned again in the final pause, to pin objects
 * that became conservatively referenced during the cycle.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gc_internal.h"

static int grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*(void **)arrp, n * elem);
    if (!p)
        return -ENOMEM;
    *(void **)arrp = p;
    *cap = n;
    return 0;
}

int vmrt_gc_root_add(vmrt_gc_t *gc, void **slot)
{
    pthread_mutex_lock(&gc->roots_lock);
    int rc = grow(&gc->globals, &gc->globals_cap, gc->nglobals + 1, sizeof(void **));
    if (!rc)
        gc->globals[gc->nglobals++] = slot;
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

int vmrt_gc_root_remove(vmrt_gc_t *gc, void **slot)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nglobals; i++)
        if (gc->globals[i] == slot) {
            gc->globals[i] = gc->globals[--gc->nglobals];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

size_t vmrt_gc_scope_enter(vmrt_gc_mutator_t *m)
{
    return m->nroots;
}

void vmrt_gc_scope_leave(vmrt_gc_mutator_t *m, size_t mark)
{
    if (mark < m->nroots)
        m->nroots = mark;
}

int vmrt_gc_push_root(vmrt_gc_mutator_t *m, void *slot)
{
    if (m->nroots == m->roots_cap && grow(&m->roots, &m->roots_cap, m->nroots + 1, sizeof(void **)))
        return -ENOMEM;
    m->roots[m->nroots++] = slot;
    return 0;
}

int vmrt_gc_conservative_add(vmrt_gc_t *gc, const void *lo, const void *hi)
{
    if ((uintptr_t)hi < (uintptr_t)lo)
        return -EINVAL;
    pthread_mutex_lock(&gc->roots_lock);
    int rc = grow(&gc->ranges, &gc->ranges_cap, gc->nranges + 1, sizeof(gc_range_t));
    if (!rc)
        gc->ranges[gc->nranges++] = (gc_range_t){(uintptr_t)lo, (uintptr_t)hi};
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

int vmrt_gc_conservative_remove(vmrt_gc_t *gc, const void *lo)
{
    int rc = -ENOENT;
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nranges; i++)
        if (gc->ranges[i].lo == (uintptr_t)lo) {
            gc->ranges[i] = gc->ranges[--gc->nranges];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

int vmrt_gc_pin(void *obj)
{
    if (!obj)
        return -EINVAL;
    gc_hdr_t *h = gc_hdr(obj);
    uint8_t v = atomic_load(&h->pins);
    do {
        if (v == UINT8_MAX)
            return VMRT_ELIMIT;
    } while (!atomic_compare_exchange_weak(&h->pins, &v, (uint8_t)(v + 1)));
    return 0;
}

int vmrt_gc_unpin(void *obj)
{
    if (!obj)
        return -EINVAL;
    gc_hdr_t *h = gc_hdr(obj);
    uint8_t v = atomic_load(&h->pins);
    do {
        if (v == 0)
            return VMRT_ESTATE;
    } while (!atomic_compare_exchange_weak(&h->pins, &v, (uint8_t)(v - 1)));
    return 0;
}

typedef struct cons_ctx {
    struct vmrt_gc *gc;
    gc_marker_t *mk;
} cons_ctx_t;

/* Scans [lo, hi) word by word. Reads stack memory the compiler considers
 * out of bounds, hence no sanitizer instrumentation. */
__attribute__((no_sanitize("address", "thread"))) static void scan_words(void *arg, const void *lo,
                                                                         const void *hi)
{
    cons_ctx_t *c = arg;
    gc_heap_t *heap = &c->gc->heap;
    uintptr_t a = ((uintptr_t)lo + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
    for (; a + sizeof(void *) <= (uintptr_t)hi; a += sizeof(void *)) {
        uintptr_t w = *(const uintptr_t *)a;
        if (w < heap->base || w >= heap->end)
            continue;
        gc_hdr_t *h = vmrt__gc_find_object(heap, w);
        if (!h)
            continue;
        gc_block_t *b = vmrt__gc_block_of(heap, (uintptr_t)h);
        b->pinned = 1;
        vmrt__gc_mark_obj(c->gc, c->mk, gc_payload(h));
    }
}

/* Conservative roots; referents are marked and their blocks pinned. */
void vmrt__gc_scan_conservative(struct vmrt_gc *gc, gc_marker_t *mk, bool pin)
{
    (void)pin;
    cons_ctx_t c = {gc, mk};
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nranges; i++)
        scan_words(&c, (const void *)gc->ranges[i].lo, (const void *)gc->ranges[i].hi);
    pthread_mutex_unlock(&gc->roots_lock);
    if (gc->cfg.scan_thread_stacks)
        for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next) {
            if (!m->stack_hi || !m->sp)
                continue;
            scan_words(&c, (const void *)m->sp, (const void *)m->stack_hi);
            scan_words(&c, &m->regs, (const char *)&m->regs + sizeof m->regs);
        }
    if (gc->cfg.hooks.enumerate_stacks)
        gc->cfg.hooks.enumerate_stacks(gc->cfg.hooks.ctx, scan_words, &c);
}

int vmrt_gc_root_fn_add(vmrt_gc_t *gc, vmrt_gc_root_fn fn, void *arg)
{
    if (!gc || !fn)
        return -EINVAL;
    pthread_mutex_lock(&gc->roots_lock);
    int rc = 0;
    if (gc->nroot_fns == gc->root_fns_cap &&
        grow((void **)&gc->root_fns, &gc->root_fns_cap, gc->nroot_fns + 1, sizeof *gc->root_fns))
        rc = -ENOMEM;
    else
        gc->root_fns[gc->nroot_fns++] = (struct gc_root_fn){fn, arg};
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

int vmrt_gc_root_fn_remove(vmrt_gc_t *gc, vmrt_gc_root_fn fn, void *arg)
{
    if (!gc || !fn)
        return -EINVAL;
    int rc = -ENOENT;
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nroot_fns; i++)
        if (gc->root_fns[i].fn == fn && gc->root_fns[i].arg == arg) {
            gc->root_fns[i] = gc->root_fns[--gc->nroot_fns];
            rc = 0;
            break;
        }
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

static void root_fn_mark(vmrt_gc_visitor_t *v, void **slot)
{
    if (*slot)
        vmrt__gc_mark_obj(v->gc, v->mk, *slot);
}

/* Greys every root. In the pause that starts a cycle. */
void vmrt__gc_scan_roots(struct vmrt_gc *gc, gc_marker_t *mk)
{
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nglobals; i++)
        if (*gc->globals[i])
            vmrt__gc_mark_obj(gc, mk, *gc->globals[i]);
    for (size_t i = 0; i < gc->nto_finalize; i++)
        vmrt__gc_mark_obj(gc, mk, gc->to_finalize[i]);
    vmrt_gc_visitor_t rv = {.fn = root_fn_mark, .gc = gc, .mk = mk};
    for (size_t i = 0; i < gc->nroot_fns; i++)
        gc->root_fns[i].fn(&rv, gc->root_fns[i].arg);
    pthread_mutex_unlock(&gc->roots_lock);
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next)
        for (size_t i = 0; i < m->nroots; i++)
            if (*m->roots[i])
                vmrt__gc_mark_obj(gc, mk, *m->roots[i]);
    vmrt__gc_scan_conservative(gc, mk, true);
}

/* Applies v to every precise root slot (compaction). */
void vmrt__gc_fixup_roots(struct vmrt_gc *gc, vmrt_gc_visitor_t *v)
{
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nglobals; i++)
        v->fn(v, gc->globals[i]);
    for (size_t i = 0; i < gc->nroot_fns; i++)
        gc->root_fns[i].fn(v, gc->root_fns[i].arg);
    pthread_mutex_unlock(&gc->roots_lock);
    for (vmrt_gc_mutator_t *m = gc->mutators; m; m = m->next)
        for (size_t i = 0; i < m->nroots; i++)
            v->fn(v, m->roots[i]);
}

void vmrt__gc_roots_destroy(struct vmrt_gc *gc)
{
    free(gc->globals);
    free(gc->ranges);
    free(gc->root_fns);
    gc->root_fns = NULL;
    gc->globals = NULL;
    gc->ranges = NULL;
}
