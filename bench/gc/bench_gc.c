/* GC benchmarks on vmrt's collector. Usage: vmrt-bench-gc BENCH METRIC N [inc]
 *
 *   BENCH   gcbench      Boehm's GCBench: stretch tree depth N+2, long-lived
 *                        tree depth N, a 500,000-double array, trees of
 *                        depth 4..N built top-down and bottom-up (the
 *                        original uses N = 16)
 *           binarytrees  Benchmarks Game binary-trees, max depth N,
 *                        single-threaded
 *           bigheap      N MiB of live trees (depth 10) held by one array,
 *                        then random trees replaced until 3N MiB more were
 *                        allocated: pauses over a large live heap
 *   METRIC  time (ms), pause_max (us), pause_p99 (us), rss (peak KiB),
 *           rss_live (peak RSS of the process / live data, where live data is
 *           the largest live-bytes figure after any full cycle: reachable
 *           objects with their headers), or pauses: every pause (us) on its own
 *           line, for the CDF plot (from the GC's power-of-two histogram: each
 *           pause as its bucket's middle)
 *   inc     incremental marking (default: stop-the-world, parallel marking)
 *   gogc100-full  the collector's former default: no generations, gogc 100
 *                 (the peer of the rss_live rows)
 *
 * Prints one number. Heap: precise (type descriptors), with the thread's
 * stack scanned conservatively for roots, as bdwgc does, so tree builders
 * can keep temporaries in C locals. Stores go through the write barrier.
 * The same programs against bdwgc, malloc and Go are in bench/peers/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <vmrt/vmrt.h>

typedef struct node {
    struct node *left, *right;
    int i, j;
} node_t;

static const vmrt_gc_type_t node_type = {.name = "node", .size = sizeof(node_t), .ref_map = 0x3};
static const vmrt_gc_type_t doubles_type = {.name = "doubles", .size = 0, .elem_size = 8};

static vmrt_gc_mutator_t *M;

static node_t *new_node(node_t *l, node_t *r)
{
    node_t *n = vmrt_gc_alloc(M, &node_type);
    if (!n) {
        fprintf(stderr, "vmrt-bench-gc: out of memory\n");
        exit(1);
    }
    vmrt_gc_write(M, n, &n->left, l);
    vmrt_gc_write(M, n, &n->right, r);
    return n;
}

/* ---- GCBench ---- */

static int tree_size(int d)
{
    return (1 << (d + 1)) - 1;
}

static void populate(int depth, node_t *n)
{
    if (depth <= 0)
        return;
    depth--;
    node_t *l = new_node(NULL, NULL);
    vmrt_gc_write(M, n, &n->left, l);
    node_t *r = new_node(NULL, NULL);
    vmrt_gc_write(M, n, &n->right, r);
    populate(depth, n->left);
    populate(depth, n->right);
}

static node_t *make_tree(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    node_t *l = make_tree(depth - 1);
    node_t *r = make_tree(depth - 1);
    return new_node(l, r);
}

static void gcbench(int max_depth)
{
    int stretch = max_depth + 2, long_lived = max_depth, min_depth = 4;
    node_t *volatile t = make_tree(stretch);
    t = NULL;
    node_t *volatile ll = new_node(NULL, NULL);
    populate(long_lived, ll);
    double *volatile arr = vmrt_gc_alloc_array(M, &doubles_type, 500000);
    for (int i = 0; i < 500000 / 2; i++)
        arr[i] = 1.0 / i;
    for (int d = min_depth; d <= max_depth; d += 2) {
        int iters = 2 * tree_size(stretch) / tree_size(d);
        for (int i = 0; i < iters; i++) {
            t = new_node(NULL, NULL);
            populate(d, t);
            t = NULL;
        }
        for (int i = 0; i < iters; i++) {
            t = make_tree(d);
            t = NULL;
        }
    }
    if (!ll || arr[1000] != 1.0 / 1000) {
        fprintf(stderr, "vmrt-bench-gc: gcbench check failed\n");
        exit(1);
    }
}

/* ---- binary-trees ---- */

static node_t *bottom_up(int depth)
{
    if (depth <= 0)
        return new_node(NULL, NULL);
    node_t *l = bottom_up(depth - 1);
    node_t *r = bottom_up(depth - 1);
    return new_node(l, r);
}

static long check(const node_t *n)
{
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static void binarytrees(int n)
{
    int min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    long total = check(bottom_up(max_depth + 1));
    node_t *volatile long_lived = bottom_up(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + min_depth), c = 0;
        for (long i = 0; i < iters; i++)
            c += check(bottom_up(d));
        total += c;
    }
    total += check(long_lived);
    if (total <= 0)
        exit(1);
}

/* ---- bigheap: a large live heap under churn (for incremental pauses) ---- */

static const vmrt_gc_type_t refs_type = {
    .name = "refs", .size = 0, .elem_size = sizeof(void *), .elem_refs = true};

#define BIG_DEPTH 10 /* trees of 2047 nodes: 80 KiB with 16-byte headers */

/* Builds N MiB of live data as trees held by one root array, then replaces
 * random trees (the old ones become garbage) until 3 * N MiB more were
 * allocated, so that several incremental cycles run over the full heap. */
