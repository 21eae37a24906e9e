/* Coroutine benchmarks. Usage: vmrt-bench-coro CASE ITERATIONS
 * Prints ns per operation. Cases:
 *   switch           two coroutines ping-ponging on one thread (ns per switch)
 *   swapcontext      the same with glibc ucontext (the peer)
 *   create_pooled    get + run to completion + release through a pool
 *   create_unpooled  create + run to completion + destroy
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include <vmrt/vmrt.h>

static volatile unsigned long sink;

static void *yielder(void *arg)
{
    unsigned long n = *(unsigned long *)arg;
    for (unsigned long i = 0; i < n; i++)
        vmrt_coro_yield();
    return NULL;
}

/* One resume + one yield = two switches. */
static double bench_switch(unsigned long iters)
{
    unsigned long rounds = iters / 2;
    vmrt_coro_t *co;
    if (vmrt_coro_create(&co, NULL, yielder, &rounds) != 0)
        exit(1);
    uint64_t t0 = vmrt_now_ns();
    while (vmrt_coro_state(co) != VMRT_CORO_TERMINATED)
        vmrt_coro_resume(co);
    uint64_t t1 = vmrt_now_ns();
    vmrt_coro_destroy(co);
    return (double)(t1 - t0) / (double)(rounds * 2);
}

static ucontext_t uc_main, uc_co;
static unsigned long uc_rounds;

static void uc_entry(void)
{
    for (unsigned long i = 0; i < uc_rounds; i++)
        swapcontext(&uc_co, &uc_main);
}

static double bench_swapcontext(unsigned long iters)
{
    uc_rounds = iters / 2;
    size_t sz = 64 * 1024;
    void *stack = malloc(sz);
    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = stack;
    uc_co.uc_stack.ss_size = sz;
    uc_co.uc_link = &uc_main;
    makecontext(&uc_co, uc_entry, 0);
    uint64_t t0 = vmrt_now_ns();
    for (unsigned long i = 0; i <= uc_rounds; i++)
        swapcontext(&uc_main, &uc_co);
    uint64_t t1 = vmrt_now_ns();
    free(stack);
    return (double)(t1 - t0) / (double)(uc_rounds * 2);
}

static void *empty(void *arg)
{
    sink++;
    return arg;
}

static double bench_create_pooled(unsigned long iters)
{
    vmrt_pool_t *pool;
    if (vmrt_pool_new(&pool, NULL) != 0)
        exit(1);
    uint64_t t0 = vmrt_now_ns();
    for (unsigned long i = 0; i < iters; i++) {
        vmrt_coro_t *co;
        if (vmrt_pool_get(pool, &co, NULL, empty, NULL) != 0)
            exit(1);
        vmrt_coro_resume(co);
        vmrt_pool_release(pool, co);
    }
    uint64_t t1 = vmrt_now_ns();
    vmrt_pool_destroy(pool);
    return (double)(t1 - t0) / (double)iters;
}

static double bench_create_unpooled(unsigned long iters)
{
    uint64_t t0 = vmrt_now_ns();
    for (unsigned long i = 0; i < iters; i++) {
        vmrt_coro_t *co;
        if (vmrt_coro_create(&co, NULL, empty, NULL) != 0)
            exit(1);
        vmrt_coro_resume(co);
        vmrt_coro_destroy(co);
    }
    uint64_t t1 = vmrt_now_ns();
    return (double)(t1 - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s switch|swapcontext|create_pooled|create_unpooled ITERATIONS\n",
                argv[0]);
        return 2;
    }
    unsigned long iters = strtoul(argv[2], NULL, 10);
    if (iters < 2) {
        fprintf(stderr, "%s: ITERATIONS must be at least 2\n", argv[0]);
        return 2;
    }
    double ns;
    if (!strcmp(argv[1], "switch"))
        ns = bench_switch(iters);
    else if (!strcmp(argv[1], "swapcontext"))
        ns = bench_swapcontext(iters);
    else if (!strcmp(argv[1], "create_pooled"))
        ns = bench_create_pooled(iters);
    else if (!strcmp(argv[1], "create_unpooled"))
        ns = bench_create_unpooled(iters);
    else {
        fprintf(stderr, "%s: unknown case '%s'\n", argv[0], argv[1]);
        return 2;
    }
    printf("%.3f\n", ns);
    return 0;
}
