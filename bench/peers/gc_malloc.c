/* Peer: GCBench and binary-trees with glibc malloc/free (trees are freed
 * explicitly when the benchmark drops them). No collector, so no pauses:
 * the pause metrics print 0 and are not compared. */
#include "gc_bench_peer.h"

static void peer_init(void) {}

static node_t *new_node(node_t *l, node_t *r)
{
    node_t *n = malloc(sizeof *n);
    if (!n)
        exit(1);
    n->left = l;
    n->right = r;
    n->i = n->j = 0;
    return n;
}

static void free_tree(node_t *t)
{
    if (!t)
        return;
    free_tree(t->left);
    free_tree(t->right);
    free(t);
}

static double *new_doubles(size_t n)
{
    return calloc(n, sizeof(double));
}

static node_t **new_refs(size_t n)
{
    node_t **r = calloc(n, sizeof *r);
    if (!r)
        exit(1);
    return r;
}

static double pause_max_us(void)
{
    return 0;
}

static void print_pauses_us(void) /* no collector, no pauses */ {}

static double pause_p99_us(void)
{
    return 0;
}
