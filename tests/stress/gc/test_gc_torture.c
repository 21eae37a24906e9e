/* GC torture test: several mutator threads — and, in a second test, several
 * coroutines per vCPU of a runtime on 2 vCPUs — mutate random object graphs
 * while the collector runs incremental steps (bounded, parallel marking)
 * and full compacting collections. Each thread keeps a shadow model of its
 * own graph (node id -> child ids) and, after every completed cycle, walks
 * its graph from its roots and compares it with the model. Conservatively
 * referenced nodes are checked not to move. Many seeds (one per round),
 * bounded in time: VMRT_TEST_CONFIG=tsan/asan/aarch64 runs shorter. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>

#include "../../unit/gc/gc_test.h"

VT_DEFINE_GLOBALS;

#define MAXK   8
#define NROOTS 16
#define NCONS  4
#define MAXIDS (1 << 18)

typedef struct vnode {
    uint64_t id;
    uint64_t n; /* children in use (<= elements) */
    struct vnode *kids[];
} vnode_t;

static const vmrt_gc_type_t vnode_type = {
    .name = "vnode", .size = 16, .elem_size = sizeof(void *), .elem_refs = true};

typedef struct model {
    uint8_t n[MAXIDS];
    int32_t kids[MAXIDS][MAXK];
    uint32_t seen[MAXIDS];
} model_t;

typedef struct worker {
    vmrt_gc_t *gc;
    vmrt_runtime_t *rt; /* coroutine rounds: mutator = the current vCPU's */
    unsigned idx;
    uint64_t seed;
    uint64_t deadline;
    bool compactor;
    model_t *mdl;
    uint32_t next_id, walk;
    vnode_t *roots[NROOTS];
    vnode_t *tmp;
    uintptr_t *cons; /* conservative range: addresses of pinned nodes */
    uint64_t cons_id[NCONS];
    long verified, ops, failures, migrations;
} worker_t;

static uint64_t rnd(worker_t *w)
{
    w->seed ^= w->seed << 13;
    w->seed ^= w->seed >> 7;
    w->seed ^= w->seed << 17;
    return w->seed;
}

static int32_t id_of(vnode_t *n)
{
    return n ? (int32_t)n->id : -1;
}

/* A random reachable node (or NULL): a short random walk from a root. */
static vnode_t *pick(worker_t *w)
{
    vnode_t *n = w->roots[rnd(w) % NROOTS];
    for (int d = (int)(rnd(w) % 4); n && d > 0; d--) {
        vnode_t *c = n->n ? n->kids[rnd(w) % n->n] : NULL;
        if (!c)
            break;
        n = c;
    }
    return n;
}

static void report(worker_t *w, const char *what, uint64_t id)
{
    if (w->failures++ < 5)
        fprintf(stderr, "torture: thread %u seed %llu: %s (id %llu)\n", w->idx,
                (unsigned long long)w->seed, what, (unsigned long long)id);
}

/* Walks the graph and compares it with the model. */
static void verify(worker_t *w)
{
    w->walk++;
    vnode_t *stack[4096];
    int sp = 0;
    for (int r = 0; r < NROOTS; r++)
        if (w->roots[r])
            stack[sp++] = w->roots[r];
    while (sp > 0) {
        vnode_t *n = stack[--sp];
        if (!vmrt__gc_is_valid(w->gc, n) || vmrt_gc_type_of(n) != &vnode_type) {
            report(w, "reachable object is not a valid vnode", 0);
            return;
        }
        uint64_t id = n->id;
        if (id >= w->next_id) {
            report(w, "bad id", id);
            return;
        }
        if (w->mdl->seen[id] == w->walk)
            continue;
        w->mdl->seen[id] = w->walk;
        if (n->n != w->mdl->n[id] || vmrt_gc_length(n) < n->n)
            report(w, "child count differs from model", id);
        for (unsigned k = 0; k < n->n && k < MAXK; k++) {
            if (id_of(n->kids[k]) != w->mdl->kids[id][k])
                report(w, "child differs from model", id);
            if (n->kids[k] && sp < 4096)
                stack[sp++] = n->kids[k];
        }
    }
    for (int c = 0; c < NCONS; c++) {
        vnode_t *n = (vnode_t *)w->cons[c];
        if (n && (!vmrt__gc_is_valid(w->gc, n) || n->id != w->cons_id[c]))
            report(w, "conservatively referenced node moved or died", w->cons_id[c]);
    }
    w->verified++;
}

