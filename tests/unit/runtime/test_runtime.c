/* The runtime object: coroutines on the scheduler allocating in the GC heap
 * through per-thread mutators, collections that stop every vCPU, and the
 * statistics snapshot in JSON, Prometheus and text. */
#include "harness.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

typedef struct node {
    struct node *next;
    uint64_t value;
} node_t;

static const vmrt_gc_type_t node_type = {
    .name = "node", .size = sizeof(node_t), .ref_map = 1u, /* word 0: next */
};

typedef struct job {
    vmrt_runtime_t *rt;
    uint64_t sum;
} job_t;

/* Builds a list of 2000 nodes kept in a rooted slot, collecting now and then;
 * the sum proves the list survived every collection. */
static void *worker(void *arg)
{
    job_t *j = arg;
    vmrt_gc_mutator_t *m = vmrt_runtime_mutator(j->rt);
    ASSERT_NOT_NULL(m);
    void *head = NULL;
    ASSERT_OK(vmrt_gc_root_add(vmrt_runtime_gc(j->rt), &head));
    for (uint64_t i = 1; i <= 2000; i++) {
        m = vmrt_runtime_mutator(j->rt); /* the vCPU (thread) may change across a yield */
        node_t *n = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(n);
        n->value = i;
        vmrt_gc_write(m, n, &n->next, head);
        head = n;
        if (i % 500 == 0) {
            ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
            vmrt_yield();
        }
    }
    uint64_t sum = 0;
    for (node_t *n = head; n; n = n->next)
        sum += n->value;
    j->sum = sum;
    ASSERT_OK(vmrt_gc_root_remove(vmrt_runtime_gc(j->rt), &head));
    return NULL;
}

static void test_runtime_gc_on_scheduler(void **state)
{
    (void)state;
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    cfg.sched.vcpus = 2;
    vmrt_runtime_t *rt;
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    ASSERT_OK(vmrt_runtime_start(rt));
    enum { N = 4 };
    job_t jobs[N];
    vmrt_coro_t *cos[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (job_t){rt, 0};
        ASSERT_OK(vmrt_runtime_spawn(rt, &cos[i], NULL, worker, &jobs[i]));
    }
    for (int i = 0; i < N; i++) {
        ASSERT_OK(vmrt_sched_join(cos[i], NULL));
        ASSERT_EQ(jobs[i].sum, 2000u * 2001u / 2);
    }
    ASSERT_OK(vmrt_runtime_set_guest_stat(rt, "threads", 4));

    char *json = vmrt_runtime_stats_json(rt);
    ASSERT_NOT_NULL(json);
    ASSERT_NOT_NULL(strstr(json, "\"context_switches_total\""));
    ASSERT_NOT_NULL(strstr(json, "\"gc_count\""));
    ASSERT_NOT_NULL(strstr(json, "\"threads\""));
    free(json);

    char buf[1 << 15] = {0};
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    ASSERT_OK(vmrt_runtime_stats_prometheus(rt, f));
    fclose(f);
    ASSERT_NOT_NULL(strstr(buf, "vmrt_gc_gc_count "));
    ASSERT_NOT_NULL(strstr(buf, "vmrt_sched_vcpus_context_switches_total{vcpu=\"0\"}"));

    memset(buf, 0, sizeof buf);
    f = fmemopen(buf, sizeof buf - 1, "w");
    ASSERT_OK(vmrt_runtime_stats_print(rt, f));
    fclose(f);
    ASSERT_NOT_NULL(strstr(buf, "scheduler: 2 vCPUs"));
    ASSERT_NOT_NULL(strstr(buf, "gc:"));

    vmrt_gc_stats_t gs;
    vmrt_gc_stats(vmrt_runtime_gc(rt), &gs);
    ASSERT_TRUE(gs.gc_count >= N * 4);
    ASSERT_OK(vmrt_runtime_shutdown(rt, 5000000000ull));
    vmrt_runtime_destroy(rt);
}

/* gc.scan_coroutine_stacks: a list whose head lives only in a coroutine's
 * stack frame survives collections with compaction run from another
 * coroutine, and the head (conservatively referenced, hence pinned) stays
 * where it is. */
static atomic_int phase;

