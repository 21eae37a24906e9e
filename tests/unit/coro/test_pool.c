/* CoroutinePool: reuse, bound, factory hooks, trimming, leak report. */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

#include "coro/stack.h"

VT_DEFINE_GLOBALS;

static void *ret_arg(void *arg)
{
    return arg;
}

static void *park(void *arg)
{
    (void)arg;
    vmrt_coro_yield();
    return NULL;
}

static void test_reuse_counts(void **state)
{
    (void)state;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, NULL));
    vmrt_coro_t *first = NULL;
    for (int i = 0; i < 10; i++) {
        vmrt_coro_t *co;
        ASSERT_OK(vmrt_pool_get(p, &co, NULL, ret_arg, (void *)(intptr_t)i));
        if (i == 0)
            first = co;
        else
            ASSERT_TRUE(co == first); /* LIFO: the same object every time */
        ASSERT_OK(vmrt_coro_resume(co));
        ASSERT_EQ((intptr_t)vmrt_coro_result(co), i);
        ASSERT_OK(vmrt_pool_release(p, co));
    }
    vmrt_pool_stats_t st;
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.created, 1);
    ASSERT_EQ(st.reused, 9);
    ASSERT_EQ(st.active, 0);
    ASSERT_EQ(st.idle, 1);
    ASSERT_EQ(st.peak, 1);
    ASSERT_EQ(vmrt_pool_destroy(p), 0);
}

static void test_ids_unique_across_reuse(void **state)
{
    (void)state;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, NULL));
    vmrt_coro_t *co;
    ASSERT_OK(vmrt_pool_get(p, &co, NULL, ret_arg, NULL));
    uint64_t id1 = vmrt_coro_id(co);
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_OK(vmrt_pool_release(p, co));
    ASSERT_OK(vmrt_pool_get(p, &co, NULL, ret_arg, NULL));
    ASSERT_NE(vmrt_coro_id(co), id1);
    ASSERT_EQ(vmrt_coro_state(co), VMRT_CORO_READY);
    ASSERT_OK(vmrt_coro_resume(co));
    ASSERT_OK(vmrt_pool_release(p, co));
    vmrt_pool_destroy(p);
}

static void test_bound(void **state)
{
    (void)state;
    vmrt_pool_config_t cfg;
    vmrt_pool_config_init(&cfg);
    cfg.max_coroutines = 2;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, &cfg));
    vmrt_coro_t *a, *b, *c;
    ASSERT_OK(vmrt_pool_get(p, &a, NULL, ret_arg, NULL));
    ASSERT_OK(vmrt_pool_get(p, &b, NULL, ret_arg, NULL));
    ASSERT_EQ(vmrt_pool_get(p, &c, NULL, ret_arg, NULL), VMRT_ELIMIT);
    vmrt_coro_resume(a);
    ASSERT_OK(vmrt_pool_release(p, a));
    ASSERT_OK(vmrt_pool_get(p, &c, NULL, ret_arg, NULL));
    vmrt_pool_stats_t st;
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.rejected, 1);
    ASSERT_EQ(st.active, 2);
    vmrt_coro_resume(b);
    vmrt_coro_resume(c);
    vmrt_pool_release(p, b);
    vmrt_pool_release(p, c);
    ASSERT_EQ(vmrt_pool_destroy(p), 0);
}

struct factory_counts {
    int init, reset, fini;
};

static int f_init(vmrt_coro_t *co, void *arg)
{
    struct factory_counts *c = arg;
    c->init++;
    vmrt_coro_set_userdata(co, c);
    return 0;
}
static void f_reset(vmrt_coro_t *co, void *arg)
{
    struct factory_counts *c = arg;
    ASSERT_TRUE(vmrt_coro_userdata(co) == c); /* survives reuse */
    c->reset++;
}
static void f_fini(vmrt_coro_t *co, void *arg)
{
    (void)co;
    ((struct factory_counts *)arg)->fini++;
}

