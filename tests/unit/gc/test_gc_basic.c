/* GC: allocation, typed objects, precise roots, collection, statistics,
 * weak references, finalizers, compaction, pinning, conservative roots,
 * heap limit, injected mmap failures, triggers, enable/incremental switches. */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "gc_test.h"

VT_DEFINE_GLOBALS;

static vmrt_gc_t *new_gc(vmrt_gc_config_t *cfg, vmrt_gc_mutator_t **m)
{
    vmrt_gc_t *gc;
    vmrt_gc_config_t def;
    if (!cfg) {
        gc_test_config(&def);
        cfg = &def;
    }
    ASSERT_OK(vmrt_gc_new(&gc, cfg));
    ASSERT_OK(vmrt_gc_thread_attach(gc, m));
    return gc;
}

static void done(vmrt_gc_t *gc, vmrt_gc_mutator_t *m)
{
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* A list of n nodes with values base..base+n-1, head kept in *root. */
static void build_list(vmrt_gc_mutator_t *m, void **root, long n, long base)
{
    size_t s = vmrt_gc_scope_enter(m);
    node_t *fresh = NULL;
    ASSERT_OK(vmrt_gc_push_root(m, &fresh));
    for (long i = n - 1; i >= 0; i--) {
        fresh = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(fresh);
        fresh->value = base + i;
        vmrt_gc_write(m, fresh, &fresh->right, *root);
        *root = fresh;
    }
    vmrt_gc_scope_leave(m, s);
}

static long check_list(node_t *n, long base)
{
    long count = 0;
    for (; n; n = n->right, count++)
        ASSERT_EQ(n->value, base + count);
    return count;
}

static void make_garbage(vmrt_gc_mutator_t *m, long n)
{
    for (long i = 0; i < n; i++) {
        node_t *g = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(g);
        g->value = -1;
    }
}

static void test_alloc_types(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    node_t *n = vmrt_gc_alloc(m, &node_type);
    ASSERT_NOT_NULL(n);
    ASSERT_NULL(n->left);
    ASSERT_NULL(n->right);
    ASSERT_EQ(n->value, 0);
    ASSERT_TRUE(vmrt_gc_type_of(n) == &node_type);
    void **arr = vmrt_gc_alloc_array(m, &refs_type, 100);
    ASSERT_NOT_NULL(arr);
    ASSERT_EQ(vmrt_gc_length(arr), 100);
    for (int i = 0; i < 100; i++)
        ASSERT_NULL(arr[i]);
    char *big = vmrt_gc_alloc_array(m, &bytes_type, 1 << 20); /* large object space */
    ASSERT_NOT_NULL(big);
    ASSERT_EQ(big[0] | big[(1 << 20) - 1], 0);
    void *out;
    ASSERT_EQ(vmrt_gc_alloc_ex(m, &node_type, 5, &out), -EINVAL); /* fixed type + length */
    ASSERT_TRUE(((uintptr_t)n & 7) == 0);
    done(gc, m);
}

static void test_roots_survive_garbage_dies(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    void *head = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, &head));
    build_list(m, &head, 1000, 7);
    node_t *dead = vmrt_gc_alloc(m, &node_type);
    vmrt_gc_weak_t *w;
    ASSERT_OK(vmrt_gc_weak_new(m, dead, &w));
    dead = NULL;
    make_garbage(m, 100000);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_EQ(check_list(head, 7), 1000);
    ASSERT_NULL(vmrt_gc_weak_get(m, w));
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(st.gc_count >= 1);
    ASSERT_TRUE(st.live_bytes >= 1000 * 40);
    ASSERT_TRUE(st.live_bytes < 1000 * 40 + 64 * 1024);
    ASSERT_TRUE(st.bytes_allocated >= 101000ull * 40);
    ASSERT_TRUE(st.bytes_freed > 0);
    ASSERT_TRUE(st.pause_count >= 1);
    ASSERT_TRUE(st.pause_max > 0);
    ASSERT_TRUE(st.pause_p50 <= st.pause_p99 && st.pause_p99 <= st.pause_max);
    ASSERT_TRUE(st.gc_time >= st.pause_time);
    ASSERT_OK(vmrt_gc_root_remove(gc, &head));
    ASSERT_EQ(vmrt_gc_root_remove(gc, &head), -ENOENT);
    vmrt_gc_weak_free(gc, w);
    done(gc, m);
}