static void *stack_holder(void *arg)
{
    vmrt_runtime_t *rt = arg;
    node_t *volatile head = NULL; /* in this frame only: no root, no handle */
    for (uint64_t i = 1; i <= 3000; i++) {
        vmrt_gc_mutator_t *m = vmrt_runtime_mutator(rt);
        node_t *n = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(n);
        n->value = i;
        vmrt_gc_write(m, n, &n->next, head);
        head = n;
    }
    node_t *before = head;
    atomic_store(&phase, 1);
    while (atomic_load(&phase) != 2)
        vmrt_yield(); /* parked in the scheduler while the other one collects */
    ASSERT_TRUE(head == before);
    uint64_t sum = 0;
    for (node_t *n = head; n; n = n->next)
        sum += n->value;
    return (void *)(uintptr_t)sum;
}

static void *collector(void *arg)
{
    vmrt_runtime_t *rt = arg;
    while (atomic_load(&phase) != 1)
        vmrt_yield();
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 20000; i++) /* garbage: sparse blocks to evacuate */
            ASSERT_NOT_NULL(vmrt_gc_alloc(vmrt_runtime_mutator(rt), &node_type));
        ASSERT_OK(vmrt_gc_collect(vmrt_runtime_mutator(rt), VMRT_GC_FULL | VMRT_GC_COMPACT));
    }
    atomic_store(&phase, 2);
    return NULL;
}

static void test_scan_coroutine_stacks(void **state)
{
    (void)state;
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    cfg.sched.vcpus = 2;
    cfg.scan_coroutine_stacks = true;
    vmrt_runtime_t *rt;
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    ASSERT_OK(vmrt_runtime_start(rt));
    atomic_store(&phase, 0);
    vmrt_coro_t *h, *c;
    ASSERT_OK(vmrt_runtime_spawn(rt, &h, NULL, stack_holder, rt));
    ASSERT_OK(vmrt_runtime_spawn(rt, &c, NULL, collector, rt));
    void *sum;
    ASSERT_OK(vmrt_sched_join(c, NULL));
    ASSERT_OK(vmrt_sched_join(h, &sum));
    ASSERT_EQ((uintptr_t)sum, 3000u * 3001u / 2);
    vmrt_gc_stats_t gs;
    vmrt_gc_stats(vmrt_runtime_gc(rt), &gs);
    ASSERT_TRUE(gs.gc_count >= 3);
    ASSERT_OK(vmrt_runtime_shutdown(rt, 5000000000ull));
    vmrt_runtime_destroy(rt);
}

/* An embedder's root enumerator (vmrt_gc_root_fn_add): tagged slots like a
 * guest interpreter's registers; only the pointer slots are visited, and
 * compaction updates them. */
static uint64_t regs[64];

static void visit_regs(vmrt_gc_visitor_t *v, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < 64; i++)
        if (regs[i] && !(regs[i] & 1))
            vmrt_gc_visit(v, (void **)&regs[i]);
}

static void test_root_fn_with_compaction(void **state)
{
    (void)state;
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    cfg.sched.vcpus = 1;
    vmrt_runtime_t *rt;
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    vmrt_gc_t *gc = vmrt_runtime_gc(rt);
    vmrt_gc_mutator_t *m = vmrt_runtime_mutator(rt);
    ASSERT_NOT_NULL(m);
    ASSERT_OK(vmrt_gc_root_fn_add(gc, visit_regs, NULL));
    /* Fill blocks with garbage so that the survivors sit in sparse blocks. */
    for (int round = 0; round < 20000; round++) {
        node_t *n = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(n);
        n->value = (uint64_t)round;
        if (round % 400 == 0 && round / 400 < 32)
            regs[2 * (round / 400)] = (uint64_t)(uintptr_t)n;    /* even: a reference */
        regs[2 * (round % 32) + 1] = ((uint64_t)round << 1) | 1; /* odd: an integer */
    }
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_COMPACT));
    for (int i = 0; i < 32; i++) {
        node_t *n = (node_t *)(uintptr_t)regs[2 * i];
        ASSERT_NOT_NULL(n);
        ASSERT_EQ(n->value, (uint64_t)(i * 400));
    }
    vmrt_gc_stats_t gs;
    vmrt_gc_stats(gc, &gs);
    ASSERT_TRUE(gs.bytes_freed > 0);
    ASSERT_TRUE(gs.bytes_moved > 0); /* the survivors were evacuated: slots updated */
    ASSERT_OK(vmrt_gc_root_fn_remove(gc, visit_regs, NULL));
    ASSERT_EQ(vmrt_gc_root_fn_remove(gc, visit_regs, NULL), -ENOENT);
    vmrt_runtime_destroy(rt);
}

