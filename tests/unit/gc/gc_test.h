/* Shared types and helpers of the GC tests. */
#ifndef VMRT_GC_TEST_H
#define VMRT_GC_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmrt/vmrt.h>

typedef struct node {
    struct node *left, *right;
    long value;
} node_t;

static const vmrt_gc_type_t node_type = {.name = "node", .size = sizeof(node_t), .ref_map = 0x3};
static const vmrt_gc_type_t refs_type = {
    .name = "refs", .size = 0, .elem_size = sizeof(void *), .elem_refs = true};
static const vmrt_gc_type_t bytes_type = {.name = "bytes", .size = 0, .elem_size = 1};

/* Internal test hooks (src/gc). */
void vmrt__gc_inject_mmap_failure(int after);
void vmrt__gc_set_step_work(vmrt_gc_t *gc, size_t objects);
void vmrt__gc_set_satb_lost(vmrt_gc_t *gc);
void vmrt__gc_set_card_work(vmrt_gc_t *gc, size_t blocks);
bool vmrt__gc_cards_pending(vmrt_gc_t *gc);
bool vmrt__gc_is_marked(vmrt_gc_t *gc, const void *obj);
bool vmrt__gc_is_valid(vmrt_gc_t *gc, const void *obj);
void vmrt__gc_finish_sweep(vmrt_gc_t *gc);
const char *vmrt__gc_read_memory_pressure(double *ratio);
void vmrt__gc_set_fs_root(const char *dir);

/* Under qemu-user (VMRT_TEST_CONFIG=aarch64, or an aarch64 binary seeing an
 * x86 /proc/cpuinfo): this host's qemu hangs in pthread_create, so the GC
 * tests use no extra threads there (markers = 1, one mutator). */
static inline bool gc_test_under_qemu(void)
{
    const char *c = getenv("VMRT_TEST_CONFIG");
    if (c && !strcmp(c, "aarch64"))
        return true;
#if defined(__aarch64__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        bool x86 = false;
        while (!x86 && fgets(line, sizeof line, f))
            x86 = strstr(line, "GenuineIntel") || strstr(line, "AuthenticAMD");
        fclose(f);
        return x86;
    }
#endif
    return false;
}

/* A short run under sanitizers or emulation. */
static inline bool gc_test_slow_config(void)
{
    const char *c = getenv("VMRT_TEST_CONFIG");
    return gc_test_under_qemu() || (c && (!strcmp(c, "tsan") || !strcmp(c, "asan")));
}

/* Default configuration for tests: no marker threads under qemu. */
static inline void gc_test_config(vmrt_gc_config_t *cfg)
{
    vmrt_gc_config_init(cfg);
    if (gc_test_under_qemu())
        cfg->markers = 1;
}

/* Incremental marking driven one step at a time by the test: one marker, a
 * cycle as soon as anything is allocated, and no time bound on a step (the
 * test sets the work per step with vmrt__gc_set_step_work). */
static inline void gc_test_stepwise(vmrt_gc_config_t *cfg)
{
    cfg->incremental = true;
    cfg->markers = 1;
    cfg->trigger = VMRT_GC_TRIGGER_FIXED_THRESHOLD;
    cfg->threshold_bytes = 1;
    cfg->step_budget_ns = 10ull * 1000 * 1000 * 1000;
}

#endif
