/* Coroutine stacks.
 *
 * A stack is one anonymous private mapping, [guard | usable], MAP_NORESERVE so
 * that only touched pages are committed. The guard is installed with
 * madvise(MADV_GUARD_INSTALL) (Linux 6.13+): it lives in the page tables, not
 * in the VMA, so adjacent stacks still merge into one VMA and 100,000 stacks
 * do not hit vm.max_map_count (65530 by default) as mprotect'ed guards do (two
 * VMAs per stack). Older kernels fall back to mprotect(PROT_NONE).
 */
#include "coro/stack.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmrt_config.h"
#if VMRT_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
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

int vmrt__stack_alloc(vmrt__stack_t *st, size_t usable)
{
    size_t page = vmrt__page_size();
    size_t guard = VMRT_STACK_GUARD > page ? VMRT_STACK_GUARD : page;
    usable = (usable + page - 1) & ~(page - 1);
    if (atomic_load_explicit(&inject_failures, memory_order_relaxed) > 0 &&
        atomic_fetch_sub(&inject_failures, 1) > 0)
        return -ENOMEM;
    void *p = mmap(NULL, guard + usable, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    int err = install_guard(p, guard);
    if (err) {
        munmap(p, guard + usable);
        return err == -ENOMEM ? err : -ENOMEM;
    }
    st->base = p;
    st->map_size = guard + usable;
    st->guard_size = guard;
    st->valgrind_id = 0;
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
    munmap(st->base, st->map_size);
    st->base = NULL;
}

void vmrt__stack_trim(vmrt__stack_t *st)
{
    /* MADV_DONTNEED keeps guard regions installed by MADV_GUARD_INSTALL. */
    (void)madvise(vmrt__stack_lo(st), vmrt__stack_usable(st), MADV_DONTNEED);
}
