/* vmrt_blocking(): runs a blocking function on an offload thread while the
 * calling coroutine is parked, so the vCPU keeps running other coroutines.
 *
 * A small pool of threads per scheduler (started on demand, at most
 * OFFLOAD_MAX) takes jobs from a mutex/condvar FIFO. The job lives on the
 * caller's stack; the caller does not return before the worker has marked it
 * done, even if cancelled (C cannot abandon a running call safely).
 */
#include "sched/sched_internal.h"

#include <stdlib.h>

#define OFFLOAD_MAX 16

typedef struct job {
    void *(*fn)(void *);
    void *arg;
    void *result;
    wait_t *w;
    _Atomic uint32_t done;
    struct job *next;
} job_t;

struct offload {
    pthread_mutex_t m;
    pthread_cond_t cv;
    job_t *head, *tail;
    unsigned nthreads, idle;
    bool stop;
    pthread_t threads[OFFLOAD_MAX];
};

static void *worker_main(void *arg)
{
    struct offload *o = arg;
    pthread_mutex_lock(&o->m);
    for (;;) {
        while (!o->head && !o->stop) {
            o->idle++;
            pthread_cond_wait(&o->cv, &o->m);
            o->idle--;
        }
        if (!o->head)
            break;
        job_t *j = o->head;
        o->head = j->next;
        if (!o->head)
            o->tail = NULL;
        pthread_mutex_unlock(&o->m);
        j->result = j->fn(j->arg);
        vmrt__wake(j->w, 0); /* fails harmlessly if the caller was cancelled */
        atomic_store_explicit(&j->done, 1, seq_cst); /* last touch of j */
        pthread_mutex_lock(&o->m);
    }
    pthread_mutex_unlock(&o->m);
    return NULL;
}

static struct offload *offload_get(struct vmrt_sched *s)
{
    pthread_mutex_lock(&s->off_lock);
    if (!s->off) {
        struct offload *o = calloc(1, sizeof *o);
        if (o) {
            pthread_mutex_init(&o->m, NULL);
            pthread_cond_init(&o->cv, NULL);
        }
        s->off = o;
    }
    pthread_mutex_unlock(&s->off_lock);
    return s->off;
}

void vmrt__offload_fini(struct vmrt_sched *s)
{
    struct offload *o = s->off;
    if (!o)
        return;
    pthread_mutex_lock(&o->m);
    o->stop = true;
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->m);
    for (unsigned i = 0; i < o->nthreads; i++)
        pthread_join(o->threads[i], NULL);
    pthread_mutex_destroy(&o->m);
    pthread_cond_destroy(&o->cv);
    free(o);
    s->off = NULL;
}

void *vmrt_blocking(void *(*fn)(void *), void *arg)
{
    vmrt_sched_t *s = vmrt_sched_current();
    struct offload *o = s ? offload_get(s) : NULL;
    if (!fn)
        return NULL;
    if (!o)
        return fn(arg);
    wait_t w;
    vmrt__wait_init(&w);
    job_t j = {.fn = fn, .arg = arg, .w = &w};
    pthread_mutex_lock(&o->m);
    if (o->stop) {
        pthread_mutex_unlock(&o->m);
        return fn(arg);
    }
    if (o->tail)
        o->tail->next = &j;
    else
        o->head = &j;
    o->tail = &j;
    if (!o->idle && o->nthreads < OFFLOAD_MAX &&
        pthread_create(&o->threads[o->nthreads], NULL, worker_main, o) == 0)
        o->nthreads++;
    else
        pthread_cond_signal(&o->cv);
    bool no_worker = o->nthreads == 0;
    pthread_mutex_unlock(&o->m);
    if (no_worker) { /* could not start any thread: run it here */
        pthread_mutex_lock(&o->m);
        o->head = o->tail = NULL;
        pthread_mutex_unlock(&o->m);
        return fn(arg);
    }
    vmrt__park(&w, 0);
    while (!atomic_load_explicit(&j.done, seq_cst))
        vmrt_yield(); /* cancelled while fn runs: wait for it */
    return j.result;
}
