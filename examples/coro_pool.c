/* Embedding example: generators on vmrt coroutines, recycled by a pool.
 * Build against an installed vmrt:  cc coro_pool.c $(pkg-config --cflags --libs vmrt) */
#include <stdio.h>

#include <vmrt/vmrt.h>

/* Yields the squares of 1..n through *slot. */
static void *squares(void *arg)
{
    long *slot = arg;
    long n = *slot;
    for (long i = 1; i <= n; i++) {
        *slot = i * i;
        vmrt_coro_yield();
    }
    return NULL;
}

int main(void)
{
    vmrt_pool_t *pool;
    int err = vmrt_pool_new(&pool, NULL);
    if (err) {
        fprintf(stderr, "vmrt_pool_new: %s\n", vmrt_strerror(err));
        return 1;
    }
    long total = 0;
    for (int round = 0; round < 3; round++) {
        long slot = 4;
        vmrt_coro_t *co;
        err = vmrt_pool_get(pool, &co, NULL, squares, &slot);
        if (err) {
            fprintf(stderr, "vmrt_pool_get: %s\n", vmrt_strerror(err));
            return 1;
        }
        while (vmrt_coro_resume(co) == 0 && vmrt_coro_state(co) != VMRT_CORO_TERMINATED)
            total += slot;
        vmrt_pool_release(pool, co);
    }
    vmrt_pool_stats_t st;
    vmrt_pool_stats(pool, &st);
    printf("sum=%ld created=%llu reused=%llu\n", total, (unsigned long long)st.created,
           (unsigned long long)st.reused);
    return vmrt_pool_destroy(pool) == 0 ? 0 : 1;
}
