/* Hot paths for instruction-count regression checks (run under callgrind by
 * scripts/icount.sh). Usage: vmrt-icount CASE N — runs the case's operation
 * N times; the checker takes the difference between two N to cancel start-up.
 * Cases: switch (one resume + one yield: two switches), pool (get + resume to
 * completion + release), safepoint (the poll's fast path), sched_yield (a
 * yield through the scheduler and back), chan_send_recv (buffered send +
 * receive), chan_pingpong (a round trip between two coroutines blocking on
 * unbuffered channels), gc_alloc (allocation, refills of the buffer included),
 * gc_alloc_fast (allocations that hit the buffer only: the inline fast path),
 * gc_barrier (barrier fast path +
 * store). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmrt/sync.h>
#include <vmrt/vmrt.h>

static void *yield_forever(void *arg)
{
    (void)arg;
    for (;;)
        vmrt_coro_yield();
    return NULL;
}

static void *nothing(void *arg)
{
    return arg;
}

static int case_switch(unsigned long n)
{
    vmrt_coro_t *co;
    if (vmrt_coro_create(&co, NULL, yield_forever, NULL) != 0)
        return 1;
    for (unsigned long i = 0; i < n; i++)
        vmrt_coro_resume(co);
    return 0; /* the coroutine is left suspended: process exit frees it */
}

static int case_pool(unsigned long n)
{
    vmrt_pool_t *pool;
    if (vmrt_pool_new(&pool, NULL) != 0)
        return 1;
    for (unsigned long i = 0; i < n; i++) {
        vmrt_coro_t *co;
        if (vmrt_pool_get(pool, &co, NULL, nothing, NULL) != 0)
            return 1;
        vmrt_coro_resume(co);
        vmrt_pool_release(pool, co);
    }
    vmrt_pool_destroy(pool);
    return 0;
}

/* The safepoint poll on its fast path (no request pending). */
static int case_safepoint(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) {
        vmrt_safepoint();
        __asm__ volatile("" ::: "memory");
    }
    return 0;
}

static void *yielder(void *arg)
{
    unsigned long n = *(unsigned long *)arg;
    for (unsigned long i = 0; i < n; i++)
        vmrt_yield();
    return NULL;
}

/* A yield through the scheduler: coroutine -> vCPU loop -> coroutine, driven
 * by run_one on this thread (vcpus = 0: no other thread runs). */
static int case_sched_yield(unsigned long n)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 0;
    cfg.preemptive = false;
    vmrt_sched_t *s;
    vmrt_coro_t *co;
    if (vmrt_sched_new(&s, &cfg) || vmrt_sched_start(s) ||
        vmrt_sched_spawn(s, &co, NULL, yielder, &n))
        return 1;
    for (unsigned long i = 0; i <= n; i++)
        vmrt_sched_run_one(s);
    return 0; /* process exit frees the scheduler */
}

static void *chan_loop(void *arg)
{
    vmrt_chan_t **ch = arg;
    unsigned long n = (unsigned long)(uintptr_t)ch[1];
    for (unsigned long i = 0; i < n; i++) {
        unsigned long v = i;
        vmrt_chan_send(ch[0], &v, 0);
        vmrt_chan_recv(ch[0], &v, 0);
    }
    return NULL;
}

/* A send and a receive on a buffered channel (no waiting). */
static int case_chan(unsigned long n)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 0;
    vmrt_sched_t *s;
    vmrt_chan_t *ch;
    if (vmrt_chan_new(&ch, sizeof(unsigned long), 1) || vmrt_sched_new(&s, &cfg) ||
        vmrt_sched_start(s))
        return 1;
    void *args[2] = {ch, (void *)(uintptr_t)n};
    vmrt_coro_t *co;
    if (vmrt_sched_spawn(s, &co, NULL, chan_loop, args))
        return 1;
    while (vmrt_sched_run_one(s) > 0)
        ;
    return 0;
}

static vmrt_chan_t *pp_ping, *pp_pong;

static void *pp_pinger(void *arg)
{
    unsigned long n = (unsigned long)(uintptr_t)arg, v;
    for (unsigned long i = 0; i < n; i++) {
        v = i;
        vmrt_chan_send(pp_ping, &v, 0);
        vmrt_chan_recv(pp_pong, &v, 0);
    }
    return NULL;
}

static void *pp_ponger(void *arg)
{
    unsigned long n = (unsigned long)(uintptr_t)arg, v;
    for (unsigned long i = 0; i < n; i++) {
        vmrt_chan_recv(pp_ping, &v, 0);
        vmrt_chan_send(pp_pong, &v, 0);
    }
    return NULL;
}

/* A round trip over two unbuffered channels between two coroutines of one
 * vCPU thread: each side blocks every time (the direct hand-off's case). With
 * a High ponger, each ping readies a High coroutine that the Medium pinger's
 * vCPU must yield to (the High hand-off's case). */
