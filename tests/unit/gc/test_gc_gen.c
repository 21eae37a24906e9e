/* Generational mode (sticky mark bits): minor cycles mark only from the
 * roots and the remembered set (old objects in cards that vmrt_gc_write
 * dirtied since the last cycle), free dead young objects, and leave old
 * ones alone until a full cycle.
 *
 * Built twice (tests/unit/gc/meson.build): test_gc_gen against the library
 * (must pass), and test_gc_gen_no_remset with the GC sources compiled with
 * VMRT_TEST_NO_REMSET (dirty cards are cleared without being scanned),
 * registered with should_fail: true: an old-to-young store is then the
 * only reference to the young object, which a minor cycle frees. */
#include "harness.h"

#include "gc_test.h"

VT_DEFINE_GLOBALS;

static void gen_config(vmrt_gc_config_t *cfg)
{
    gc_test_config(cfg);
    cfg->generational = true;
    cfg->compact = false;
    cfg->enabled = false; /* only the explicit collections below */
}

static node_t *new_node(vmrt_gc_mutator_t *m, long value)
{
    node_t *n = vmrt_gc_alloc(m, &node_type);
    if (n)
        n->value = value;
    return n;
}

/* An old object's (and an old reference array's) stores of young objects
 * keep them alive across minor cycles; the young objects are promoted by
 * the first and stay valid. */
static void test_old_to_young_survives_minor(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gen_config(&cfg);
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    enum { N = 20000 }; /* a large object: 160 KB of references */
    node_t *old = NULL;
    void **arr = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&old));
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&arr));
    old = new_node(m, 1);
    arr = vmrt_gc_alloc_array(m, &refs_type, N);
    ASSERT_NOT_NULL(old);
    ASSERT_NOT_NULL(arr);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL)); /* both are old now */
    ASSERT_TRUE(vmrt__gc_is_marked(gc, old));
    /* Young objects referenced only from the old ones. */
    node_t *y = new_node(m, 777);
    ASSERT_NOT_NULL(y);
    ASSERT_FALSE(vmrt__gc_is_marked(gc, y)); /* young: unmarked */
    vmrt_gc_write(m, old, &old->left, y);
    static const long idx[] = {0, 1, 63, 64, 4095, 10000, N - 1};
    for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
        node_t *e = new_node(m, 1000 + idx[k]);
        ASSERT_NOT_NULL(e);
        vmrt_gc_write(m, arr, &arr[idx[k]], e);
    }
    y = NULL;
    /* Garbage to recycle the young slots around them. */
    for (int i = 0; i < 5000; i++)
        ASSERT_NOT_NULL(new_node(m, -1));
    vmrt_gc_stats_t st0, st;
    vmrt_gc_stats(gc, &st0);
    for (int cycle = 0; cycle < 3; cycle++) {
        ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_MINOR));
        vmrt__gc_finish_sweep(gc);                     /* dead young slots cleared now */
        ASSERT_TRUE(vmrt__gc_is_valid(gc, old->left)); /* fails without the remembered set */
        ASSERT_EQ(old->left->value, 777);
        for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
            ASSERT_TRUE(vmrt__gc_is_valid(gc, arr[idx[k]]));
            ASSERT_EQ(((node_t *)arr[idx[k]])->value, 1000 + idx[k]);
        }
        for (int i = 0; i < 5000; i++) /* more young garbage over the freed slots */
            ASSERT_NOT_NULL(new_node(m, -2));
    }
    vmrt_gc_stats(gc, &st);
    ASSERT_EQ(st.minor_count - st0.minor_count, 3);
    ASSERT_EQ(st.gc_count - st0.gc_count, 3);
    /* Promoted objects are old: a store of another young object into one
     * of them is remembered too. */
    node_t *y2 = new_node(m, 888);
    vmrt_gc_write(m, old->left, &old->left->right, y2);
    y2 = NULL;
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_MINOR));
    vmrt__gc_finish_sweep(gc);
    ASSERT_TRUE(vmrt__gc_is_valid(gc, old->left->right));
    ASSERT_EQ(old->left->right->value, 888);
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&old));
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&arr));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* A minor cycle frees dead young objects (their weak references are
 * cleared) and keeps dead old ones until a full cycle. */
