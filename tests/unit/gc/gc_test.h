/* Shared types and helpers of the GC tests. */
#ifndef VMRT_GC_TEST_H
#define VMRT_GC_TEST_H

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
bool vmrt__gc_is_marked(vmrt_gc_t *gc, const void *obj);
bool vmrt__gc_is_valid(vmrt_gc_t *gc, const void *obj);
void vmrt__gc_finish_sweep(vmrt_gc_t *gc);
const char *vmrt__gc_read_memory_pressure(double *ratio);

/* A short run under sanitizers or emulation. */
static inline bool gc_test_slow_config(void)
{
    const char *c = getenv("VMRT_TEST_CONFIG");
    return c && (!strcmp(c, "tsan") || !strcmp(c, "aarch64") || !strcmp(c, "asan"));
}

#endif
