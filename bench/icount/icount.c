/* Hot paths for instruction-count regression checks (run under callgrind by
 * scripts/icount.sh). Usage: vmrt-icount CASE N — runs the case's operation
 * N times; the checker takes the difference between two N to cancel start-up.
 * Cases: switch (one resume + one yield: two switches), pool (get + resume to
 * completion + release). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const struct {
    const char *name;
    int (*run)(unsigned long n);
} cases[] = {
    {"switch", case_switch},
    {"pool", case_pool},
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