static void op(worker_t *w, vmrt_gc_mutator_t *m)
{
    uint64_t r = rnd(w) % 100;
    if (r < 40 && w->next_id < MAXIDS) {
        unsigned n = 1 + (unsigned)(rnd(w) % MAXK);
        w->tmp = vmrt_gc_alloc_array(m, &vnode_type, n);
        if (!w->tmp) {
            report(w, "allocation failed", 0);
            return;
        }
        uint32_t id = w->next_id++;
        w->tmp->id = id;
        w->tmp->n = n;
        w->mdl->n[id] = (uint8_t)n;
        for (unsigned k = 0; k < n; k++) {
            vnode_t *c = (rnd(w) & 1) ? pick(w) : NULL;
            vmrt_gc_write(m, w->tmp, &w->tmp->kids[k], c);
            w->mdl->kids[id][k] = id_of(c);
        }
        vnode_t *parent = (rnd(w) & 3) ? pick(w) : NULL;
        if (parent && parent->n) {
            unsigned k = (unsigned)(rnd(w) % parent->n);
            vmrt_gc_write(m, parent, &parent->kids[k], w->tmp);
            w->mdl->kids[parent->id][k] = (int32_t)id;
        } else {
            w->roots[rnd(w) % NROOTS] = w->tmp;
        }
        if (rnd(w) % 64 == 0) { /* now also referenced conservatively */
            unsigned c = (unsigned)(rnd(w) % NCONS);
            w->cons[c] = (uintptr_t)w->tmp;
            w->cons_id[c] = id;
        }
        w->tmp = NULL;
    } else if (r < 90) {
        vnode_t *a = pick(w), *b = (rnd(w) % 4) ? pick(w) : NULL;
        if (a && a->n) {
            unsigned k = (unsigned)(rnd(w) % a->n);
            vmrt_gc_write(m, a, &a->kids[k], b);
            w->mdl->kids[a->id][k] = id_of(b);
        }
    } else if (r < 97) {
        w->roots[rnd(w) % NROOTS] = pick(w);
    } else {
        w->roots[rnd(w) % NROOTS] = NULL;
    }
}

/* Worker t of a round: its seed, model and conservative range. */
static void worker_init(worker_t *w, vmrt_gc_t *gc, vmrt_runtime_t *rt, unsigned t, uint64_t seed,
                        uint64_t deadline)
{
    memset(w, 0, sizeof *w);
    w->gc = gc;
    w->rt = rt;
    w->idx = t;
    w->seed = seed * 7919 + t + 1;
    w->deadline = deadline;
    w->compactor = t == 0;
    w->mdl = calloc(1, sizeof *w->mdl);
    w->cons = calloc(NCONS, sizeof *w->cons);
    ASSERT_NOT_NULL(w->mdl);
    ASSERT_NOT_NULL(w->cons);
    ASSERT_OK(vmrt_gc_conservative_add(gc, w->cons, w->cons + NCONS));
}

/* Every 32 operations of a mutator loop: an incremental step, a check of the
 * graph after each completed cycle, now and then a compacting collection.
 * Returns true when the worker should stop (deadline or a failure). */
static bool maintain(worker_t *w, vmrt_gc_mutator_t *m, long i, uint64_t *last)
{
    vmrt_gc_check_and_run_step(m);
    vmrt_gc_stats_t st;
    vmrt_gc_stats(w->gc, &st);
    if (st.gc_count != *last) {
        *last = st.gc_count;
        verify(w);
    }
    if (w->compactor && (i & 4095) == 0)
        vmrt_gc_collect(m, VMRT_GC_COMPACT);
    return vmrt_now_ns() >= w->deadline || w->failures;
}

static void *mutator_main(void *arg)
{
    worker_t *w = arg;
    vmrt_gc_mutator_t *m;
    if (vmrt_gc_thread_attach(w->gc, &m) != 0) {
        w->failures++;
        return NULL;
    }
    for (int r = 0; r < NROOTS; r++)
        vmrt_gc_push_root(m, &w->roots[r]);
    vmrt_gc_push_root(m, &w->tmp);
    uint64_t last = 0;
    for (long i = 0;; i++) {
        op(w, m);
        w->ops++;
        vmrt_gc_safepoint(m);
        if ((i & 31) == 0) {
            if (maintain(w, m, i, &last))
                break;
        }
    }
    verify(w);
    vmrt_gc_thread_detach(m);
    return NULL;
}

/* The same mutator loop as a coroutine of a runtime: roots are global roots
 * (a coroutine may resume on another vCPU, whose thread has its own handle
 * scope), the mutator is the current vCPU's, and the scheduler's safepoint
 * poll both lets the GC stop the world and moves coroutines between vCPUs. */
