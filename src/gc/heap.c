/* Heap: the address-space reservation, 64 KiB blocks, size classes, the
 * large-object space, and giving memory back to the OS.
 *
 * The heap reserves one contiguous PROT_NONE range at creation, so that an
 * address maps to its block descriptor by a subtraction and a shift. Blocks
 * are committed (mprotect RW) when first used and decommitted
 * (MADV_DONTNEED + PROT_NONE) when more than `retain` bytes of free blocks
 * are committed: the highest free blocks go first, which keeps the heap
 * dense at low addresses. Allocation is first-fit from a low-water hint.
 *
 * The heap limit counts bytes in use by blocks that hold objects (small
 * blocks count whole). Everything here runs under h->lock except the pure
 * address lookups.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gc_internal.h"

const uint32_t vmrt__gc_class_size[GC_NCLASSES] = {
    16,   24,   32,   40,   48,   56,   64,   80,   96,   112,  128,  160,  192,  224,
    256,  320,  384,  448,  512,  640,  768,  896,  1024, 1280, 1536, 1792, 2048, 2560,
    3072, 3584, 4096, 5120, 6144, 7168, 8192, 8192, 8192, 8192, 8192, 8192};
uint8_t vmrt__gc_size_class[GC_SMALL_MAX / 8 + 1];

static _Atomic int mmap_fail_after = -1;

/* Test hook: after `after` more successful commits/reservations, every
 * following one fails with ENOMEM, until called again with -1. */
void vmrt__gc_inject_mmap_failure(int after)
{
    atomic_store(&mmap_fail_after, after);
}

static bool injected_failure(void)
{
    int v = atomic_load(&mmap_fail_after);
    while (v > 0) {
        if (atomic_compare_exchange_weak(&mmap_fail_after, &v, v - 1))
            return false;
    }
    return v == 0;
}

static void classes_init(void)
{
    unsigned c = 0;
    for (unsigned i = 0; i <= GC_SMALL_MAX / 8; i++) {
        while (vmrt__gc_class_size[c] < i * 8)
            c++;
        vmrt__gc_size_class[i] = (uint8_t)c;
    }
}

int vmrt__gc_commit(void *p, size_t len)
{
    if (injected_failure())
        return -ENOMEM;
    if (mprotect(p, len, PROT_READ | PROT_WRITE) != 0)
        return -errno;
    return 0;
}

/* Returns false if the memory could not be dropped (it then stays committed
 * and is not known to be zero). Both calls can only fail on a bad range,
 * which would be a GC bug. */
static bool decommit(void *p, size_t len)
{
    if (madvise(p, len, MADV_DONTNEED) != 0)
        return false;
    (void)mprotect(p, len, PROT_NONE); /* dropped pages read as zero either way */
    return true;
}

int vmrt__gc_heap_init(gc_heap_t *h, size_t reserve, size_t limit, size_t retain)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, classes_init);
    memset(h, 0, sizeof *h);
    reserve = (reserve + GC_BLOCK_SIZE - 1) & ~(GC_BLOCK_SIZE - 1);
    if (reserve < 16 * GC_BLOCK_SIZE)
        return -EINVAL;
    if (injected_failure())
        return -ENOMEM;
    size_t len = reserve + GC_BLOCK_SIZE;
    void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    uintptr_t base = ((uintptr_t)p + GC_BLOCK_SIZE - 1) & ~(uintptr_t)(GC_BLOCK_SIZE - 1);
    if (base > (uintptr_t)p)
        munmap(p, base - (uintptr_t)p);
    uintptr_t tail = (uintptr_t)p + len - (base + reserve);
    if (tail)
        munmap((void *)(base + reserve), tail);
    h->base = base;
    h->end = base + reserve;
    h->nblocks = reserve >> GC_BLOCK_SHIFT;
    h->blocks = calloc(h->nblocks, sizeof *h->blocks);
    if (!h->blocks) {
        munmap((void *)base, reserve);
        return -ENOMEM;
    }
    h->limit = limit;
    h->retain = retain;
    h->gen = 1;
    h->large.next = h->large.prev = &h->large;
    pthread_mutex_init(&h->lock, NULL);
    return 0;
}

