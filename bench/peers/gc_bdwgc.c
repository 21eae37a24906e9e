/* Peer: GCBench and binary-trees on bdwgc (libgc, GC_MALLOC; incremental
 * mode with GC_enable_incremental when the 5th argument is "inc").
 * GC_THREADS: bdwgc's threads build, so that it marks in parallel (one
 * marker per CPU; without it GC_get_parallel() is 0 and one thread marks)
 * and allocates from thread-local free lists — its fastest configuration.
 * Pauses are measured from GC_EVENT_PRE_STOP_WORLD to
 * GC_EVENT_POST_START_WORLD. */
#include <stdint.h>

#define GC_THREADS 1
#include <gc/gc.h>

#include "gc_bench_peer.h"

#define MAX_PAUSES 100000
static uint64_t pause_start, pauses[MAX_PAUSES];
static size_t npauses;

static void on_event(GC_EventType e)
{
    if (e == GC_EVENT_PRE_STOP_WORLD)
        pause_start = now_ns();
    else if (e == GC_EVENT_POST_START_WORLD && pause_start && npauses < MAX_PAUSES)
        pauses[npauses++] = now_ns() - pause_start;
}

int GC_get_parallel(void); /* in libgc, not declared by every gc.h */

static void peer_init(void)
{
    GC_INIT();
    GC_start_mark_threads();
    if (!GC_get_parallel())
        fprintf(stderr, "bdwgc: parallel marking not available\n");
    GC_set_on_collection_event(on_event);
    if (peer_mode && !strcmp(peer_mode, "inc"))
        GC_enable_incremental();
}

static node_t *new_node(node_t *l, node_t *r)
{
    node_t *n = GC_MALLOC(sizeof *n);
    if (!n)
        exit(1);
    n->left = l;
    n->right = r;
    return n;
}

static void free_tree(node_t *t)
{
    (void)t;
}

static double *new_doubles(size_t n)
{
    return GC_MALLOC_ATOMIC(n * sizeof(double));
}

static node_t **new_refs(size_t n)
{
    node_t **r = GC_MALLOC(n * sizeof *r);
    if (!r)
        exit(1);
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double pause_max_us(void)
{
    uint64_t m = 0;
    for (size_t i = 0; i < npauses; i++)
        m = pauses[i] > m ? pauses[i] : m;
    return (double)m / 1e3;
}

static void print_pauses_us(void)
{
    for (size_t i = 0; i < npauses; i++)
        printf("%.3f\n", (double)pauses[i] / 1e3);
}

static double pause_p99_us(void)
{
    if (!npauses)
        return 0;
    qsort(pauses, npauses, sizeof *pauses, cmp_u64);
    size_t k = (size_t)(0.99 * (double)npauses);
    return (double)pauses[k < npauses ? k : npauses - 1] / 1e3;
}