static void test_minor_frees_young_only(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gen_config(&cfg);
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    node_t *old = new_node(m, 1);
    ASSERT_NOT_NULL(old);
    vmrt_gc_weak_t *w_old, *w_young;
    ASSERT_OK(vmrt_gc_weak_new(m, old, &w_old));
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&old));
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&old)); /* old garbage from now on */
    node_t *young = new_node(m, 2);
    ASSERT_NOT_NULL(young);
    ASSERT_OK(vmrt_gc_weak_new(m, young, &w_young));
    young = NULL;
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_MINOR));
    ASSERT_NULL(vmrt_gc_weak_get(m, w_young));      /* young garbage: freed */
    ASSERT_TRUE(vmrt_gc_weak_get(m, w_old) == old); /* old garbage: not yet */
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_NULL(vmrt_gc_weak_get(m, w_old));
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_EQ(st.minor_count, 1);
    ASSERT_EQ(st.gc_count, 3);
    vmrt_gc_weak_free(gc, w_old);
    vmrt_gc_weak_free(gc, w_young);
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* The SATB barrier in an incremental minor cycle: a young object moved
 * from an unscanned young node into an already scanned one survives. */
static void test_incremental_minor(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gen_config(&cfg);
    gc_test_stepwise(&cfg);
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    node_t *old = NULL, *b = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&old));
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&b));
    old = new_node(m, 1);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    /* A young chain hanging off the old node (remembered through its card),
     * with y deep in it. */
    node_t *chain = NULL, *holder = NULL, *y = NULL;
    for (int i = 0; i < 2000; i++) {
        node_t *n = new_node(m, i);
        vmrt_gc_write(m, n, &n->right, chain);
        chain = n;
        if (i == 500) {
            holder = n;
            y = new_node(m, 777);
            vmrt_gc_write(m, holder, &holder->left, y);
        }
    }
    vmrt_gc_write(m, old, &old->right, chain);
    chain = NULL;
    b = new_node(m, 5);
    vmrt__gc_set_step_work(gc, 1);
    vmrt_gc_set_enabled(gc, true);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1); /* starts a minor cycle */
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    vmrt_gc_set_enabled(gc, false);
    for (int i = 0; i < 10 && !vmrt__gc_is_marked(gc, b); i++)
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    ASSERT_TRUE(vmrt__gc_is_marked(gc, b));
    ASSERT_FALSE(vmrt__gc_is_marked(gc, y)); /* still white, deep in the chain */
    vmrt_gc_write(m, b, &b->left, y);
    vmrt_gc_write(m, holder, &holder->left, NULL);
    y = holder = NULL;
    vmrt__gc_set_step_work(gc, 0);
    while (vmrt_gc_in_cycle(gc))
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    vmrt__gc_finish_sweep(gc);
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_EQ(st.minor_count, 1);
    ASSERT_TRUE(vmrt__gc_is_valid(gc, b->left));
    ASSERT_EQ(b->left->value, 777);
    long n = 0;
    for (node_t *c = old->right; c; c = c->right)
        n++;
    ASSERT_EQ(n, 2000);
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&old));
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&b));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* An incremental minor cycle scans the dirty cards over several steps (here
 * one dirty block per step), and marking does not end while cards are left
 * even when nothing is grey: young objects referenced only from old
 * holders in many blocks all survive, including one whose only reference
 * moved from a holder not scanned yet to another object (recorded by the
 * SATB barrier). */
