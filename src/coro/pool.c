/* CoroutinePool.
 *
 * Structures. `idle` is an array used as a LIFO stack: the most recently
 * released coroutine (warmest stack) is reused first. Entries deeper than
 * idle_high_water from the top are "trimmed": their stack pages are given
 * back with MADV_DONTNEED (the mapping and guard stay, so reuse costs only
 * page faults). Each push moves exactly one entry across that mark, so at
 * most one madvise happens per release. `active` is an intrusive doubly
 * linked list of every coroutine handed out and not yet released: it is the
 * leak report.
 *
 * Locking: one spinlock guards the counters and both structures; stack
 * allocation, factory hooks and freeing run outside it. Rejected
 * alternative: per-thread caches — faster under contention, but a leak
 * report then needs every thread's cooperation; revisit with the scheduler's
 * per-vCPU data.
 */
#include <vmrt/pool.h>

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coro/coro_internal.h"

struct vmrt_pool {
    atomic_flag lock;
    vmrt_pool_config_t cfg;
    vmrt_coro_t **idle; /* LIFO stack, capacity cfg.idle_max */
    bool *idle_trimmed; /* parallel to idle: stack already given back */
    size_t n_idle;
    vmrt_coro_t *active; /* head of the active list */
    vmrt_pool_stats_t st;
};

static void lock(vmrt_pool_t *p)
{
    unsigned spins = 0;
    while (atomic_flag_test_and_set_explicit(&p->lock, memory_order_acquire)) {
        if (++spins > 64) {
            sched_yield();
            spins = 0;
        }
    }
}

static void unlock(vmrt_pool_t *p)
{
    atomic_flag_clear_explicit(&p->lock, memory_order_release);
}

static uint64_t coarse_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vmrt_pool_config_init(vmrt_pool_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->stack_size = VMRT_CORO_DEFAULT_STACK;
    cfg->idle_max = 1024;
    cfg->idle_high_water = 64;
}

int vmrt_pool_new(vmrt_pool_t **out, const vmrt_pool_config_t *cfg)
{
    vmrt_pool_config_t defaults;
    if (!out)
        return -EINVAL;
    if (!cfg) {
        vmrt_pool_config_init(&defaults);
        cfg = &defaults;
    }
    if (cfg->size != sizeof *cfg || cfg->stack_size < VMRT_CORO_MIN_STACK ||
        cfg->stack_size > VMRT_CORO_MAX_STACK || cfg->idle_high_water > cfg->idle_max)
        return -EINVAL;
    vmrt_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->cfg = *cfg;
    p->idle = calloc(cfg->idle_max ? cfg->idle_max : 1, sizeof *p->idle);
    p->idle_trimmed = calloc(cfg->idle_max ? cfg->idle_max : 1, sizeof *p->idle_trimmed);
    if (!p->idle || !p->idle_trimmed) {
        free(p->idle);
        free(p->idle_trimmed);
        free(p);
        return -ENOMEM;
    }
    atomic_flag_clear(&p->lock);
    *out = p;
    return 0;
}

static void active_push(vmrt_pool_t *p, vmrt_coro_t *co)
{
    co->pool_prev = NULL;
    co->pool_next = p->active;
    if (p->active)
        p->active->pool_prev = co;
    p->active = co;
}

static void active_unlink(vmrt_pool_t *p, vmrt_coro_t *co)
{
    if (co->pool_prev)
        co->pool_prev->pool_next = co->pool_next;
    else
        p->active = co->pool_next;
    if (co->pool_next)
        co->pool_next->pool_prev = co->pool_prev;
    co->pool_prev = co->pool_next = NULL;
}

static void free_object(vmrt_pool_t *p, vmrt_coro_t *co)
{
    if (p->cfg.factory.fini)
        p->cfg.factory.fini(co, p->cfg.factory.arg);
    co->pool = NULL;
    vmrt_coro_destroy(co);
}

/* Allocates a fresh pooled coroutine and runs the factory's init hook. */
static int make_object(vmrt_pool_t *p, vmrt_coro_t **out)
{
    vmrt_coro_t *co;
    int err = vmrt__coro_alloc(&co, p->cfg.stack_size);
    if (err)
        return err;
    co->pool = p;
    if (p->cfg.factory.init) {
        err = p->cfg.factory.init(co, p->cfg.factory.arg);
        if (err) {
            co->pool = NULL;
            vmrt_coro_destroy(co);
            return err < 0 ? err : -EINVAL;
        }
    }
    *out = co;
    return 0;
}

