/* Coroutine stacks: mmap'ed, lazily committed, with a guard region below.
 * Internal to vmrt. */
#ifndef VMRT_CORO_STACK_H
#define VMRT_CORO_STACK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vmrt__stack {
    void *base;        /* start of the mapping (guard region first) */
    size_t map_size;   /* guard + usable */
    size_t guard_size; /* inaccessible bytes at base */
    unsigned valgrind_id;
} vmrt__stack_t;

#define VMRT_STACK_GUARD (16u * 1024u)

/* Maps a stack with at least `usable` bytes. Returns 0 or -ENOMEM. */
int vmrt__stack_alloc(vmrt__stack_t *st, size_t usable);
void vmrt__stack_free(vmrt__stack_t *st);
/* Returns the committed pages of the stack to the OS (keeps the mapping). */
void vmrt__stack_trim(vmrt__stack_t *st);

static inline void *vmrt__stack_lo(const vmrt__stack_t *st)
{
    return (char *)st->base + st->guard_size;
}
static inline void *vmrt__stack_hi(const vmrt__stack_t *st)
{
    return (char *)st->base + st->map_size;
}
static inline size_t vmrt__stack_usable(const vmrt__stack_t *st)
{
    return st->map_size - st->guard_size;
}
static inline bool vmrt__stack_in_guard(const vmrt__stack_t *st, const void *addr)
{
    /* A fault slightly below the mapping (a frame that jumped the guard by
     * less than a page) is still counted as this stack's overflow. */
    const char *a = addr, *g = st->base;
    return a >= g - 4096 && a < g + st->guard_size;
}

size_t vmrt__page_size(void);

/* True once stacks use MADV_GUARD_INSTALL guards (no extra VMA per stack);
 * false before the first allocation or with mprotect guards. */
bool vmrt__stack_guard_is_lightweight(void);

/* Test hook: make the next n stack allocations fail with -ENOMEM. */
void vmrt__stack_inject_failures(int n);

#endif
