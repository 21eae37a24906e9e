/* Finalizers and weak references.
 *
 * Ordering, in the final pause of a cycle, after marking from the roots:
 *   1. Weak references whose target is unmarked are cleared (they read NULL
 *      from now on), whether or not the target has a finalizer.
 *   2. Finalizable objects that are unmarked are queued and resurrected:
 *      marked again, with everything they reference, so that the finalizer
 *      sees valid objects. Weak references cleared in step 1 stay cleared.
 *   3. After the pause, vmrt_gc_run_finalizers() (called by
 *      vmrt_gc_check_and_run_step and vmrt_gc_collect) runs each queued
 *      finalizer once, on a mutator thread, in no particular order; the
 *      object is kept in the caller's handle scope while it runs. It is
 *      freed by the first cycle that finds it unreachable again (it is no
 *      longer registered for finalization, so a finalizer that stores the
 *      object somewhere simply resurrects it for good).
 * The queue is a root until each finalizer has run.
 */
#include <errno.h>
#include <stdlib.h>

#include "gc_internal.h"

static int push(void ***arr, size_t *n, size_t *cap, void *obj)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        void **p = realloc(*arr, c * sizeof *p);
        if (!p)
            return -ENOMEM;
        *arr = p;
        *cap = c;
    }
    (*arr)[(*n)++] = obj;
    return 0;
}

int vmrt__gc_finalizable_add(struct vmrt_gc *gc, void *obj)
{
    pthread_mutex_lock(&gc->roots_lock);
    int rc = push(&gc->finalizable, &gc->nfinalizable, &gc->finalizable_cap, obj);
    pthread_mutex_unlock(&gc->roots_lock);
    return rc;
}

static bool marked(struct vmrt_gc *gc, void *obj)
{
    return atomic_load_explicit(&gc_hdr(obj)->mark, memory_order_relaxed) == gc->epoch;
}

/* Step 1. In the final pause. */
void vmrt__gc_weak_process(struct vmrt_gc *gc)
{
    uint64_t cleared = 0;
    pthread_mutex_lock(&gc->roots_lock);
    for (vmrt_gc_weak_t *w = gc->weak.next; w != &gc->weak; w = w->next)
        if (w->target && !marked(gc, w->target)) {
            w->target = NULL;
            cleared++;
        }
    pthread_mutex_unlock(&gc->roots_lock);
    pthread_mutex_lock(&gc->st.lock);
    gc->st.s.weak_cleared += cleared;
    pthread_mutex_unlock(&gc->st.lock);
}

/* Step 2. In the final pause; marks the resurrected objects to completion. */
void vmrt__gc_finalize_process(struct vmrt_gc *gc)
{
    bool any = false;
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nfinalizable;) {
        void *obj = gc->finalizable[i];
        if (marked(gc, obj)) {
            i++;
            continue;
        }
        if (push(&gc->to_finalize, &gc->nto_finalize, &gc->to_finalize_cap, obj)) {
            i++; /* no memory to queue it: keep it alive, try next cycle */
        } else {
            gc->finalizable[i] = gc->finalizable[--gc->nfinalizable];
            gc_hdr(obj)->flags &= (uint8_t)~GC_F_FINALIZE;
        }
        vmrt__gc_mark_obj(gc, &gc->markers[0], obj);
        any = true;
    }
    pthread_mutex_unlock(&gc->roots_lock);
    if (any)
        vmrt__gc_mark_drain(gc, 0, true);
}

/* Compaction: updates the finalization lists and weak targets. */
void vmrt__gc_finalize_fixup(struct vmrt_gc *gc, vmrt_gc_visitor_t *v)
{
    pthread_mutex_lock(&gc->roots_lock);
    for (size_t i = 0; i < gc->nfinalizable; i++)
        v->fn(v, &gc->finalizable[i]);
    for (size_t i = 0; i < gc->nto_finalize; i++)
        v->fn(v, &gc->to_finalize[i]);
    for (vmrt_gc_weak_t *w = gc->weak.next; w != &gc->weak; w = w->next)
        v->fn(v, &w->target);
    pthread_mutex_unlock(&gc->roots_lock);
}

int vmrt_gc_run_finalizers(vmrt_gc_mutator_t *m)
{
    struct vmrt_gc *gc = m->gc;
    int ran = 0;
    for (;;) {
        void *obj = NULL;
        pthread_mutex_lock(&gc->roots_lock);
        if (gc->nto_finalize)
            obj = gc->to_finalize[--gc->nto_finalize];
        pthread_mutex_unlock(&gc->roots_lock);
        if (!obj)
            break;
        size_t scope = vmrt_gc_scope_enter(m);
        if (vmrt_gc_push_root(m, &obj) == 0) {
            const vmrt_gc_type_t *t = vmrt_gc_type_of(obj);
            t->finalize(obj, t->finalize_user);
            ran++;
        }
        vmrt_gc_scope_leave(m, scope);
    }
    if (ran) {
        pthread_mutex_lock(&gc->st.lock);
        gc->st.s.finalizers_run += (uint64_t)ran;
        pthread_mutex_unlock(&gc->st.lock);
    }
    return ran;
}

int vmrt_gc_weak_new(vmrt_gc_mutator_t *m, void *obj, vmrt_gc_weak_t **out)
{
    struct vmrt_gc *gc = m->gc;
    vmrt_gc_weak_t *w = malloc(sizeof *w);
    if (!w)
        return -ENOMEM;
    w->target = obj;
    pthread_mutex_lock(&gc->roots_lock);
    w->next = gc->weak.next;
    w->prev = &gc->weak;
    gc->weak.next->prev = w;
    gc->weak.next = w;
    pthread_mutex_unlock(&gc->roots_lock);
    *out = w;
    return 0;
}

/* While marking, a target read through a weak reference may become strongly
 * reachable only from the mutator: the barrier records it (SATB). */
void *vmrt_gc_weak_get(vmrt_gc_mutator_t *m, vmrt_gc_weak_t *w)
{
    void *t = w->target;
    if (t && m->fast.marking)
        vmrt__gc_satb_record(m, t);
    return t;
}

void vmrt_gc_weak_free(vmrt_gc_t *gc, vmrt_gc_weak_t *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&gc->roots_lock);
    w->prev->next = w->next;
    w->next->prev = w->prev;
    pthread_mutex_unlock(&gc->roots_lock);
    free(w);
}

void vmrt__gc_finalize_destroy(struct vmrt_gc *gc)
{
    for (vmrt_gc_weak_t *w = gc->weak.next, *n; w != &gc->weak; w = n) {
        n = w->next;
        free(w);
    }
    free(gc->finalizable);
    free(gc->to_finalize);
}
