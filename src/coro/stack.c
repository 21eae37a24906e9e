/* Coroutine stacks.
 *
 * A stack is one anonymous private mapping, [guard | usable], MAP_NORESERVE so
 * that only touched pages are committed. The guard is installed with
 * madvise(MADV_GUARD_INSTALL) (Linux 6.13+): it lives in the page tables, not
 * in the VMA, so adjacent stacks still merge into one VMA and 100,000 stacks
 * do not hit vm.max_map_count (65530 by default) as mprotect'ed guards do (two
 * VMAs per stack). Older kernels fall back to mprotect(PROT_NONE).
 *
 * Stacks come from a cache ([STACK-CACHE]): mmap and munmap take the
 * process's mmap lock for writing, so a program that creates and ends
 * coroutines by the hundred thousand on several vCPUs spends its time
 * queueing on that lock and faulting in fresh pages. The cache maps
 * STACK_BATCH stacks of one size at a time (one mmap; each guard installed
 * when its stack is first handed out), keeps freed stacks warm (LIFO, pages
 * still committed) up to STACK_CACHE_MAX, and beyond that unmaps the colder
 * half at once, one munmap per run of adjacent stacks. Sizes other than the
 * first few seen are mapped one by one as before.
 */
#include "coro/stack.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmrt_config.h"
#if VMRT_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMRT_STACK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VMRT_STACK_ASAN 1
#endif
#ifdef VMRT_STACK_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static atomic_int guard_mode; /* 0 unknown, 1 madvise guard, 2 mprotect */
static atomic_int inject_failures;

size_t vmrt__page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

void vmrt__stack_inject_failures(int n)
{
    atomic_store(&inject_failures, n);
}

/* True when reading addr faults: the kernel refuses to copy from it. Used
 * once to check that madvise(MADV_GUARD_INSTALL) really installed a guard —
 * emulators such as qemu-user accept unknown advice and do nothing. */
static bool guard_effective(const void *addr)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    bool faults = write(fds[1], addr, 1) < 0 && errno == EFAULT;
    close(fds[0]);
    close(fds[1]);
    return faults;
}

static int install_guard(void *base, size_t len)
{
    int mode = atomic_load_explicit(&guard_mode, memory_order_relaxed);
    if (mode != 2) {
        if (madvise(base, len, MADV_GUARD_INSTALL) == 0) {
            if (mode == 1 || guard_effective(base)) {
                atomic_store_explicit(&guard_mode, 1, memory_order_relaxed);
                return 0;
            }
        } else if (errno != EINVAL) {
            return -errno;
        }
        atomic_store_explicit(&guard_mode, 2, memory_order_relaxed);
    }
    return mprotect(base, len, PROT_NONE) == 0 ? 0 : -errno;
}

bool vmrt__stack_guard_is_lightweight(void)
{
    return atomic_load_explicit(&guard_mode, memory_order_relaxed) == 1;
}

enum { STACK_BATCH = 32, STACK_CACHE_MAX = 1024, STACK_CLASSES = 4 };

/* A cached stack: its base, and whether its guard is installed yet. */
typedef struct {
    char *base;
    bool guarded;
} cached_t;

/* Stacks of one mapping size. */
typedef struct {
    size_t map_size; /* 0: class unused */
    size_t n;
    cached_t *items; /* STACK_CACHE_MAX + STACK_BATCH slots, LIFO: warmest last */
} stack_class_t;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static stack_class_t classes[STACK_CLASSES];

/* The class of map_size, made on first use when create; NULL when every
 * class is taken by other sizes (or out of memory). cache_lock held. */
static stack_class_t *class_of(size_t map_size, bool create)
{
    for (int i = 0; i < STACK_CLASSES; i++) {
        stack_class_t *c = &classes[i];
        if (c->map_size == map_size)
            return c;
        if (!c->map_size) {
            if (!create)
                return NULL;
            c->items = malloc((STACK_CACHE_MAX + STACK_BATCH) * sizeof *c->items);
            if (!c->items)
                return NULL;
            c->map_size = map_size;
            return c;
        }
    }
    return NULL;
}

static int cmp_cached(const void *a, const void *b)
{
    const char *x = ((const cached_t *)a)->base, *y = ((const cached_t *)b)->base;
    return x < y ? -1 : x > y;
}

/* Unmaps n stacks of map_size: sorted, adjacent stacks in one munmap. */
static void unmap_stacks(cached_t *items, size_t n, size_t map_size)
{
    qsort(items, n, sizeof *items, cmp_cached);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && items[j].base == items[j - 1].base + map_size)
            j++;
        munmap(items[i].base, (j - i) * map_size);
        i = j;
    }
}