static void test_handle_scope(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    size_t s = vmrt_gc_scope_enter(m);
    void *a = NULL, *b = NULL;
    ASSERT_OK(vmrt_gc_push_root(m, &a));
    build_list(m, &a, 100, 0);
    size_t inner = vmrt_gc_scope_enter(m);
    ASSERT_OK(vmrt_gc_push_root(m, &b));
    build_list(m, &b, 100, 1000);
    vmrt_gc_weak_t *wb;
    ASSERT_OK(vmrt_gc_weak_new(m, b, &wb));
    vmrt_gc_scope_leave(m, inner); /* b is no root any more */
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_EQ(check_list(a, 0), 100);
    ASSERT_NULL(vmrt_gc_weak_get(m, wb));
    vmrt_gc_scope_leave(m, s);
    vmrt_gc_weak_free(gc, wb);
    done(gc, m);
}

static void test_compaction_moves_and_updates(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    enum { N = 40000, KEEP = 64 };
    void *keep = vmrt_gc_alloc_array(m, &refs_type, N / KEEP);
    ASSERT_OK(vmrt_gc_root_add(gc, &keep));
    uintptr_t old[N / KEEP];
    node_t *pinned = NULL;
    size_t s = vmrt_gc_scope_enter(m);
    node_t *cur = NULL;
    ASSERT_OK(vmrt_gc_push_root(m, &cur));
    for (long i = 0; i < N; i++) {
        cur = vmrt_gc_alloc(m, &node_type);
        cur->value = i;
        if (i % KEEP == 0) {
            void **k = keep;
            vmrt_gc_write(m, k, &k[i / KEEP], cur);
            old[i / KEEP] = (uintptr_t)cur;
            if (i == KEEP * 10) {
                ASSERT_OK(vmrt_gc_pin(cur));
                pinned = cur;
            }
        }
    }
    vmrt_gc_scope_leave(m, s);
    /* cross links between survivors, to check heap references are updated */
    void **k = keep;
    for (int i = 0; i + 1 < N / KEEP; i++)
        vmrt_gc_write(m, k[i], &((node_t *)k[i])->left, k[i + 1]);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_COMPACT));
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(st.bytes_moved > 0);
    ASSERT_TRUE(st.objects_moved > 0);
    k = keep;
    int moved = 0;
    for (int i = 0; i < N / KEEP; i++) {
        node_t *n = k[i];
        ASSERT_EQ(n->value, (long)i * KEEP);
        ASSERT_TRUE(vmrt__gc_is_valid(gc, n));
        if (i + 1 < N / KEEP)
            ASSERT_TRUE(n->left == k[i + 1]);
        moved += (uintptr_t)n != old[i];
    }
    ASSERT_TRUE(moved > 0);
    ASSERT_TRUE(k[10] == pinned); /* explicitly pinned: never moved */
    ASSERT_OK(vmrt_gc_unpin(pinned));
    ASSERT_EQ(vmrt_gc_unpin(pinned), VMRT_ESTATE);
    ASSERT_OK(vmrt_gc_root_remove(gc, &keep));
    done(gc, m);
}

static void test_conservative_roots_pin(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    uintptr_t *words = calloc(8, sizeof *words);
    ASSERT_OK(vmrt_gc_conservative_add(gc, words, words + 8));
    node_t *obj = NULL;
    for (int i = 0; i < 5000; i++) {
        node_t *n = vmrt_gc_alloc(m, &node_type);
        n->value = i;
        if (i == 2500)
            obj = n;
    }
    ASSERT_NOT_NULL(obj);
    words[3] = (uintptr_t)obj + 8; /* an interior pointer is enough */
    uintptr_t addr = (uintptr_t)obj;
    obj = NULL;
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_COMPACT));
    node_t *again = (node_t *)addr;
    ASSERT_TRUE(vmrt__gc_is_valid(gc, again));
    ASSERT_EQ(again->value, 2500);
    make_garbage(m, 50000);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_COMPACT));
    ASSERT_TRUE(vmrt__gc_is_valid(gc, again));
    ASSERT_EQ(again->value, 2500);
    ASSERT_OK(vmrt_gc_conservative_remove(gc, words));
    free(words);
    done(gc, m);
}

static int finalized;
static vmrt_gc_weak_t *fin_weak;
static bool weak_was_clear;
static vmrt_gc_mutator_t *fin_mut;

