/* GcRuntimeStats beyond the counters test_gc_basic checks: the per-phase
 * times, the pause histogram against the pause count and percentiles, bytes
 * freed and moved; and memory given back to the OS beyond retain_bytes
 * (heap_committed and the process's resident set both shrink). */
#include "harness.h"

#include <stdio.h>

#include "gc_test.h"

VT_DEFINE_GLOBALS;

/* Resident set of this process in bytes (/proc/self/statm). */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ASSERT_NOT_NULL(f);
    unsigned long size = 0, resident = 0;
    ASSERT_EQ(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return resident * 4096;
}

static node_t *keep; /* a global root */

static void test_phase_times_and_histogram(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    vmrt_gc_t *gc;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    ASSERT_OK(vmrt_gc_root_add(gc, (void **)&keep));
    keep = NULL;
    for (int round = 0; round < 6; round++) {
        /* 20,000 nodes, every 10th kept: sparse blocks for compaction. */
        for (int i = 0; i < 20000; i++) {
            node_t *n = vmrt_gc_alloc(m, &node_type);
            ASSERT_NOT_NULL(n);
            n->value = i;
            if (i % 10 == 0) {
                vmrt_gc_write(m, n, &n->right, keep);
                keep = n;
            }
        }
        ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL | VMRT_GC_COMPACT));
    }
    vmrt__gc_finish_sweep(gc);
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    ASSERT_TRUE(st.gc_count >= 6);
    ASSERT_TRUE(st.mark_time > 0);
    ASSERT_TRUE(st.sweep_time > 0);
    ASSERT_TRUE(st.bytes_freed > 0);
    ASSERT_TRUE(st.bytes_allocated >= st.bytes_freed);
    ASSERT_TRUE(st.gc_time >= st.pause_time);
    uint64_t in_hist = 0;
    for (int i = 0; i < VMRT_GC_PAUSE_BUCKETS; i++)
        in_hist += st.pause_hist[i];
    ASSERT_EQ(in_hist, st.pause_count);
    ASSERT_TRUE(st.pause_count >= st.gc_count);
    ASSERT_TRUE(st.pause_p50 <= st.pause_p99);
    ASSERT_TRUE(st.pause_p99 <= st.pause_max);
    ASSERT_TRUE(st.pause_max <= st.pause_time);
    /* Compaction of the sparse blocks moved the survivors (and says how
     * long it took); the kept list is intact. */
    ASSERT_TRUE(st.bytes_moved > 0);
    ASSERT_TRUE(st.compact_time > 0);
    long count = 0;
    for (node_t *n = keep; n; n = n->right)
        count++;
    ASSERT_EQ(count, 6 * 2000);
    ASSERT_OK(vmrt_gc_root_remove(gc, (void **)&keep));
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

/* 64 MiB of garbage, then a full collection: with retain_bytes 1 MiB the
 * empty blocks go back to the OS. */
static void test_memory_returned_to_os(void **state)
{
    (void)state;
    vmrt_gc_config_t cfg;
    gc_test_config(&cfg);
    cfg.retain_bytes = 1u << 20;
    cfg.enabled = false; /* one big heap, then one collection */
    vmrt_gc_t *gc;
    ASSERT_OK(vmrt_gc_new(&gc, &cfg));
    vmrt_gc_mutator_t *m;
    ASSERT_OK(vmrt_gc_thread_attach(gc, &m));
    size_t rss0 = rss_bytes();
    for (int i = 0; i < (64 << 20) / 32; i++) {
        node_t *n = vmrt_gc_alloc(m, &node_type);
        ASSERT_NOT_NULL(n);
        n->value = i;
    }
    vmrt_gc_stats_t st;
    vmrt_gc_stats(gc, &st);
    size_t committed_peak = st.heap_committed, rss_peak = rss_bytes();
    ASSERT_TRUE(committed_peak >= (48u << 20));
    ASSERT_TRUE(rss_peak >= rss0 + (48u << 20));
    ASSERT_OK(vmrt_gc_collect(m, VMRT_GC_FULL));
    vmrt__gc_finish_sweep(gc);
    vmrt_gc_stats(gc, &st);
    size_t rss_after = rss_bytes();
    fprintf(stderr, "committed %zu -> %zu KiB, rss %zu -> %zu KiB\n", committed_peak >> 10,
            st.heap_committed >> 10, rss_peak >> 10, rss_after >> 10);
    ASSERT_TRUE(st.heap_committed <= (8u << 20));
    ASSERT_TRUE(rss_after + (32u << 20) <= rss_peak);
    vmrt_gc_thread_detach(m);
    vmrt_gc_destroy(gc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_times_and_histogram),
        cmocka_unit_test(test_memory_returned_to_os),
    };
    VT_RUN("gc_stats", tests);
}
