/* Coroutines: switching, states, results, FP state, deep recursion, many
 * coroutines alive at once, migration between threads, bad arguments. */
#include "harness.h"

#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <string.h>

#include <vmrt/vmrt.h>

#include "coro/stack.h"

VT_DEFINE_GLOBALS;

static void *counter(void *arg)
{
    int *n = arg;
    for (int i = 0; i < 3; i++) {
        (*n)++;
        vmrt_coro_yield();
    }
    return (void *)(intptr_t)42;
}

static void test_resume_yield_result(void **state)
{
    (void)state;
    int n = 0;
    vmrt_coro_t *co;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "counter";
    ASSERT_OK(vmrt_coro_create(&co, &attr, counter, &n));
    ASSERT_STR_EQ(vmrt_coro_name(co), "counter");
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_READY);
    for (int i = 1; i <= 3; i++) {
        ASSERT_OK(vmrt_coro_resume(co));
        ASSERT_EQ(n, i);
        ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_READY);
    }
    ASSERT_NULL(vmrt_coro_result(co));
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_TERMINATED);
    ASSERT_EQ((intptr_t)vmrt_coro_result(co), 42);
    ASSERT_EQ(vmrt_coro_resume(co), VMRT_ESTATE);
    ASSERT_OK(vmrt_coro_destroy(co));
}

static void *self_check(void *arg)
{
    vmrt_coro_t **slot = arg;
    *slot = vmrt_coro_self();
    ASSERT_EQ(vmrt_coro_state(*slot), VMRT_CORO_RUNNING);
    return NULL;
}

static void test_self_and_running_state(void **state)
{
    (void)state;
    ASSERT_NULL(vmrt_coro_self());
    vmrt_coro_t *co, *seen = NULL;
    ASSERT_OK(vmrt_coro_create(&co, NULL, self_check, &seen));
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_TRUE(seen == co);
    ASSERT_NULL(vmrt_coro_self());
    vmrt_coro_destroy(co);
}

static void *inner(void *arg)
{
    int *trace = arg;
    *trace = *trace * 10 + 2;
    vmrt_coro_yield();
    *trace = *trace * 10 + 4;
    return NULL;
}

static void *outer(void *arg)
{
    int *trace = arg;
    vmrt_coro_t *in;
    ASSERT_OK(vmrt_coro_create(&in, NULL, inner, trace));
    *trace = *trace * 10 + 1;
    vmrt_coro_resume(in);
    ASSERT_TRUE(vmrt_coro_self() != in);
    *trace = *trace * 10 + 3;
    vmrt_coro_resume(in);
    ASSERT_EQ(vmrt_coro_state(in), VMRT_CORO_TERMINATED);
    vmrt_coro_destroy(in);
    return NULL;
}

static void test_nested(void **state)
{
    (void)state;
    int trace = 0;
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_coro_create(&co, NULL, outer, &trace));
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ(trace, 1234);
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_TERMINATED);
    vmrt_coro_destroy(co);
}

static unsigned long recurse(unsigned long depth)
{
    volatile char pad[64];
    pad[0] = (char)depth;
    if (depth == 0)
        return pad[0];
    return recurse(depth - 1) + 1 + (unsigned long)pad[0] * 0;
}

static void *deep(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)recurse(20000);
}

static void test_deep_recursion(void **state)
{
    (void)state;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.stack_size = 16u * 1024 * 1024;
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_coro_create(&co, &attr, deep, NULL));
    ASSERT_TRUE(vmrt_coro_stack_size(co) >= attr.stack_size);
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ((uintptr_t)vmrt_coro_result(co), 20000);
    vmrt_coro_destroy(co);
}

/* Each context keeps its own rounding mode (MXCSR / x87 CW / FPCR) and its
 * floating-point values across switches. */
static void *fp_worker(void *arg)
{
    double *out = arg;
    fesetround(FE_UPWARD);
    volatile double a = 1.0, b = 3.0;
    double acc[8];
    for (int i = 0; i < 8; i++)
        acc[i] = a / (b + i);
    vmrt_coro_yield();
    ASSERT_EQ(fegetround(), FE_UPWARD);
    double sum = 0;
    for (int i = 0; i < 8; i++)
        sum += acc[i];
    vmrt_coro_yield();
    ASSERT_EQ(fegetround(), FE_UPWARD);
    *out = sum;
    return NULL;
}

static void test_fp_state_preserved(void **state)
{
    (void)state;
    fesetround(FE_TONEAREST);
    double result = 0;
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_coro_create(&co, NULL, fp_worker, &result));
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ(fegetround(), FE_TONEAREST);
    fesetround(FE_DOWNWARD);
    register double keep = 1.0 / 7.0; /* lives across the switch */
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ(fegetround(), FE_DOWNWARD);
    fesetround(FE_TONEAREST);
    ASSERT_TRUE(keep < 0.1428572 && keep > 0.1428570);
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_TERMINATED);
    ASSERT_TRUE(result > 1.4 && result < 1.5); /* 1/3 + 1/4 + ... + 1/10 */
    vmrt_coro_destroy(co);
}

static void *yield_once(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    vmrt_coro_yield();
    return (void *)(v * 2);
}