void vmrt__gc_heap_destroy(gc_heap_t *h)
{
    if (!h->blocks)
        return;
    munmap((void *)h->base, h->end - h->base);
    free(h->blocks);
    pthread_mutex_destroy(&h->lock);
    h->blocks = NULL;
}

gc_block_t *vmrt__gc_block_of(gc_heap_t *h, uintptr_t addr)
{
    if (addr < h->base || addr >= h->end)
        return NULL;
    return &h->blocks[(addr - h->base) >> GC_BLOCK_SHIFT];
}

static bool block_usable(const gc_block_t *b)
{
    return b->kind == GC_BLOCK_FREE || b->kind == GC_BLOCK_UNMAPPED;
}

/* Commits the unmapped blocks in [i, i+n). Small requests commit a few
 * neighbours too (one system call per 1 MiB rather than per block). */
static int commit_run(gc_heap_t *h, size_t i, size_t n)
{
    size_t lo = i, hi = i + n;
    if (n == 1)
        while (hi < h->nblocks && hi - lo < 16 && h->blocks[hi].kind == GC_BLOCK_UNMAPPED)
            hi++;
    for (size_t k = lo; k < hi;) {
        if (h->blocks[k].kind != GC_BLOCK_UNMAPPED) {
            k++;
            continue;
        }
        size_t e = k;
        while (e < hi && h->blocks[e].kind == GC_BLOCK_UNMAPPED)
            e++;
        int rc =
            vmrt__gc_commit((void *)(h->base + (k << GC_BLOCK_SHIFT)), (e - k) << GC_BLOCK_SHIFT);
        if (rc)
            return k >= i + n || k < i ? 0 : rc; /* extra neighbours are optional */
        for (size_t j = k; j < e; j++) {
            h->blocks[j].kind = GC_BLOCK_FREE;
            h->blocks[j].zeroed = 1; /* fresh anonymous memory */
        }
        h->committed += (e - k) << GC_BLOCK_SHIFT;
        h->free_committed += (e - k) << GC_BLOCK_SHIFT;
        k = e;
    }
    return 0;
}

/* Takes n contiguous blocks. Errors: VMRT_ELIMIT (over the heap limit),
 * -ENOMEM (address space exhausted or commit failed). h->lock held. */
int vmrt__gc_block_alloc(gc_heap_t *h, size_t n, gc_block_t **out)
{
    size_t bytes = n << GC_BLOCK_SHIFT;
    if (h->limit && h->in_use + bytes > h->limit)
        return VMRT_ELIMIT;
    size_t i = h->hint;
    while (i < h->nblocks && !block_usable(&h->blocks[i]))
        i++;
    h->hint = i;
    for (; i + n <= h->nblocks; i++) {
        size_t k = 0;
        while (k < n && block_usable(&h->blocks[i + k]))
            k++;
        if (k == n)
            break;
        i += k;
    }
    if (i + n > h->nblocks)
        return -ENOMEM;
    int rc = commit_run(h, i, n);
    if (rc)
        return rc;
    bool zeroed = true;
    for (size_t k = 0; k < n; k++)
        zeroed = zeroed && h->blocks[i + k].zeroed;
    for (size_t k = 0; k < n; k++) {
        gc_block_t *b = &h->blocks[i + k];
        memset(b, 0, sizeof *b);
        b->kind = k ? GC_BLOCK_LARGE_CONT : GC_BLOCK_LARGE;
        b->run = k ? (uint32_t)k : (uint32_t)n;
        b->swept_gen = h->gen;
    }
    h->blocks[i].zeroed = zeroed;
    h->free_committed -= bytes;
    h->in_use += bytes;
    if (i == h->hint)
        h->hint = i + n;
    if (i + n > h->top)
        h->top = i + n;
    *out = &h->blocks[i];
    return 0;
}