static void on_finalize(void *obj, void *user)
{
    ASSERT_TRUE(user == &finalized);
    ASSERT_EQ(((node_t *)obj)->value, 42);
    weak_was_clear = vmrt_gc_weak_get(fin_mut, fin_weak) == NULL;
    finalized++;
}

static const vmrt_gc_type_t fin_type = {.name = "fin",
                                        .size = sizeof(node_t),
                                        .ref_map = 0x3,
                                        .finalize = on_finalize,
                                        .finalize_user = &finalized};

static void test_finalizer_and_weak_order(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    fin_mut = m;
    node_t *f = vmrt_gc_alloc(m, &fin_type);
    f->value = 42;
    node_t *child = vmrt_gc_alloc(m, &node_type);
    child->value = 43;
    vmrt_gc_write(m, f, &f->left, child);
    vmrt_gc_weak_t *wc;
    ASSERT_OK(vmrt_gc_weak_new(m, f, &fin_weak));
    ASSERT_OK(vmrt_gc_weak_new(m, child, &wc));
    f = child = NULL;
    finalized = 0;
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_EQ(finalized, 1);
    ASSERT_TRUE(weak_was_clear); /* weak refs are cleared before finalizers run */
    ASSERT_NULL(vmrt_gc_weak_get(m, wc));
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_EQ(finalized, 1); /* once */
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_EQ(st.finalizers_run, 1);
    ASSERT_TRUE(st.weak_cleared >= 2);
    vmrt_gc_weak_free(gc, fin_weak);
    vmrt_gc_weak_free(gc, wc);
    done(gc, m);
}

static int near_calls;
static bool raise_once(vmrt_gc_t *gc, size_t requested, void *user)
{
    (void)user;
    ASSERT_TRUE(requested > 0);
    if (near_calls++ == 0) {
        vmrt_gc_stats_t st;
        vmrt_gc_stats(gc, &st);
        vmrt_gc_set_limit(gc, st.heap_limit + (1 << 20));
        return true;
    }
    return false;
}

static void test_heap_limit(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.max_heap = 2 << 20;
    cfg.near_limit = raise_once;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(&cfg, &m);
    void *head = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, &head));
    near_calls = 0;
    long n = 0;
    int rc = 0;
    for (;;) {
        node_t *x;
        rc = vmrt_gc_alloc_ex(m, &node_type, 0, (void **)&x);
        if (rc)
            break;
        x->value = n++;
        vmrt_gc_write(m, x, &x->right, head);
        head = x;
        for (int g = 0; g < 3; g++) /* garbage, collected at the limit */
            (void)vmrt_gc_alloc(m, &node_type);
    }
    ASSERT_EQ(rc, VMRT_ELIMIT);
    ASSERT_TRUE(near_calls >= 2);    /* raised once, then gave up */
    ASSERT_TRUE(n * 40 > (2 << 20)); /* the raise was used */
    ASSERT_TRUE(n * 40 <= (3 << 20));
    ASSERT_NULL(vmrt_gc_alloc(m, &node_type));
    head = NULL; /* drop everything: allocation works again */
    ASSERT_NOT_NULL(vmrt_gc_alloc(m, &node_type));
    ASSERT_OK(vmrt_gc_root_remove(gc, &head));
    done(gc, m);
}

static void test_injected_mmap_failure(void **state)
{
    (void)state;
    vmrt_gc_t *gc;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    vmrt__gc_inject_mmap_failure(0);
    ASSERT_EQ(vmrt_gc_new(&gc, &cfg), -ENOMEM);
    ASSERT_NULL(gc);
    vmrt__gc_inject_mmap_failure(-1);
    vmrt_gc_mutator_t *m;
    gc = new_gc(NULL, &m);
    vmrt__gc_inject_mmap_failure(0); /* every commit fails from now on */
    void *p;
    ASSERT_EQ(vmrt_gc_alloc_ex(m, &node_type, 0, &p), -ENOMEM);
    ASSERT_NULL(p);
    ASSERT_NULL(vmrt_gc_alloc_array(m, &bytes_type, 1 << 20));
    vmrt__gc_inject_mmap_failure(-1);
    ASSERT_NOT_NULL(vmrt_gc_alloc(m, &node_type));
    ASSERT_NOT_NULL(vmrt_gc_alloc_array(m, &bytes_type, 1 << 20));
    done(gc, m);
}