static void *coro_main(void *arg)
{
    worker_t *w = arg;
    for (int r = 0; r < NROOTS; r++)
        ASSERT_OK(vmrt_gc_root_add(w->gc, (void **)&w->roots[r]));
    ASSERT_OK(vmrt_gc_root_add(w->gc, (void **)&w->tmp));
    uint64_t last = 0;
    for (long i = 0;; i++) {
        op(w, vmrt_runtime_mutator(w->rt));
        w->ops++;
        if ((i & 31) == 0) {
            vmrt_safepoint();
            vmrt_gc_mutator_t *m = vmrt_runtime_mutator(w->rt);
            vmrt_gc_safepoint(m);
            bool stop = maintain(w, m, i, &last);
            if ((i & 2047) == 0) { /* move to the other vCPU mid-graph */
                int v = vmrt_coro_vcpu(vmrt_coro_self());
                ASSERT_OK(vmrt_coro_migrate(vmrt_coro_self(), v == 0 ? 1u : 0u));
                w->migrations++;
            } else if ((i & 511) == 0) {
                vmrt_yield(); /* interleave the coroutines of a vCPU */
            }
            if (stop)
                break;
        }
    }
    verify(w);
    for (int r = 0; r < NROOTS; r++)
        ASSERT_OK(vmrt_gc_root_remove(w->gc, (void **)&w->roots[r]));
    ASSERT_OK(vmrt_gc_root_remove(w->gc, (void **)&w->tmp));
    return NULL;
}

static void torture_gc_config(vmrt_gc_config_t *cfg)
{
    gc_test_config(cfg);
    cfg->incremental = true;
    cfg->trigger = VMRT_GC_TRIGGER_FIXED_THRESHOLD;
    cfg->threshold_bytes = 256 << 10;
    cfg->step_budget_ns = 30000;
    cfg->markers = gc_test_under_qemu() ? 1 : 3;
    cfg->compact_live_ratio = 0.5;
    cfg->parallel_steps = true;
}

static void run_round(uint64_t seed, unsigned threads, uint64_t ns, long *ops, long *verified)
{
    vmrt_gc_config_t cfg;
    torture_gc_config(&cfg);
    cfg.generational = (seed & 1) == 0; /* minor cycles with odd seeds too: full ones only */
    vmrt_gc_t *gc;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    worker_t ws[8];
    pthread_t th[8];
    uint64_t deadline = vmrt_now_ns() + ns;
    for (unsigned t = 0; t < threads; t++) {
        worker_t *w = &ws[t];
        worker_init(w, gc, NULL, t, seed, deadline);
        if (threads > 1)
            ASSERT_OK(pthread_create(&th[t], NULL, mutator_main, w));
    }
    if (threads == 1)
        mutator_main(&ws[0]);
    long failures = 0;
    for (unsigned t = 0; t < threads; t++) {
        if (threads > 1)
            pthread_join(th[t], NULL);
        failures += ws[t].failures;
        *ops += ws[t].ops;
        *verified += ws[t].verified;
    }
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    for (unsigned t = 0; t < threads; t++) {
        free(ws[t].mdl);
        free(ws[t].cons);
    }
    vmrt_gc_destroy(gc);
    fprintf(stderr,
            "torture: seed %llu: %llu cycles (%llu minor), %llu steps, %llu pauses (max %llu us), "
            "%llu objects moved, %llu steals%s\n",
            (unsigned long long)seed, (unsigned long long)st.gc_count,
            (unsigned long long)st.minor_count, (unsigned long long)st.incremental_steps,
            (unsigned long long)st.pause_count, (unsigned long long)st.pause_max / 1000,
            (unsigned long long)st.objects_moved, (unsigned long long)st.steals,
            failures ? " FAILED" : "");
    ASSERT_EQ(failures, 0);
    ASSERT_TRUE(st.gc_count > 0);
    ASSERT_TRUE(st.incremental_steps > 0);
    if (cfg.generational)
        ASSERT_TRUE(st.minor_count > 0);
    else
        ASSERT_EQ(st.minor_count, 0);
}

/* Coroutines on the runtime: several per vCPU, on 2 vCPUs, mutating their
 * graphs while the same collector runs incremental, parallel and compacting
 * cycles; the same shadow-model checks. */