/* Returns a block (or a large run, given its head) to the free pool. */
void vmrt__gc_block_free(gc_heap_t *h, gc_block_t *b)
{
    size_t n = b->kind == GC_BLOCK_LARGE ? b->run : 1;
    size_t i = (size_t)(b - h->blocks);
    for (size_t k = 0; k < n; k++) {
        memset(&h->blocks[i + k], 0, sizeof(gc_block_t));
        h->blocks[i + k].kind = GC_BLOCK_FREE;
    }
    h->in_use -= n << GC_BLOCK_SHIFT;
    h->free_committed += n << GC_BLOCK_SHIFT;
    if (i < h->hint)
        h->hint = i;
}

/* Gives free blocks above the watermark back to the OS, highest first:
 * the watermark is the larger of `retain` and `keep` (the free memory the
 * pacer expects to be allocated before the next cycle, so that memory is
 * not returned only to be faulted in again). h->lock held. */
void vmrt__gc_heap_trim(gc_heap_t *h, size_t keep)
{
    size_t retain = keep > h->retain ? keep : h->retain;
    for (size_t i = h->top; i-- > 0 && h->free_committed > retain;) {
        if (h->blocks[i].kind != GC_BLOCK_FREE)
            continue;
        size_t lo = i;
        while (lo > 0 && h->blocks[lo - 1].kind == GC_BLOCK_FREE &&
               h->free_committed - ((i - lo + 1) << GC_BLOCK_SHIFT) > retain)
            lo--;
        size_t bytes = (i - lo + 1) << GC_BLOCK_SHIFT;
        if (!decommit((void *)(h->base + (lo << GC_BLOCK_SHIFT)), bytes))
            break; /* stays committed (FREE, not zeroed) */
        for (size_t k = lo; k <= i; k++) {
            h->blocks[k].kind = GC_BLOCK_UNMAPPED;
            h->blocks[k].zeroed = 0;
        }
        h->committed -= bytes;
        h->free_committed -= bytes;
        i = lo;
    }
    while (h->top > 0 && h->blocks[h->top - 1].kind == GC_BLOCK_UNMAPPED)
        h->top--;
}

/* Turns a freshly allocated block into an empty small block of class cls. */
void vmrt__gc_small_init(gc_heap_t *h, gc_block_t *b, unsigned cls)
{
    (void)h;
    b->kind = GC_BLOCK_SMALL;
    b->cls = (uint8_t)cls;
    b->run = 0;
    b->slot_size = vmrt__gc_class_size[cls];
    b->nslots = (uint32_t)(GC_BLOCK_SIZE / b->slot_size);
}

/* Maps any address inside an allocated object (header or payload) to its
 * header; NULL for addresses outside the heap or in free slots. */
gc_hdr_t *vmrt__gc_find_object(gc_heap_t *h, uintptr_t addr)
{
    gc_block_t *b = vmrt__gc_block_of(h, addr);
    if (!b)
        return NULL;
    gc_hdr_t *hd;
    switch ((enum gc_block_kind)b->kind) {
    case GC_BLOCK_SMALL: {
        uintptr_t start = gc_block_addr(h, b);
        size_t slot = (addr - start) / b->slot_size;
        if (slot >= b->nslots)
            return NULL;
        hd = (gc_hdr_t *)(start + slot * b->slot_size);
        break;
    }
    case GC_BLOCK_LARGE_CONT:
        b -= b->run;
        /* fall through */
    case GC_BLOCK_LARGE:
        hd = (gc_hdr_t *)(gc_block_addr(h, b) + GC_LARGE_PREFIX);
        if (addr < (uintptr_t)hd)
            return NULL;
        break;
    case GC_BLOCK_FREE:
    case GC_BLOCK_UNMAPPED:
    default:
        return NULL;
    }
    if (hd->type == 0 || (hd->type & 1))
        return NULL;
    return hd;
}