static int sandboxed_vm(void *arg)
{
    const vmrt_runtime_config_t *cfg = arg;
    vmrt_runtime_t *rt;
    if (vmrt_runtime_new(&rt, cfg) || vmrt_runtime_start(rt))
        return 3;
    job_t job = {rt, 0};
    vmrt_coro_t *co;
    if (vmrt_runtime_spawn(rt, &co, NULL, worker, &job) || vmrt_sched_join(co, NULL))
        return 4;
    vmrt_runtime_destroy(rt);
    return job.sum == 2000u * 2001u / 2 ? 42 : 5;
}

/* The VM's optional sandbox: the whole runtime in a child process. */
static void test_run_sandboxed(void **state)
{
    (void)state;
    const char *cfgname = getenv("VMRT_TEST_CONFIG");
    if (cfgname && !strcmp(cfgname, "aarch64"))
        VT_SKIP("sandboxes under qemu-aarch64 are covered by the sandbox tests' own skips");
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    cfg.sched.vcpus = 2;
    cfg.sandbox.isolation_level = VMRT_ISOLATION_PROCESS;
    vmrt_sandbox_report_t rep;
    ASSERT_OK(vmrt_runtime_run_sandboxed(&cfg, sandboxed_vm, &cfg, &rep));
    ASSERT_EQ(rep.reason, VMRT_END_EXITED);
    ASSERT_EQ(rep.exit_code, 42);
    ASSERT_EQ(vmrt_runtime_run_sandboxed(&cfg, NULL, NULL, &rep), -EINVAL);
}

static void test_bad_config(void **state)
{
    (void)state;
    vmrt_runtime_t *rt;
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    cfg.size = 1;
    ASSERT_EQ(vmrt_runtime_new(&rt, &cfg), -EINVAL);
    vmrt_runtime_config_init(&cfg);
    strcpy(cfg.metrics_listen, "8.8.8.8:80");
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    ASSERT_EQ(vmrt_runtime_start(rt), -EADDRNOTAVAIL);
    vmrt_runtime_destroy(rt);
}

/* The sandbox limits become in-process caps: limits.max_memory gives the GC
 * a heap limit of 3/4 of it when gc.max_heap is unset (an explicit one
 * wins), and limits.vcpus / cpu_quota cap the vCPU count. */
static void test_limits_become_caps(void **state)
{
    (void)state;
    vmrt_runtime_t *rt;
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    cfg.sched.vcpus = 4;
    cfg.limits.max_memory = 64u << 20;
    cfg.limits.vcpus = 2;
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    ASSERT_EQ(vmrt_runtime_config(rt)->gc.max_heap, 48u << 20);
    ASSERT_EQ(vmrt_runtime_config(rt)->sched.vcpus, 2);
    vmrt_gc_stats_t g;
    vmrt_gc_stats(vmrt_runtime_gc(rt), &g);
    ASSERT_EQ(g.heap_limit, 48u << 20);
    /* the heap limit is a clean failure, not an abort: 1 KiB of memory
     * leaves no room for a 4 KiB object */
    vmrt_gc_set_limit(vmrt_runtime_gc(rt), 768);
    vmrt_gc_mutator_t *m = vmrt_runtime_mutator(rt);
    ASSERT_NOT_NULL(m);
    static const vmrt_gc_type_t big = {.name = "big", .size = 4096};
    ASSERT_NULL(vmrt_gc_alloc(m, &big));
    vmrt_runtime_destroy(rt);

    vmrt_runtime_config_init(&cfg);
    cfg.sched.vcpus = 4;
    cfg.gc.max_heap = 1u << 20;
    cfg.limits.max_memory = 64u << 20;
    cfg.limits.cpu_quota = 1.5;
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    ASSERT_EQ(vmrt_runtime_config(rt)->gc.max_heap, 1u << 20);
    ASSERT_EQ(vmrt_runtime_config(rt)->sched.vcpus, 2);
    vmrt_runtime_destroy(rt);

    vmrt_runtime_config_init(&cfg); /* no limits: nothing changes */
    cfg.sched.vcpus = 3;
    ASSERT_OK(vmrt_runtime_new(&rt, &cfg));
    ASSERT_EQ(vmrt_runtime_config(rt)->gc.max_heap, 0);
    ASSERT_EQ(vmrt_runtime_config(rt)->sched.vcpus, 3);
    vmrt_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_coroutine_stacks),
        cmocka_unit_test(test_runtime_gc_on_scheduler),
        cmocka_unit_test(test_root_fn_with_compaction),
        cmocka_unit_test(test_run_sandboxed),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_limits_become_caps),
    };
    VT_RUN("runtime", tests);
}
