/* GcRuntimeStats beyond the counters test_gc_basic checks: the per-phase
 * times, the pause histogram against the pause count and percentiles, bytes
 * freed and moved; and memory given back to the OS beyond retain_bytes
 * (heap_committed and the process's resident set both shrink); the memory
 * pressure sources read from fake /proc and /sys trees. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* Writes text to root/path, creating the directories on the way. */
static void put(const char *root, const char *path, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s%s", root, path);
    for (char *q = p + strlen(root) + 1; (q = strchr(q, '/')); q++) {
        *q = '\0';
        mkdir(p, 0755);
        *q = '/';
    }
    FILE *f = fopen(p, "w");
    ASSERT_NOT_NULL(f);
    fputs(text, f);
    fclose(f);
}

/* The MemoryPressure trigger's sources, on fake /proc and /sys trees: cgroup
 * v2 (also mounted at /sys/fs/cgroup/unified beside v1), cgroup v1, PSI and
 * MemAvailable, in that order of preference; "max" means no limit. */
static void test_memory_pressure_sources(void **state)
{
    (void)state;
    char root[] = "/tmp/vmrt-gc-fsroot-XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(root));
    double r = -1;
    vmrt__gc_set_fs_root(root);
    ASSERT_NULL(vmrt__gc_read_memory_pressure(&r)); /* nothing readable */
    put(root, "/proc/meminfo", "MemTotal:       1000 kB\nMemFree: 5 kB\nMemAvailable:    900 kB\n");
    ASSERT_STR_EQ(vmrt__gc_read_memory_pressure(&r), "meminfo");
    ASSERT_TRUE(r > 0.099 && r < 0.101);
    put(root, "/proc/pressure/memory", "some avg10=5.00 avg60=1.00 avg300=0.10 total=1\n");
    ASSERT_STR_EQ(vmrt__gc_read_memory_pressure(&r), "psi");
    ASSERT_TRUE(r > 0.499 && r < 0.501);
    put(root, "/proc/self/cgroup", "5:memory:/v1grp\n0::/v2grp\n");
    put(root, "/sys/fs/cgroup/memory/v1grp/memory.limit_in_bytes", "2000\n");
    put(root, "/sys/fs/cgroup/memory/v1grp/memory.usage_in_bytes", "1500\n");
    ASSERT_STR_EQ(vmrt__gc_read_memory_pressure(&r), "cgroup1");
    ASSERT_TRUE(r > 0.749 && r < 0.751);
    put(root, "/sys/fs/cgroup/unified/v2grp/memory.max", "max\n"); /* no limit: skipped */
    put(root, "/sys/fs/cgroup/unified/v2grp/memory.current", "100\n");
    ASSERT_STR_EQ(vmrt__gc_read_memory_pressure(&r), "cgroup1");
    put(root, "/sys/fs/cgroup/unified/v2grp/memory.max", "400\n");
    ASSERT_STR_EQ(vmrt__gc_read_memory_pressure(&r), "cgroup2");
    ASSERT_TRUE(r > 0.249 && r < 0.251);
    vmrt__gc_set_fs_root(NULL);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ASSERT_EQ(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_times_and_histogram),
        cmocka_unit_test(test_memory_returned_to_os),
        cmocka_unit_test(test_memory_pressure_sources),
    };
    VT_RUN("gc_stats", tests);
}