static void test_incremental_steps(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.incremental = true;
    cfg.trigger = VMRT_GC_TRIGGER_FIXED_THRESHOLD;
    cfg.threshold_bytes = 1 << 20;
    cfg.step_budget_ns = 20000;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(&cfg, &m);
    ASSERT_TRUE(vmrt_gc_incremental(gc));
    void *head = NULL;
    ASSERT_OK(vmrt_gc_root_add(gc, &head));
    build_list(m, &head, 20000, 0);
    int ran = 0;
    for (int round = 0; round < 200; round++) {
        make_garbage(m, 2000);
        int r = vmrt_gc_check_and_run_step(m);
        ASSERT_TRUE(r == 0 || r == 1);
        ran += r;
    }
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(ran > 0);
    ASSERT_TRUE(st.gc_count >= 1);
    ASSERT_TRUE(st.incremental_steps >= 1);
    ASSERT_EQ(check_list(head, 0), 20000);
    vmrt_gc_set_incremental(gc, false);
    ASSERT_FALSE(vmrt_gc_incremental(gc));
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    ASSERT_FALSE(vmrt_gc_in_cycle(gc));
    ASSERT_EQ(check_list(head, 0), 20000);
    ASSERT_OK(vmrt_gc_root_remove(gc, &head));
    done(gc, m);
}

static void test_enabled_switch(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.trigger = VMRT_GC_TRIGGER_FIXED_THRESHOLD;
    cfg.threshold_bytes = 1 << 20;
    cfg.enabled = false;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(&cfg, &m);
    ASSERT_FALSE(vmrt_gc_enabled(gc));
    make_garbage(m, 100000);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 0);
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_EQ(st.gc_count, 0);
    vmrt_gc_set_enabled(gc, true);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    make_garbage(m, 100000);
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(st.gc_count >= 2);
    done(gc, m);
}

static void test_triggers(void **state)
{
    (void)state;
    double ratio = -1;
    const char *src = vmrt__gc_read_memory_pressure(&ratio);
    ASSERT_NOT_NULL(src); /* /proc/meminfo at least */
    ASSERT_TRUE(ratio >= 0 && ratio <= 1.5);
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.trigger = VMRT_GC_TRIGGER_TIME_BASED;
    cfg.interval_ns = 250000000;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(&cfg, &m);
    ASSERT_EQ(vmrt_gc_trigger(gc), VMRT_GC_TRIGGER_TIME_BASED);
    make_garbage(m, 10);
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 0); /* too early */
    uint64_t t0 = vmrt_now_ns();
    while (vmrt_now_ns() - t0 < 251000000)
        ;
    ASSERT_EQ(vmrt_gc_check_and_run_step(m), 1);
    /* memory pressure: a ratio of 0 means "always under pressure" */
    ASSERT_OK(vmrt_gc_set_trigger(gc, VMRT_GC_TRIGGER_MEMORY_PRESSURE));
    done(gc, m);
    cfg.trigger = VMRT_GC_TRIGGER_MEMORY_PRESSURE;
    cfg.pressure_ratio = 0.0;
    gc = new_gc(&cfg, &m);
    make_garbage(m, 60000); /* > 1 MiB */
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(st.gc_count >= 1);
    ASSERT_EQ(vmrt_gc_set_trigger(gc, (vmrt_gc_trigger_t)9), -EINVAL);
    ASSERT_OK(vmrt_gc_set_trigger(gc, VMRT_GC_TRIGGER_ADAPTIVE));
    ASSERT_STR_EQ(vmrt_gc_trigger_name(VMRT_GC_TRIGGER_ADAPTIVE), "adaptive");
    done(gc, m);
}

static int starts, ends;
static void on_start(vmrt_gc_t *gc, uint64_t cycle, void *user)
{
    (void)gc;
    ASSERT_TRUE(user == &starts);
    ASSERT_EQ(cycle, (uint64_t)starts + 1);
    starts++;
}
static void on_end(vmrt_gc_t *gc, const vmrt_gc_stats_t *st, void *user)
{
    (void)gc;
    (void)user;
    ends++;
    ASSERT_EQ(st->gc_count, (uint64_t)ends);
}