int vmrt_pool_get_at(vmrt_pool_t *p, vmrt_coro_t **out, const vmrt_coro_attr_t *attr,
                     vmrt_coro_fn fn, void *arg, const char *file, int line)
{
    if (!p || !out || !fn || (attr && attr->size != sizeof *attr))
        return -EINVAL;
    uint64_t now = coarse_now_ns();
    vmrt_coro_t *co = NULL;
    lock(p);
    if (p->cfg.max_coroutines && p->st.active >= p->cfg.max_coroutines) {
        p->st.rejected++;
        unlock(p);
        return VMRT_ELIMIT;
    }
    p->st.active++;
    if (p->st.active > p->st.peak)
        p->st.peak = p->st.active;
    if (p->n_idle) {
        /* Fast path: one critical section. */
        co = p->idle[--p->n_idle];
        p->idle_trimmed[p->n_idle] = false;
        p->st.reused++;
        void *userdata = co->userdata; /* the factory's data survives reuse */
        vmrt__coro_init(co, attr, fn, arg);
        co->userdata = userdata;
        co->site_file = file;
        co->site_line = line;
        co->t_get_ns = now;
        active_push(p, co);
        unlock(p);
        if (p->cfg.factory.reset)
            p->cfg.factory.reset(co, p->cfg.factory.arg);
    } else {
        unlock(p);
        int err = make_object(p, &co);
        if (err) {
            lock(p);
            p->st.active--;
            unlock(p);
            return err;
        }
        void *userdata = co->userdata;
        vmrt__coro_init(co, attr, fn, arg);
        co->userdata = userdata;
        co->site_file = file;
        co->site_line = line;
        co->t_get_ns = now;
        lock(p);
        p->st.created++;
        active_push(p, co);
        unlock(p);
    }
    *out = co;
    return 0;
}

int vmrt_pool_release(vmrt_pool_t *p, vmrt_coro_t *co)
{
    if (!p || !co || co->pool != p)
        return -EINVAL;
    if (vmrt_coro_state(co) == VMRT_CORO_RUNNING)
        return VMRT_ESTATE;
    lock(p);
    active_unlink(p, co);
    p->st.active--;
    if (p->n_idle < p->cfg.idle_max) {
        p->idle_trimmed[p->n_idle] = false;
        p->idle[p->n_idle++] = co;
        co = NULL;
        size_t hw = p->cfg.idle_high_water;
        if (p->n_idle > hw) {
            size_t i = p->n_idle - 1 - hw; /* entry that just crossed the mark */
            if (!p->idle_trimmed[i]) {
                p->idle_trimmed[i] = true;
                vmrt__stack_trim(&p->idle[i]->stack);
                p->st.trimmed++;
            }
        }
    }
    unlock(p);
    if (co)
        free_object(p, co); /* idle cache full */
    return 0;
}

void vmrt_pool_stats(vmrt_pool_t *p, vmrt_pool_stats_t *out)
{
    lock(p);
    *out = p->st;
    out->idle = p->n_idle;
    unlock(p);
}

size_t vmrt_pool_leaks(vmrt_pool_t *p, vmrt_pool_leak_t *out, size_t max)
{
    uint64_t now = coarse_now_ns();
    size_t n = 0;
    lock(p);
    for (vmrt_coro_t *co = p->active; co; co = co->pool_next, n++) {
        if (n >= max)
            continue;
        vmrt_coro_state_t s = vmrt_coro_state(co);
        out[n] = (vmrt_pool_leak_t){
            .id = co->id,
            .name = co->name,
            .state = s,
            .age_ns = now > co->t_get_ns ? now - co->t_get_ns : 0,
            .file = co->site_file,
            .line = co->site_line,
            .finished = s == VMRT_CORO_TERMINATED,
        };
    }
    p->st.leaked = n;
    unlock(p);
    return n;
}

size_t vmrt_pool_report_leaks(vmrt_pool_t *p, FILE *f)
{
    size_t n = vmrt_pool_leaks(p, NULL, 0);
    if (!n)
        return 0;
    vmrt_pool_leak_t *leaks = calloc(n, sizeof *leaks);
    if (!leaks) {
        fprintf(f, "vmrt: pool: %zu leaked coroutines (no memory to list them)\n", n);
        return n;
    }
    size_t m = vmrt_pool_leaks(p, leaks, n);
    if (m > n)
        m = n;
    for (size_t i = 0; i < m; i++) {
        const vmrt_pool_leak_t *l = &leaks[i];
        fprintf(
            f, "vmrt: pool: leaked coroutine '%s' (id %llu, %s, %s) age %.3f s, created at %s:%d\n",
            l->name, (unsigned long long)l->id, vmrt_coro_state_name(l->state),
            l->finished ? "finished but never released" : "never finished", (double)l->age_ns / 1e9,
            l->file ? l->file : "?", l->line);
    }
    free(leaks);
    return m;
}

size_t vmrt_pool_shrink(vmrt_pool_t *p, size_t keep)
{
    size_t freed = 0;
    for (;;) {
        vmrt_coro_t *co = NULL;
        lock(p);
        if (p->n_idle > keep) {
            /* free the coldest (bottom) entries first */
            co = p->idle[0];
            memmove(p->idle, p->idle + 1, (p->n_idle - 1) * sizeof *p->idle);
            memmove(p->idle_trimmed, p->idle_trimmed + 1,
                    (p->n_idle - 1) * sizeof *p->idle_trimmed);
            p->n_idle--;
        }
        unlock(p);
        if (!co)
            return freed;
        free_object(p, co);
        freed++;
    }
}

size_t vmrt_pool_destroy(vmrt_pool_t *p)
{
    if (!p)
        return 0;
    size_t leaks = vmrt_pool_report_leaks(p, stderr);
    vmrt_pool_shrink(p, 0);
    vmrt_coro_t *co = p->active;
    while (co) {
        vmrt_coro_t *next = co->pool_next;
        if (vmrt_coro_state(co) != VMRT_CORO_RUNNING)
            free_object(p, co);
        else
            co->pool = NULL; /* running elsewhere: cannot be freed safely */
        co = next;
    }
    free(p->idle);
    free(p->idle_trimmed);
    free(p);
    return leaks;
}