/* ThreadSanitizer counts every fiber as a thread and dies past 8128 of them,
 * so the TSan build keeps fewer coroutines alive. */
static void test_100k_alive(void **state)
{
    (void)state;
    const char *cfg = getenv("VMRT_TEST_CONFIG");
    size_t N = cfg && !strcmp(cfg, "tsan") ? 7000 : 100000;
    /* mprotect'ed guards (kernels before 6.13, qemu-user) cost two VMAs per
     * stack: stay below the default vm.max_map_count of 65530. */
    vmrt_coro_t *probe;
    ASSERT_OK(vmrt_coro_create(&probe, NULL, yield_once, NULL));
    vmrt_coro_destroy(probe);
    if (!vmrt__stack_guard_is_lightweight() && N > 25000) {
        fprintf(stderr, "note: mprotect guards on this host, 25000 coroutines instead of %zu\n", N);
        N = 25000;
    }
    vmrt_coro_t **cos = calloc(N, sizeof *cos);
    ASSERT_NOT_NULL(cos);
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.stack_size = VMRT_CORO_MIN_STACK;
    for (uintptr_t i = 0; i < N; i++) {
        ASSERT_OK(vmrt_coro_create(&cos[i], &attr, yield_once, (void *)i));
        ASSERT_OK(vmrt_coro_resume(cos[i]));
    }
    for (uintptr_t i = 0; i < N; i++) {
        ASSERT_OK(vmrt_coro_resume(cos[i]));
        ASSERT_EQ((uintptr_t)vmrt_coro_result(cos[i]), i * 2);
        vmrt_coro_destroy(cos[i]);
    }
    free(cos);
}

static pthread_t seen_threads[3];

/* pthread_self() is declared const, so a compiler may keep its value across a
 * yield; a coroutine that migrates must re-read it through an opaque call. */
static pthread_t (*volatile opaque_self)(void) = pthread_self;

static void *migrant(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        seen_threads[i] = opaque_self();
        vmrt_coro_yield();
    }
    return NULL;
}

static void *resume_on_thread(void *arg)
{
    ASSERT_OK(vmrt_coro_resume(arg));
    return NULL;
}

static void test_resume_on_other_thread(void **state)
{
    (void)state;
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_coro_create(&co, NULL, migrant, NULL));
    pthread_t t1, t2;
    ASSERT_OK(pthread_create(&t1, NULL, resume_on_thread, co));
    ASSERT_OK(pthread_join(t1, NULL));
    ASSERT_OK(pthread_create(&t2, NULL, resume_on_thread, co));
    ASSERT_OK(pthread_join(t2, NULL));
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_TRUE(pthread_equal(seen_threads[0], t1));
    ASSERT_TRUE(pthread_equal(seen_threads[1], t2));
    ASSERT_TRUE(pthread_equal(seen_threads[2], pthread_self()));
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_TERMINATED);
    vmrt_coro_destroy(co);
}

static void *noop(void *arg)
{
    return arg;
}

static void test_bad_arguments(void **state)
{
    (void)state;
    vmrt_coro_t *co = NULL;
    vmrt_coro_attr_t attr;
    ASSERT_EQ(vmrt_coro_create(&co, NULL, NULL, NULL), -EINVAL);
    ASSERT_EQ(vmrt_coro_create(NULL, NULL, noop, NULL), -EINVAL);
    vmrt_coro_attr_init(&attr);
    attr.stack_size = 0;
    ASSERT_EQ(vmrt_coro_create(&co, &attr, noop, NULL), -EINVAL);
    attr.stack_size = (size_t)1 << 40;
    ASSERT_EQ(vmrt_coro_create(&co, &attr, noop, NULL), -EINVAL);
    attr.stack_size = SIZE_MAX;
    ASSERT_EQ(vmrt_coro_create(&co, &attr, noop, NULL), -EINVAL);
    vmrt_coro_attr_init(&attr);
    attr.size = 3;
    ASSERT_EQ(vmrt_coro_create(&co, &attr, noop, NULL), -EINVAL);
    ASSERT_NULL(co);
    ASSERT_EQ(vmrt_coro_resume(NULL), -EINVAL);
    ASSERT_OK(vmrt_coro_destroy(NULL));
    vmrt_coro_yield(); /* outside a coroutine: a no-op */
    ASSERT_STR_EQ(vmrt_strerror(-EINVAL), strerror(EINVAL));
    ASSERT_STR_EQ(vmrt_strerror(VMRT_ESTATE), "operation not valid in the object's current state");
}

static void test_long_name_truncated(void **state)
{
    (void)state;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "a-very-long-coroutine-name-that-does-not-fit-anywhere";
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_coro_create(&co, &attr, noop, NULL));
    ASSERT_EQ(strlen(vmrt_coro_name(co)), 31);
    ASSERT_OK(vmrt_coro_resume(co));
    vmrt_coro_destroy(co);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resume_yield_result),
        cmocka_unit_test(test_self_and_running_state),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_fp_state_preserved),
        cmocka_unit_test(test_100k_alive),
        cmocka_unit_test(test_resume_on_other_thread),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_long_name_truncated),
    };
    VT_RUN("coro", tests);
}