static int pingpong(unsigned long n, vmrt_prio_t ponger_prio)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = 1;
    cfg.preemptive = false;
    vmrt_sched_t *s;
    vmrt_coro_t *a, *b;
    vmrt_coro_attr_t pa;
    vmrt_coro_attr_init(&pa);
    pa.priority = ponger_prio;
    if (vmrt_chan_new(&pp_ping, sizeof(unsigned long), 0) ||
        vmrt_chan_new(&pp_pong, sizeof(unsigned long), 0) || vmrt_sched_new(&s, &cfg) ||
        vmrt_sched_start(s) || vmrt_sched_spawn(s, &b, &pa, pp_ponger, (void *)(uintptr_t)n) ||
        vmrt_sched_spawn(s, &a, NULL, pp_pinger, (void *)(uintptr_t)n) ||
        vmrt_sched_join(a, NULL) || vmrt_sched_join(b, NULL))
        return 1;
    return 0; /* process exit frees the scheduler */
}

static int case_chan_pingpong(unsigned long n)
{
    return pingpong(n, VMRT_PRIO_MEDIUM);
}

static int case_chan_pingpong_high(unsigned long n)
{
    return pingpong(n, VMRT_PRIO_HIGH);
}

typedef struct pair {
    struct pair *next;
    uint64_t v;
} pair_t;

static const vmrt_gc_type_t pair_type = {.name = "pair", .size = sizeof(pair_t), .ref_map = 1};

static vmrt_gc_mutator_t *gc_mutator(void)
{
    vmrt_gc_config_t cfg;
    vmrt_gc_config_init(&cfg);
    cfg.enabled = false; /* measure the allocation path, not collections */
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    if (vmrt_gc_new(&gc, &cfg) || vmrt_gc_thread_attach(gc, &m))
        return NULL;
    return m;
}

/* The GC's allocation fast path (thread-local bump). */
static int case_gc_alloc(unsigned long n)
{
    vmrt_gc_mutator_t *m = gc_mutator();
    if (!m)
        return 1;
    for (unsigned long i = 0; i < n; i++)
        if (!vmrt_gc_alloc(m, &pair_type))
            return 1;
    return 0;
}

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND_H 1
#endif
#endif
#ifndef HAVE_CALLGRIND_H
#define CALLGRIND_TOGGLE_COLLECT /* not built with valgrind's header: everything counts */
#endif

/* The allocation fast path alone: only allocations that pop the mutator's
 * buffer (the inline path of vmrt_gc_alloc) are counted. Before each run
 * of allocations the case counts the free slots of the buffer (public ABI:
 * vmrt_gc_mutator_fast_t), and the refill that follows, with callgrind's
 * collection toggled off. Counted per allocation: the fast path plus the
 * loop (increment, compare, branch) and the NULL check of the result. */
static int case_gc_alloc_fast(unsigned long n)
{
    vmrt_gc_mutator_t *m = gc_mutator();
    if (!m)
        return 1;
    const vmrt_gc_mutator_fast_t *f = (const vmrt_gc_mutator_fast_t *)m;
    size_t c = (pair_type.size + 7) / 8;
    unsigned long done = 0;
    while (done < n) {
        CALLGRIND_TOGGLE_COLLECT;
        if (!f->free[c] && !vmrt_gc_alloc(m, &pair_type)) /* refill (slow path) */
            return 1;
        unsigned long k = 0;
        for (const vmrt_gc_free_t *s = f->free[c]; s && done + k < n; s = s->next)
            k++;
        CALLGRIND_TOGGLE_COLLECT;
        for (unsigned long i = 0; i < k; i++)
            if (!vmrt_gc_alloc(m, &pair_type))
                return 1;
        done += k;
    }
    return 0;
}

/* The write barrier's fast path (no marking in progress) plus the store. */
static int case_gc_barrier(unsigned long n)
{
    vmrt_gc_mutator_t *m = gc_mutator();
    pair_t *a = m ? vmrt_gc_alloc(m, &pair_type) : NULL,
           *b = a ? vmrt_gc_alloc(m, &pair_type) : NULL;
    if (!b)
        return 1;
    for (unsigned long i = 0; i < n; i++) {
        vmrt_gc_write(m, a, &a->next, (i & 1) ? b : NULL);
        __asm__ volatile("" ::: "memory");
    }
    return 0;
}

static const struct {
    const char *name;
    int (*run)(unsigned long n);
} cases[] = {
    {"switch", case_switch},
    {"pool", case_pool},
    {"safepoint", case_safepoint},
    {"sched_yield", case_sched_yield},
    {"chan_send_recv", case_chan},
    {"chan_pingpong", case_chan_pingpong},
    {"chan_pingpong_high", case_chan_pingpong_high},
    {"gc_alloc", case_gc_alloc},
    {"gc_alloc_fast", case_gc_alloc_fast},
    {"gc_barrier", case_gc_barrier},
};

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            puts(cases[i].name);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s --list | CASE N\n", argv[0]);
        return 2;
    }
    unsigned long n = strtoul(argv[2], NULL, 10);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (!strcmp(argv[1], cases[i].name))
            return cases[i].run(n);
    fprintf(stderr, "%s: unknown case '%s'\n", argv[0], argv[1]);
    return 2;
}
