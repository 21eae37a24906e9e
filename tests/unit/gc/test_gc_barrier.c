/* The write barrier is what keeps incremental marking correct.
 *
 * Deterministic lost-object scenario: during an incremental cycle, after
 * object B was scanned (black), the mutator moves the only reference to a
 * still-white object Y from an unscanned node into B, then deletes the old
 * reference. Without a barrier Y is never marked and is freed although B
 * still references it. The SATB barrier records the deleted reference.
 *
 * Built twice (tests/unit/gc/meson.build): test_gc_barrier against the
 * library (must pass), and test_gc_no_barrier with the GC sources compiled
 * with VMRT_TEST_NO_BARRIER, registered with should_fail: true (it must
 * fail). A build with -Dno_write_barrier=true flips test_gc_barrier to
 * should_fail as well.
 *
 * test_long_array_incremental is the same race across the chunks of a long
 * reference array (scanned a chunk at a time). */
#include "harness.h"

#include "gc_test.h"

VT_DEFINE_GLOBALS;

static void test_moved_reference_survives(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.incremental = true;
    cfg.markers = 1;
    cfg.compact = false;
    cfg.trigger = VMRT_GC_TRIGGER_FIXED_THRESHOLD;
    cfg.threshold_bytes = 1;
    cfg.step_budget_ns = 10ull * 1000 * 1000 * 1000;
    /* The race is set up for a full cycle: in a minor one, the chain that
     * earlier cycles promoted would be old, i.e. marked already (minor
     * cycles and the card barrier: test_gc_gen). */
    cfg.generational = false;
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    void *chain = NULL, *b = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, &chain));
    ASSERT_OK(vmrt_gc_root_add(gc, &b));
    node_t *holder = NULL, *y = NULL;
    for (int i = 0; i < 2000; i++) {
        node_t *n = vmrt_gc_alloc(m, &node_type);
        n->value = i;
        vmrt_gc_write(m, n, &n->right, chain);
        chain = n;
        if (i == 500) {
            holder = n;
            y = vmrt_gc_alloc(m, &node_type);
            y->value = 777;
            vmrt_gc_write(m, holder, &holder->left, y);
        }
    }
    b = vmrt_gc_alloc(m, &node_type);
    vmrt_gc_set_enabled(gc, false);
    /* Start a cycle that scans one object per step. */
    vmrt__gc_set_step_work(gc, 1);
    vmrt_gc_set_enabled(gc, true);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    vmrt_gc_set_enabled(gc, false);
    for (int i = 0; i < 10 && !vmrt__gc_is_marked(gc, b); i++)
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    ASSERT_TRUE(vmrt__gc_is_marked(gc, b));
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    ASSERT_FALSE(vmrt__gc_is_marked(gc, y)); /* still white, deep in the chain */
    /* Move the reference: insert into black B, delete from unscanned holder. */
    node_t *bn = b;
    vmrt_gc_write(m, bn, &bn->left, y);
    vmrt_gc_write(m, holder, &holder->left, NULL);
    y = NULL;
    vmrt__gc_set_step_work(gc, 0);
    while (vmrt_gc_in_cycle(gc))
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    vmrt__gc_finish_sweep(gc);
    bn = b;
    ASSERT_TRUE(vmrt__gc_is_valid(gc, bn->left)); /* fails without the barrier */
    ASSERT_EQ(((node_t *)bn->left)->value, 777);
    ASSERT_OK(vmrt_gc_root_remove(gc, &chain));
    ASSERT_OK(vmrt_gc_root_remove(gc, &b));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* A long reference array is scanned in chunks (a continuation item per
 * chunk), so an incremental step never scans it in one piece; references
 * moved from an unscanned chunk into a scanned one during the cycle survive
 * (the SATB barrier records the deleted slot; without it they are freed). */
static void test_long_array_incremental(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.incremental = true;
    cfg.markers = 1;
    cfg.compact = false;
    cfg.trigger = VMRT_GC_TRIGGER_FIXED_THRESHOLD;
    cfg.threshold_bytes = 1;
    cfg.step_budget_ns = 10ull * 1000 * 1000 * 1000;
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    enum { N = 50000, MOVED = 100 };
    void *arr = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, &arr));
    vmrt_gc_set_enabled(gc, false);
    arr = vmrt_gc_alloc_array(m, &refs_type, N);
    ASSERT_NOT_NULL(arr);
    for (long i = 0; i < N; i++) {
        node_t *n = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(n);
        n->value = i;
        vmrt_gc_write(m, arr, &((void **)arr)[i], n);
    }
    vmrt__gc_set_step_work(gc, 300); /* items per step */
    vmrt_gc_set_enabled(gc, true);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    vmrt_gc_set_enabled(gc, false);
    void **a = arr;
    for (int i = 0; i < 20 && !vmrt__gc_is_marked(gc, a[MOVED - 1]); i++)
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    ASSERT_TRUE(vmrt__gc_is_marked(gc, a[0]));
    ASSERT_TRUE(vmrt__gc_is_marked(gc, a[MOVED - 1]));
    ASSERT_FALSE(vmrt__gc_is_marked(gc, a[N - 1])); /* its chunk is not scanned yet */
    for (long i = 0; i < MOVED; i++) {
        vmrt_gc_write(m, arr, &a[i], a[N - 1 - i]);
        vmrt_gc_write(m, arr, &a[N - 1 - i], NULL);
    }
    vmrt__gc_set_step_work(gc, 0);
    while (vmrt_gc_in_cycle(gc))
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    vmrt__gc_finish_sweep(gc);
    a = arr;
    for (long i = 0; i < N; i++) {
        if (i >= N - MOVED) {
            ASSERT_NULL(a[i]);
            continue;
        }
        ASSERT_TRUE(vmrt__gc_is_valid(gc, a[i]));
        ASSERT_EQ(((node_t *)a[i])->value, i < MOVED ? N - 1 - i : i);
    }
    ASSERT_OK(vmrt_gc_root_remove(gc, &arr));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moved_reference_survives),
        cmocka_unit_test(test_long_array_incremental),
    };
    VT_RUN("gc_barrier", tests);
}