static void test_factory(void **state)
{
    (void)state;
    struct factory_counts counts = {0};
    vmrt_pool_config_t cfg;
    vmrt_pool_config_init(&cfg);
    cfg.factory = (vmrt_coro_factory_t){f_init, f_reset, f_fini, &counts};
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, &cfg));
    vmrt_coro_t *a, *b;
    ASSERT_OK(vmrt_pool_get(p, &a, NULL, ret_arg, NULL));
    ASSERT_OK(vmrt_pool_get(p, &b, NULL, ret_arg, NULL));
    vmrt_coro_resume(a);
    vmrt_coro_resume(b);
    vmrt_pool_release(p, a);
    vmrt_pool_release(p, b);
    ASSERT_OK(vmrt_pool_get(p, &a, NULL, ret_arg, NULL));
    vmrt_coro_resume(a);
    vmrt_pool_release(p, a);
    ASSERT_EQ(counts.init, 2);
    ASSERT_EQ(counts.reset, 1);
    vmrt_pool_destroy(p);
    ASSERT_EQ(counts.fini, 2);
}

static int f_init_fail(vmrt_coro_t *co, void *arg)
{
    (void)co;
    (void)arg;
    return -EPERM;
}

static void test_factory_failure(void **state)
{
    (void)state;
    vmrt_pool_config_t cfg;
    vmrt_pool_config_init(&cfg);
    cfg.factory.init = f_init_fail;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, &cfg));
    vmrt_coro_t *co;
    ASSERT_EQ(vmrt_pool_get(p, &co, NULL, ret_arg, NULL), -EPERM);
    vmrt_pool_stats_t st;
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.active, 0);
    vmrt_pool_destroy(p);
}

static void test_trimming(void **state)
{
    (void)state;
    vmrt_pool_config_t cfg;
    vmrt_pool_config_init(&cfg);
    cfg.idle_high_water = 4;
    cfg.idle_max = 16;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, &cfg));
    vmrt_coro_t *cos[20];
    for (int i = 0; i < 20; i++) {
        ASSERT_OK(vmrt_pool_get(p, &cos[i], NULL, ret_arg, NULL));
        vmrt_coro_resume(cos[i]);
    }
    for (int i = 0; i < 20; i++)
        ASSERT_OK(vmrt_pool_release(p, cos[i]));
    vmrt_pool_stats_t st;
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.idle, 16);    /* idle_max kept, the other 4 freed */
    ASSERT_EQ(st.trimmed, 12); /* everything below the 4 warmest */
    ASSERT_EQ(vmrt_pool_shrink(p, 10), 6);
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.idle, 10);
    /* trimmed stacks still work */
    for (int i = 0; i < 10; i++) {
        ASSERT_OK(vmrt_pool_get(p, &cos[i], NULL, ret_arg, (void *)(intptr_t)i));
        ASSERT_OK(vmrt_coro_resume(cos[i]));
        ASSERT_EQ((intptr_t)vmrt_coro_result(cos[i]), i);
    }
    for (int i = 0; i < 10; i++)
        vmrt_pool_release(p, cos[i]);
    vmrt_pool_destroy(p);
}