static void bigheap(int mib)
{
    size_t tree_bytes = (size_t)tree_size(BIG_DEPTH) * (sizeof(node_t) + 16);
    size_t ntrees = ((size_t)mib << 20) / tree_bytes;
    if (ntrees < 1)
        ntrees = 1;
    node_t **volatile roots = vmrt_gc_alloc_array(M, &refs_type, ntrees);
    if (!roots) {
        fprintf(stderr, "vmrt-bench-gc: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < ntrees; i++)
        vmrt_gc_write(M, roots, &roots[i], make_tree(BIG_DEPTH));
    uint64_t seed = 88172645463325252ull;
    for (size_t k = 0; k < 3 * ntrees; k++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        vmrt_gc_write(M, roots, &roots[seed % ntrees], make_tree(BIG_DEPTH));
    }
    long c = 0;
    for (size_t i = 0; i < ntrees; i++)
        c += check(roots[i]);
    if (c != (long)ntrees * tree_size(BIG_DEPTH)) {
        fprintf(stderr, "vmrt-bench-gc: bigheap check failed\n");
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: vmrt-bench-gc gcbench|binarytrees|bigheap "
                        "time|pause_max|pause_p99|rss|rss_live|pauses "
                        "N [inc] [gogc100-full]\n");
        return 2;
    }
    vmrt_gc_config_t cfg;
    vmrt_gc_config_init(&cfg);
    cfg.scan_thread_stacks = true;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "inc")) {
            cfg.incremental = true;
        } else if (!strcmp(argv[i], "gogc100-full")) {
            cfg.generational = false;
            cfg.gogc = 100;
        } else {
            fprintf(stderr, "vmrt-bench-gc: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    const char *gogc = getenv("VMRT_BENCH_GOGC"); /* for RSS/time trade-off runs */
    if (gogc && *gogc)
        cfg.gogc = (unsigned)atoi(gogc);
    const char *gen = getenv("VMRT_BENCH_GEN"); /* 0: no generations */
    if (gen && *gen)
        cfg.generational = atoi(gen) != 0;
    const char *step = getenv("VMRT_BENCH_STEP_US"); /* incremental step budget */
    if (step && *step)
        cfg.step_budget_ns = (uint64_t)atoi(step) * 1000u;
    vmrt_gc_t *gc;
    if (vmrt_gc_new(&gc, &cfg) || vmrt_gc_thread_attach(gc, &M))
        return 1;
    int n = atoi(argv[3]);
    uint64_t t0 = vmrt_now_ns();
    if (!strcmp(argv[1], "gcbench"))
        gcbench(n);
    else if (!strcmp(argv[1], "binarytrees"))
        binarytrees(n);
    else if (!strcmp(argv[1], "bigheap"))
        bigheap(n);
    else
        return 2;
    uint64_t t1 = vmrt_now_ns();
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (getenv("VMRT_BENCH_VERBOSE"))
        fprintf(
            stderr,
            "%s: %.1f ms, %llu cycles, pauses %llu max %.3f ms p99 %.3f ms, moved %llu KB, "
            "peak rss %ld KB, gc time %.1f ms (sweep %.1f), live %zu KB, steps %llu, minor %llu, "
            "max live %zu KB (rss/live %.2f)\n",
            argv[1], (double)(t1 - t0) / 1e6, (unsigned long long)st.gc_count,
            (unsigned long long)st.pause_count, (double)st.pause_max / 1e6,
            (double)st.pause_p99 / 1e6, (unsigned long long)(st.bytes_moved >> 10), ru.ru_maxrss,
            (double)st.gc_time / 1e6, (double)st.sweep_time / 1e6, st.live_bytes >> 10,
            (unsigned long long)st.incremental_steps, (unsigned long long)st.minor_count,
            st.live_full_max >> 10,
            st.live_full_max ? (double)ru.ru_maxrss * 1024 / (double)st.live_full_max : 0.0);
    if (getenv("VMRT_BENCH_VERBOSE"))
        for (int i = 0; i < VMRT_GC_PAUSE_BUCKETS; i++)
            if (st.pause_hist[i])
                fprintf(stderr, "  pauses in [%.3f, %.3f) ms: %llu\n", (double)(1ull << i) / 1e6,
                        (double)(2ull << i) / 1e6, (unsigned long long)st.pause_hist[i]);
    const char *metric = argv[2];
    if (!strcmp(metric, "time"))
        printf("%.3f\n", (double)(t1 - t0) / 1e6);
    else if (!strcmp(metric, "pause_max"))
        printf("%.3f\n", (double)st.pause_max / 1e3);
    else if (!strcmp(metric, "pause_p99"))
        printf("%.3f\n", (double)st.pause_p99 / 1e3);
    else if (!strcmp(metric, "rss"))
        printf("%ld\n", ru.ru_maxrss);
    else if (!strcmp(metric, "rss_live")) {
        if (!st.live_full_max) {
            fprintf(stderr, "vmrt-bench-gc: rss_live: no full cycle ran, so no live data\n");
            return 1;
        }
        printf("%.3f\n", (double)ru.ru_maxrss * 1024 / (double)st.live_full_max);
    } else if (!strcmp(metric, "pauses")) /* for the CDF plot: one line per pause (us) */
        for (int i = 0; i < VMRT_GC_PAUSE_BUCKETS; i++)
            for (uint64_t k = 0; k < st.pause_hist[i]; k++) /* bucket [2^i, 2^(i+1)) ns */
                printf("%.3f\n", 1.5 * (double)(1ull << i) / 1e3);
    else
        return 2;
    vmrt_gc_thread_detach(M);
    vmrt_gc_destroy(gc);
    return 0;
}