static void run_coroutine_round(uint64_t seed, unsigned coros, uint64_t ns, long *ops,
                                long *verified)
{
    vmrt_runtime_config_t rc;
    vmrt_runtime_config_init(&rc);
    torture_gc_config(&rc.gc);
    rc.sched.vcpus = 2;
    vmrt_runtime_t *rt;
    ASSERT_OK(vmrt_runtime_new(&rt, &rc));
    ASSERT_OK(vmrt_runtime_start(rt));
    vmrt_gc_t *gc = vmrt_runtime_gc(rt);
    worker_t ws[8];
    vmrt_coro_t *co[8];
    uint64_t deadline = vmrt_now_ns() + ns;
    for (unsigned t = 0; t < coros; t++) {
        worker_t *w = &ws[t];
        worker_init(w, gc, rt, t, seed, deadline);
        ASSERT_OK(vmrt_runtime_spawn(rt, &co[t], NULL, coro_main, w));
    }
    long failures = 0, migrations = 0;
    for (unsigned t = 0; t < coros; t++) {
        ASSERT_OK(vmrt_sched_join(co[t], NULL));
        failures += ws[t].failures;
        migrations += ws[t].migrations;
        *ops += ws[t].ops;
        *verified += ws[t].verified;
    }
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    vmrt_sched_stats_t ss;
    ASSERT_OK(vmrt_sched_stats(vmrt_runtime_sched(rt), &ss));
    for (unsigned t = 0; t < coros; t++)
        ASSERT_OK(vmrt_gc_conservative_remove(gc, ws[t].cons));
    ASSERT_OK(vmrt_runtime_shutdown(rt, 5000000000ull));
    vmrt_runtime_destroy(rt);
    for (unsigned t = 0; t < coros; t++) {
        free(ws[t].mdl);
        free(ws[t].cons);
    }
    fprintf(stderr,
            "torture (coroutines): seed %llu: %llu cycles (%llu minor), %llu steps, %llu objects "
            "moved, %llu context switches, %llu migrations+steals%s\n",
            (unsigned long long)seed, (unsigned long long)st.gc_count,
            (unsigned long long)st.minor_count, (unsigned long long)st.incremental_steps,
            (unsigned long long)st.objects_moved, (unsigned long long)ss.context_switches,
            (unsigned long long)(ss.migrations + ss.steals), failures ? " FAILED" : "");
    ASSERT_EQ(failures, 0);
    ASSERT_TRUE(st.gc_count > 0);
    ASSERT_TRUE(st.incremental_steps > 0);
    ASSERT_TRUE(st.minor_count > 0); /* the runtime's default: generational */
    ASSERT_TRUE(migrations > 0);
}

static void test_torture_coroutines(void **state)
{
    (void)state;
    bool slow = gc_test_slow_config();
    uint64_t total = slow ? 1500000000ull : 3000000000ull;
    unsigned rounds = slow ? 3 : 6, coros = gc_test_under_qemu() ? 2 : 6;
    const char *s = getenv("VMRT_TORTURE_SEED");
    uint64_t base = s ? strtoull(s, NULL, 0) : 1;
    long ops = 0, verified = 0;
    for (unsigned r = 0; r < rounds; r++)
        run_coroutine_round(base + 100 + r, coros, total / rounds, &ops, &verified);
    fprintf(stderr,
            "torture: %u seeds, %u coroutines on 2 vCPUs, %ld operations, %ld verifications\n",
            rounds, coros, ops, verified);
    ASSERT_TRUE(verified >= rounds);
}

static void test_torture(void **state)
{
    (void)state;
    bool slow = gc_test_slow_config();
    uint64_t total = slow ? 2000000000ull : 4000000000ull;
    unsigned rounds = slow ? 4 : 10, threads = gc_test_under_qemu() ? 1 : slow ? 2 : 4;
    const char *s = getenv("VMRT_TORTURE_SEED");
    uint64_t base = s ? strtoull(s, NULL, 0) : 1;
    long ops = 0, verified = 0;
    for (unsigned r = 0; r < rounds; r++)
        run_round(base + r, threads, total / rounds, &ops, &verified);
    fprintf(stderr, "torture: %u seeds from %llu, %u threads, %ld operations, %ld verifications\n",
            rounds, (unsigned long long)base, threads, ops, verified);
    ASSERT_TRUE(verified >= rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torture),
#ifndef VMRT_TEST_NO_REMSET /* that build has its own GC sources: the threads alone */
        cmocka_unit_test(test_torture_coroutines),
#endif
    };
#ifdef VMRT_TEST_NO_REMSET
    (void)test_torture_coroutines;
#endif
    VT_RUN("gc_torture", tests);
}