/* The colder half of a full class, taken out under cache_lock and unmapped
 * after it is released (munmap is slow: other threads' stack allocations
 * must not queue behind it). */
typedef struct cold {
    cached_t *items;
    size_t n, map_size;
} cold_t;

/* cache_lock held. */
static void take_cold(stack_class_t *c, cold_t *out)
{
    size_t k = c->n / 2;
    out->items = malloc(k * sizeof *out->items);
    out->n = 0;
    out->map_size = c->map_size;
    if (out->items) {
        memcpy(out->items, c->items, k * sizeof *c->items);
        out->n = k;
    } else {
        unmap_stacks(c->items, k, c->map_size); /* no memory: under the lock, as it is */
    }
    memmove(c->items, c->items + k, (c->n - k) * sizeof *c->items);
    c->n -= k;
}

/* After cache_lock is released. */
static void release_cold(cold_t *cold)
{
    if (cold->n)
        unmap_stacks(cold->items, cold->n, cold->map_size);
    free(cold->items);
}

/* Takes a stack of map_size from the cache (one lock round trip when it has
 * one), mapping a batch when it is empty. 0, -ENOMEM, or 1 when the size has
 * no class (the caller maps it alone). */
static int cache_get(size_t map_size, cached_t *out)
{
    pthread_mutex_lock(&cache_lock);
    stack_class_t *c = class_of(map_size, true);
    if (!c) {
        pthread_mutex_unlock(&cache_lock);
        return 1;
    }
    cold_t cold = {NULL, 0, 0};
    if (c->n == 0) {
        pthread_mutex_unlock(&cache_lock);
        char *p = mmap(NULL, STACK_BATCH * map_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED)
            return -ENOMEM;
        pthread_mutex_lock(&cache_lock);
        if (c->n > STACK_CACHE_MAX)
            take_cold(c, &cold);
        /* Highest address last: handed out first, like one-by-one mmaps. */
        for (int i = 0; i < STACK_BATCH; i++)
            c->items[c->n++] = (cached_t){p + (size_t)i * map_size, false};
    }
    *out = c->items[--c->n];
    pthread_mutex_unlock(&cache_lock);
    release_cold(&cold);
    return 0;
}

int vmrt__stack_alloc(vmrt__stack_t *st, size_t usable)
{
    size_t page = vmrt__page_size();
    size_t guard = VMRT_STACK_GUARD > page ? VMRT_STACK_GUARD : page;
    usable = (usable + page - 1) & ~(page - 1);
    if (atomic_load_explicit(&inject_failures, memory_order_relaxed) > 0 &&
        atomic_fetch_sub(&inject_failures, 1) > 0)
        return -ENOMEM;
    size_t map_size = guard + usable;
    cached_t got = {NULL, false};
    int rc = cache_get(map_size, &got);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        void *p = mmap(NULL, map_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
        if (p == MAP_FAILED)
            return -ENOMEM;
        got.base = p;
    }
    if (!got.guarded) {
        int err = install_guard(got.base, guard);
        if (err) {
            munmap(got.base, map_size);
            return err == -ENOMEM ? err : -ENOMEM;
        }
    }
    st->base = got.base;
    st->map_size = map_size;
    st->guard_size = guard;
    st->valgrind_id = 0;
#ifdef VMRT_STACK_ASAN
    /* A reused stack keeps the poisoning of its last coroutine's frames. */
    ASAN_UNPOISON_MEMORY_REGION(vmrt__stack_lo(st), vmrt__stack_usable(st));
#endif
#if VMRT_HAVE_VALGRIND_H
    st->valgrind_id = VALGRIND_STACK_REGISTER(vmrt__stack_lo(st), vmrt__stack_hi(st));
#endif
    return 0;
}

void vmrt__stack_free(vmrt__stack_t *st)
{
    if (!st->base)
        return;
#if VMRT_HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(st->valgrind_id);
#endif
    cold_t cold = {NULL, 0, 0};
    pthread_mutex_lock(&cache_lock);
    stack_class_t *c = class_of(st->map_size, false);
    if (c) {
        if (c->n >= STACK_CACHE_MAX)
            take_cold(c, &cold);
        c->items[c->n++] = (cached_t){st->base, true};
    }
    pthread_mutex_unlock(&cache_lock);
    release_cold(&cold);
    if (!c)
        munmap(st->base, st->map_size);
    st->base = NULL;
}

void vmrt__stack_trim(vmrt__stack_t *st)
{
    /* MADV_DONTNEED keeps guard regions installed by MADV_GUARD_INSTALL. */
    (void)madvise(vmrt__stack_lo(st), vmrt__stack_usable(st), MADV_DONTNEED);
}