static void test_leak_report(void **state)
{
    (void)state;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, NULL));
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "never-finished";
    vmrt_coro_t *a, *b, *c;
    int line_a = __LINE__ + 1;
    ASSERT_OK(vmrt_pool_get(p, &a, &attr, park, NULL));
    vmrt_coro_resume(a); /* parked, never finished */
    attr.name = "never-joined";
    ASSERT_OK(vmrt_pool_get(p, &b, &attr, ret_arg, NULL));
    vmrt_coro_resume(b); /* finished, never released */
    attr.name = "clean";
    ASSERT_OK(vmrt_pool_get(p, &c, &attr, ret_arg, NULL));
    vmrt_coro_resume(c);
    vmrt_pool_release(p, c);

    vmrt_pool_leak_t leaks[4];
    ASSERT_EQ(vmrt_pool_leaks(p, leaks, 4), 2);
    const vmrt_pool_leak_t *la = NULL, *lb = NULL;
    for (int i = 0; i < 2; i++) {
        if (!strcmp(leaks[i].name, "never-finished"))
            la = &leaks[i];
        if (!strcmp(leaks[i].name, "never-joined"))
            lb = &leaks[i];
    }
    ASSERT_NOT_NULL(la);
    ASSERT_NOT_NULL(lb);
    ASSERT_FALSE(la->finished);
    ASSERT_EQ(la->state, VMRT_CORO_READY);
    ASSERT_TRUE(lb->finished);
    ASSERT_EQ(la->line, line_a);
    ASSERT_TRUE(strstr(la->file, "test_pool.c") != NULL);

    char buf[4096] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    ASSERT_EQ(vmrt_pool_report_leaks(p, f), 2);
    fclose(f);
    ASSERT_NOT_NULL(strstr(buf, "leaked coroutine 'never-finished'"));
    ASSERT_NOT_NULL(strstr(buf, "never finished"));
    ASSERT_NOT_NULL(strstr(buf, "finished but never released"));
    ASSERT_NOT_NULL(strstr(buf, "test_pool.c:"));
    vmrt_pool_stats_t st;
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.leaked, 2);
    /* destruction reports and frees them */
    ASSERT_EQ(vmrt_pool_destroy(p), 2);
}

static void test_injected_stack_failure(void **state)
{
    (void)state;
    vmrt_pool_t *p;
    ASSERT_OK(vmrt_pool_new(&p, NULL));
    vmrt__stack_inject_failures(1);
    vmrt_coro_t *co;
    ASSERT_EQ(vmrt_pool_get(p, &co, NULL, ret_arg, NULL), -ENOMEM);
    ASSERT_OK(vmrt_pool_get(p, &co, NULL, ret_arg, NULL));
    vmrt_coro_resume(co);
    vmrt_pool_release(p, co);
    vmrt_pool_stats_t st;
    vmrt_pool_stats(p, &st);
    ASSERT_EQ(st.created, 1);
    ASSERT_EQ(st.active, 0);
    vmrt_pool_destroy(p);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    vmrt_pool_t *p, *q;
    vmrt_pool_config_t cfg;
    vmrt_pool_config_init(&cfg);
    cfg.stack_size = 1;
    ASSERT_EQ(vmrt_pool_new(&p, &cfg), -EINVAL);
    vmrt_pool_config_init(&cfg);
    cfg.idle_high_water = cfg.idle_max + 1;
    ASSERT_EQ(vmrt_pool_new(&p, &cfg), -EINVAL);
    ASSERT_OK(vmrt_pool_new(&p, NULL));
    ASSERT_OK(vmrt_pool_new(&q, NULL));
    vmrt_coro_t *co;
    ASSERT_EQ(vmrt_pool_get(p, &co, NULL, NULL, NULL), -EINVAL);
    ASSERT_OK(vmrt_pool_get(p, &co, NULL, ret_arg, NULL));
    ASSERT_EQ(vmrt_pool_release(q, co), -EINVAL);
    vmrt_coro_resume(co);
    ASSERT_OK(vmrt_pool_release(p, co));
    vmrt_pool_destroy(p);
    vmrt_pool_destroy(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_counts),    cmocka_unit_test(test_ids_unique_across_reuse),
        cmocka_unit_test(test_bound),           cmocka_unit_test(test_factory),
        cmocka_unit_test(test_factory_failure), cmocka_unit_test(test_trimming),
        cmocka_unit_test(test_leak_report),     cmocka_unit_test(test_injected_stack_failure),
        cmocka_unit_test(test_bad_arguments),
    };
    VT_RUN("pool", tests);
}