static void test_callbacks_and_adaptive(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.on_cycle_start = on_start;
    cfg.on_cycle_end = on_end;
    cfg.user = &starts;
    cfg.min_heap = 1 << 20;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(&cfg, &m);
    starts = ends = 0;
    make_garbage(m, 300000); /* 12 MB of garbage, goal 1 MiB: several cycles */
    ASSERT_TRUE(starts >= 3);
    ASSERT_EQ(starts, ends);
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(st.heap_committed < (8u << 20)); /* memory is reused, not grown */
    done(gc, m);
}

static void test_blocked_thread_does_not_stall(void **state)
{
    (void)state;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    vmrt_gc_mutator_t *m2 = NULL;
    /* a second mutator on this thread, declared blocked */
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m2));
    vmrt_gc_thread_block(m2);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    vmrt_gc_thread_unblock(m2);
    vmrt_gc_thread_detach(m2);
    ASSERT_TRUE(vmrt_gc_current(gc) == NULL || vmrt_gc_current(gc) == m);
    done(gc, m);
}

static int stops, resumes;
static uintptr_t fake_stack[16]; /* a "coroutine stack" reported by the hook */

static int hook_stop(void *ctx)
{
    ASSERT_TRUE(ctx == &stops);
    stops++;
    return 0;
}

static void hook_resume(void *ctx)
{
    (void)ctx;
    resumes++;
}

static void hook_stacks(void *ctx, void (*visit)(void *, const void *, const void *), void *arg)
{
    (void)ctx;
    visit(arg, fake_stack, fake_stack + 16);
}

static void test_scheduler_hooks(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.hooks.stop_world = hook_stop;
    cfg.hooks.resume_world = hook_resume;
    cfg.hooks.enumerate_stacks = hook_stacks;
    cfg.hooks.ctx = &stops;
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(&cfg, &m);
    stops = resumes = 0;
    node_t *n = NULL;
    for (int i = 0; i < 3000; i++) {
        node_t *x = vmrt_gc_alloc(m, &node_type);
        x->value = i;
        if (i == 1500)
            n = x;
    }
    ASSERT_NOT_NULL(n);
    fake_stack[5] = (uintptr_t)n; /* only the coroutine stack references it */
    uintptr_t addr = (uintptr_t)n;
    n = NULL;
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_COMPACT));
    ASSERT_TRUE(stops >= 1);
    ASSERT_EQ(stops, resumes);
    ASSERT_TRUE(vmrt__gc_is_valid(gc, (void *)addr)); /* kept alive ... */
    ASSERT_EQ(((node_t *)addr)->value, 1500);         /* ... and not moved */
    fake_stack[5] = 0;
    done(gc, m);
}

static void test_gctrace_line(void **state)
{
    (void)state;
    char path[] = "/tmp/vmrt-gctrace-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    ASSERT_TRUE(dup2(fd, 2) >= 0);
    setenv("VMRT_GCTRACE", "1", 1);
    vmrt_gc_mutator_t *m;
    vmrt_gc_t *gc = new_gc(NULL, &m);
    make_garbage(m, 1000);
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    done(gc, m);
    unsetenv("VMRT_GCTRACE");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[512] = {0};
    ASSERT_TRUE(pread(fd, buf, sizeof buf - 1, 0) > 0);
    close(fd);
    unlink(path);
    ASSERT_TRUE(strncmp(buf, "gc 1 @", 6) == 0);
    ASSERT_NOT_NULL(strstr(buf, "pause max"));
    ASSERT_NOT_NULL(strstr(buf, "live"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_types),
        cmocka_unit_test(test_roots_survive_garbage_dies),
        cmocka_unit_test(test_handle_scope),
        cmocka_unit_test(test_compaction_moves_and_updates),
        cmocka_unit_test(test_conservative_roots_pin),
        cmocka_unit_test(test_finalizer_and_weak_order),
        cmocka_unit_test(test_heap_limit),
        cmocka_unit_test(test_injected_mmap_failure),
        cmocka_unit_test(test_incremental_steps),
        cmocka_unit_test(test_enabled_switch),
        cmocka_unit_test(test_triggers),
        cmocka_unit_test(test_callbacks_and_adaptive),
        cmocka_unit_test(test_blocked_thread_does_not_stall),
        cmocka_unit_test(test_scheduler_hooks),
        cmocka_unit_test(test_gctrace_line),
    };
    VT_RUN("gc_basic", tests);
}
