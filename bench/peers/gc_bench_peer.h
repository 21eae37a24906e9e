/* GCBench and binary-trees, shared by the C peers of vmrt-bench-gc
 * (gc-bdwgc, gc-malloc). The including file defines NEW_NODE(l, r),
 * FREE_TREE(t) (a no-op under a collector), NEW_DOUBLES(n), new_refs(n), pause_max_us()
 * and pause_p99_us(). Usage and output as vmrt-bench-gc (bench/gc). */
#ifndef GC_BENCH_PEER_H
#define GC_BENCH_PEER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

typedef struct node {
    struct node *left, *right;
    int i, j;
} node_t;

static node_t *new_node(node_t *l, node_t *r);
static void free_tree(node_t *t);
static double *new_doubles(size_t n);
static double pause_max_us(void);
static double pause_p99_us(void);
static void print_pauses_us(void); /* one line per pause, for the CDF plot */
static void peer_init(void);
static const char *peer_mode; /* argv[4]: "inc" or NULL */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int tree_size(int d)
{
    return (1 << (d + 1)) - 1;
}

static void populate(int depth, node_t *n)
{
    if (depth <= 0)
        return;
    depth--;
    n->left = new_node(NULL, NULL);
    n->right = new_node(NULL, NULL);
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
    free_tree(t);
    t = NULL;
    node_t *volatile ll = new_node(NULL, NULL);
    populate(long_lived, ll);
    double *volatile arr = new_doubles(500000);
    for (int i = 0; i < 500000 / 2; i++)
        arr[i] = 1.0 / i;
    for (int d = min_depth; d <= max_depth; d += 2) {
        int iters = 2 * tree_size(stretch) / tree_size(d);
        for (int i = 0; i < iters; i++) {
            t = new_node(NULL, NULL);
            populate(d, t);
            free_tree(t);
            t = NULL;
        }
        for (int i = 0; i < iters; i++) {
            t = make_tree(d);
            free_tree(t);
            t = NULL;
        }
    }
    if (!ll || arr[1000] != 1.0 / 1000)
        exit(1);
}

static long check(const node_t *n)
{
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
}

static void binarytrees(int n)
{
    int min_depth = 4, max_depth = n < min_depth + 2 ? min_depth + 2 : n;
    node_t *s = make_tree(max_depth + 1);
    long total = check(s);
    free_tree(s);
    node_t *volatile long_lived = make_tree(max_depth);
    for (int d = min_depth; d <= max_depth; d += 2) {
        long iters = 1L << (max_depth - d + min_depth), c = 0;
        for (long i = 0; i < iters; i++) {
            node_t *t = make_tree(d);
            c += check(t);
            free_tree(t);
        }
        total += c;
    }
    total += check(long_lived);
    if (total <= 0)
        exit(1);
}

/* bigheap: as vmrt-bench-gc (N MiB of live depth-10 trees, sized with
 * vmrt's 16-byte headers so that both hold the same number of nodes, in one
 * array; then random trees replaced until 3N MiB more were allocated). */
static node_t **new_refs(size_t n);

static void bigheap(int mib)
{
    size_t tree_bytes = (size_t)tree_size(10) * (sizeof(node_t) + 16);
    size_t ntrees = ((size_t)mib << 20) / tree_bytes;
    if (ntrees < 1)
        ntrees = 1;
    node_t **volatile roots = new_refs(ntrees);
    for (size_t i = 0; i < ntrees; i++)
        roots[i] = make_tree(10);
    uint64_t seed = 88172645463325252ull;
    for (size_t k = 0; k < 3 * ntrees; k++) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        size_t i = seed % ntrees;
        free_tree(roots[i]);
        roots[i] = make_tree(10);
    }
    long c = 0;
    for (size_t i = 0; i < ntrees; i++)
        c += check(roots[i]);
    if (c != (long)ntrees * tree_size(10))
        exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 4)
        return 2;
    peer_mode = argc > 4 ? argv[4] : NULL;
    peer_init();
    int n = atoi(argv[3]);
    uint64_t t0 = now_ns();
    if (!strcmp(argv[1], "gcbench"))
        gcbench(n);
    else if (!strcmp(argv[1], "binarytrees"))
        binarytrees(n);
    else if (!strcmp(argv[1], "bigheap"))
        bigheap(n);
    else
        return 2;
    uint64_t t1 = now_ns();
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const char *metric = argv[2];
    if (!strcmp(metric, "time"))
        printf("%.3f\n", (double)(t1 - t0) / 1e6);
    else if (!strcmp(metric, "pause_max"))
        printf("%.3f\n", pause_max_us());
    else if (!strcmp(metric, "pause_p99"))
        printf("%.3f\n", pause_p99_us());
    else if (!strcmp(metric, "rss"))
        printf("%ld\n", ru.ru_maxrss);
    else if (!strcmp(metric, "pauses"))
        print_pauses_us();
    else
        return 2;
    return 0;
}

#endif