#define CARD_HOLDERS 48
static void test_incremental_minor_deferred_cards(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gen_config(&cfg);
    gc_test_stepwise(&cfg);
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    /* Holders: reference arrays of ~8 KiB (8 per 64 KiB block: 6 blocks). */
    void ***top = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&top));
    top = vmrt_gc_alloc_array(m, &refs_type, CARD_HOLDERS);
    ASSERT_NOT_NULL(top);
    for (int i = 0; i < CARD_HOLDERS; i++) {
        void **a = vmrt_gc_alloc_array(m, &refs_type, 1000);
        ASSERT_NOT_NULL(a);
        vmrt_gc_write(m, top, &top[i], a);
    }
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL)); /* holders old */
    for (int i = 0; i < CARD_HOLDERS; i++) {     /* young nodes, remembered by cards */
        node_t *y = new_node(m, 100 + i);
        ASSERT_NOT_NULL(y);
        vmrt_gc_write(m, top[i], &top[i][500], y);
    }
    vmrt__gc_set_card_work(gc, 1);
    vmrt_gc_set_enabled(gc, true);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1); /* starts a minor cycle */
    vmrt_gc_set_enabled(gc, false);
    ASSERT_TRUE(vmrt_gc_in_cycle(gc));
    ASSERT_TRUE(vmrt__gc_cards_pending(gc)); /* the rest is left to the next steps */
    int moved = -1;
    for (int i = 0; i < CARD_HOLDERS && moved < 0; i++)
        if (!vmrt__gc_is_marked(gc, top[i][500]))
            moved = i;
    ASSERT_TRUE(moved >= 0);
    /* Move its only reference into a holder whose card may be scanned
     * already; the SATB barrier records the deleted one. */
    int to = (moved + 1) % CARD_HOLDERS;
    vmrt_gc_write(m, top[to], &top[to][1], top[moved][500]);
    vmrt_gc_write(m, top[moved], &top[moved][500], NULL);
    int steps = 1;
    while (vmrt_gc_in_cycle(gc)) {
        ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
        steps++;
    }
    ASSERT_TRUE(steps > 2); /* one dirty block per step: several steps */
    ASSERT_FALSE(vmrt__gc_cards_pending(gc));
    vmrt__gc_finish_sweep(gc);
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_EQ(st.minor_count, 1);
    for (int i = 0; i < CARD_HOLDERS; i++) {
        node_t *y = i == moved ? top[to][1] : top[i][500];
        ASSERT_NOT_NULL(y);
        ASSERT_TRUE(vmrt__gc_is_valid(gc, y));
        ASSERT_EQ(y->value, 100 + i);
    }
    vmrt__gc_set_card_work(gc, 0);
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&top));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* A large object with a trace callback is scanned whole when a minor cycle
 * finds it in dirty cards: once, however many of its cards are dirty (it
 * used to be scanned once per dirty card, quadratic in its size). */
static int traced_calls;
static void trace_refs(void *obj, vmrt_gc_visitor_t *v)
{
    traced_calls++;
    void **e = obj;
    for (size_t i = 0; i < vmrt_gc_length(obj); i++)
        vmrt_gc_visit(v, &e[i]);
}
static const vmrt_gc_type_t traced_refs_type = {
    .name = "traced refs", .elem_size = sizeof(void *), .trace = trace_refs};

static void test_traced_large_scanned_once(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gen_config(&cfg);
    vmrt_gc_t *gc;
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    enum { N = 20000, STRIDE = 64 }; /* 160 KB: ~310 cards of 64 slots, all dirtied */
    void **arr = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&arr));
    arr = vmrt_gc_alloc_array(m, &traced_refs_type, N);
    ASSERT_NOT_NULL(arr);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL)); /* old now */
    for (long i = 0; i < N; i += STRIDE)
        vmrt_gc_write(m, arr, &arr[i], new_node(m, i));
    traced_calls = 0;
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_MINOR));
    vmrt__gc_finish_sweep(gc);
    ASSERT_EQ(traced_calls, 1);
    for (long i = 0; i < N; i += STRIDE) {
        ASSERT_TRUE(vmrt__gc_is_valid(gc, arr[i]));
        ASSERT_EQ(((node_t *)arr[i])->value, i);
    }
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&arr));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_to_young_survives_minor),
        cmocka_unit_test(test_minor_frees_young_only),
        cmocka_unit_test(test_incremental_minor),
        cmocka_unit_test(test_incremental_minor_deferred_cards),
        cmocka_unit_test(test_traced_large_scanned_once),
    };
    VT_RUN("gc_gen", tests);
}
