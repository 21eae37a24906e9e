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
 * reference array (scanned a chunk at a time).
 *
 * test_restart_*: when the barrier loses a record (a buffer allocation
 * failed: simulated with vmrt__gc_set_satb_lost), the cycle restarts its
 * marking from the roots at a fresh epoch. Objects the abandoned attempt had
 * not reached must be scanned again (a restart that reused their epoch took
 * them for marked and freed what only they referenced). */
#include "harness.h"

#include "gc_test.h"

VT_DEFINE_GLOBALS;

static void test_moved_reference_survives(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    gc_test_stepwise(&cfg);
    cfg.compact = false;
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
    gc_test_stepwise(&cfg);
    cfg.compact = false;
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

#define RESTART_CHAIN 2000

/* Allocates a node (black: a cycle is marking) and stores it into
 * holder->left; noinline, so that no stale copy of the new node's address
 * stays in a live stack frame (the final pause scans stacks conservatively). */
static __attribute__((noinline)) void hang_new_node(vmrt_gc_mutator_t *m, node_t *holder, long v)
{
    node_t *y = vmrt_gc_alloc(m, &node_type);
    if (!y)
        return;
    y->value = v;
    vmrt_gc_write(m, holder, &holder->left, y);
}

/* An incremental cycle (one object per step) that loses a barrier record
 * `restarts` times. Before each loss, a new node hangs off a deep, not yet
 * reached node of a rooted chain (its only reference); every one must
 * survive. Generational: the cycle is a minor one (restarted as full), and a
 * young node hanging off the deepest old node before it started must
 * survive as well. */
static void run_restarts(bool generational, int restarts)
{
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    gc_test_stepwise(&cfg);
    cfg.compact = false;
    cfg.enabled = false;
    cfg.generational = generational;
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    void *head = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, &head));
    /* Node addresses in malloc'd memory (never scanned): nodes[i] is the
     * i-th from the end of the chain, i.e. reached last. */
    node_t **nodes = calloc(RESTART_CHAIN, sizeof *nodes);
    ASSERT_NOT_NULL(nodes);
    for (int i = 0; i < RESTART_CHAIN; i++) {
        node_t *n = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(n);
        n->value = i;
        vmrt_gc_write(m, n, &n->right, head);
        head = n;
        nodes[i] = n;
    }
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL)); /* the chain is old */
    if (generational)
        hang_new_node(m, nodes[0], 5000);          /* young, remembered by its card */
    ASSERT_NOT_NULL(vmrt_gc_alloc(m, &node_type)); /* the threshold trigger fires */
    vmrt__gc_set_step_work(gc, 1);
    vmrt_gc_set_enabled(gc, true);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    vmrt_gc_set_enabled(gc, false);
    for (int r = 0; r < restarts; r++) {
        ASSERT_TRUE(vmrt_gc_in_cycle(gc));
        hang_new_node(m, nodes[1 + r], 1000 + r);
        vmrt__gc_set_satb_lost(gc);
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1); /* restarts, then one object */
    }
    vmrt__gc_set_step_work(gc, 0);
    while (vmrt_gc_in_cycle(gc))
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    vmrt__gc_finish_sweep(gc);
    if (generational) {
        ASSERT_TRUE(vmrt__gc_is_valid(gc, nodes[0]->left));
        ASSERT_EQ(nodes[0]->left->value, 5000);
    }
    for (int r = 0; r < restarts; r++) {
        node_t *y = nodes[1 + r]->left;
        ASSERT_NOT_NULL(y);
        ASSERT_TRUE(vmrt__gc_is_valid(gc, y));
        ASSERT_EQ(y->value, 1000 + r);
    }
    long n = 0;
    for (node_t *c = head; c; c = c->right)
        ASSERT_EQ(c->value, RESTART_CHAIN - 1 - n++);
    ASSERT_EQ(n, RESTART_CHAIN);
    /* And the heap is consistent for the next cycles. */
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    for (int r = 0; r < restarts; r++)
        ASSERT_EQ(nodes[1 + r]->left->value, 1000 + r);
    free(nodes);
    ASSERT_OK(vmrt_gc_root_remove(gc, &head));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

static void test_restart_full_cycle(void **state)
{
    (void)state;
    run_restarts(false, 1);
}

/* Two restarts: the marks of both abandoned attempts and the previous
 * cycle's must all read white. */
static void test_restart_twice(void **state)
{
    (void)state;
    run_restarts(false, 2);
}

/* As many restarts as there are other mark values (254 of 1..255): the last
 * attempt's epoch wraps around to the one every old object still holds,
 * which must not read as marked (the marks are reset first). */
static void test_restart_wraps(void **state)
{
    (void)state;
    run_restarts(false, 254);
}

static void test_restart_minor_cycle(void **state)
{
    (void)state;
    run_restarts(true, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moved_reference_survives),
        cmocka_unit_test(test_long_array_incremental),
        cmocka_unit_test(test_restart_full_cycle),
        cmocka_unit_test(test_restart_twice),
        cmocka_unit_test(test_restart_wraps),
        cmocka_unit_test(test_restart_minor_cycle),
    };
    VT_RUN("gc_barrier", tests);
}
