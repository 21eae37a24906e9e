/* Statistics (GcRuntimeStats) and VMRT_GCTRACE.
 *
 * Pauses go into the public log2 histogram (bucket i: [2^i, 2^(i+1)) ns)
 * and a finer internal one (4 sub-buckets per power of two), from which
 * p50/p99 are read as the upper bound of the sub-bucket holding that rank:
 * never understated, at most 25% over; the maximum is exact. Everything is under st.lock, taken
 * once per pause and once per cycle. VMRT_GCTRACE=1 prints one line per cycle on stderr:
 *
 *   gc 7 @2.104s 3%: pauses 5 max 0.41 ms total 1.2 ms, mark 1.0 ms, compact 0.1 ms,
 *     heap 48->20 MB, live 19 MB, goal 40 MB, moved 512 KB, 2 markers
 */
#include <string.h>

#include "gc_internal.h"

void vmrt__gc_stats_init(struct vmrt_gc *gc)
{
    pthread_mutex_init(&gc->st.lock, NULL);
    memset(&gc->st.s, 0, sizeof gc->st.s);
}

static unsigned bucket(uint64_t ns)
{
    unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;
    return b < VMRT_GC_PAUSE_BUCKETS ? b : VMRT_GC_PAUSE_BUCKETS - 1;
}

/* Fine bucket: the power of two, then the two bits below the leading one. */
static unsigned fine_bucket(uint64_t ns)
{
    unsigned b = bucket(ns);
    unsigned sub = b >= 2 ? (unsigned)(ns >> (b - 2)) & 3u : 0;
    return b * 4 + sub;
}

static uint64_t fine_upper(unsigned i)
{
    unsigned b = i / 4, sub = i % 4;
    if (b < 2)
        return (2ull << b) - 1;
    if (b >= 62)
        return UINT64_MAX;
    return ((4ull + sub + 1) << (b - 2)) - 1;
}

void vmrt__gc_stats_pause(struct vmrt_gc *gc, uint64_t ns)
{
    pthread_mutex_lock(&gc->st.lock);
    vmrt_gc_stats_t *s = &gc->st.s;
    s->pause_time += ns;
    s->pause_count++;
    s->pause_hist[bucket(ns)]++;
    gc->st.fine[fine_bucket(ns)]++;
    if (ns > s->pause_max)
        s->pause_max = ns;
    if (ns > gc->st.cycle_pause_max)
        gc->st.cycle_pause_max = ns;
    pthread_mutex_unlock(&gc->st.lock);
}

/* st.lock held. */
static uint64_t percentile(struct vmrt_gc *gc, const vmrt_gc_stats_t *s, double q)
{
    if (!s->pause_count)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)s->pause_count);
    if (rank >= s->pause_count)
        rank = s->pause_count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < VMRT_GC_PAUSE_BUCKETS * 4; i++) {
        seen += gc->st.fine[i];
        if (seen > rank) {
            uint64_t hi = fine_upper(i);
            return hi < s->pause_max ? hi : s->pause_max;
        }
    }
    return s->pause_max;
}

/* At the end of a cycle (world running again). */
void vmrt__gc_stats_cycle_end(struct vmrt_gc *gc, size_t live)
{
    uint64_t now = vmrt_now_ns();
    pthread_mutex_lock(&gc->st.lock);
    vmrt_gc_stats_t *s = &gc->st.s;
    s->gc_count++;
    if (gc->st.cycle_minor)
        s->minor_count++; /* with gc_count: a reader never sees minor_count > gc_count */
    s->live_bytes = live;
    s->last_cycle_ns = now - gc->st.cycle_start_ns;
    s->mark_time += gc->st.cycle_mark_ns;
    s->compact_time += gc->st.cycle_compact_ns;
    uint64_t pmax = gc->st.cycle_pause_max, mark = gc->st.cycle_mark_ns;
    uint64_t comp = gc->st.cycle_compact_ns, moved = gc->st.cycle_moved;
    bool minor = gc->st.cycle_minor;
    gc->st.cycle_pause_max = gc->st.cycle_mark_ns = gc->st.cycle_compact_ns = 0;
    gc->st.cycle_moved = 0;
    pthread_mutex_unlock(&gc->st.lock);
    vmrt_gc_stats_t copy;
    vmrt_gc_stats(gc, &copy);
    if (gc->trace) {
        fprintf(stderr,
                "gc %llu @%.3fs: %s cycle %.2f ms, pause max %.3f ms, mark %.3f ms, compact %.3f "
                "ms, live %zu KB, goal %zu KB, committed %zu KB, moved %llu KB, %u markers\n",
                (unsigned long long)copy.gc_count, (double)(now - gc->cycle_t0) / 1e9,
                minor ? "minor" : "full", (double)copy.last_cycle_ns / 1e6, (double)pmax / 1e6,
                (double)mark / 1e6, (double)comp / 1e6, live >> 10,
                atomic_load(&gc->pacer.goal) >> 10, copy.heap_committed >> 10,
                (unsigned long long)(moved >> 10), gc->nmarkers);
    }
    if (gc->cfg.on_cycle_end)
        gc->cfg.on_cycle_end(gc, &copy, gc->cfg.user);
}

void vmrt_gc_stats(vmrt_gc_t *gc, vmrt_gc_stats_t *out)
{
    pthread_mutex_lock(&gc->st.lock);
    *out = gc->st.s;
    out->pause_p50 = percentile(gc, out, 0.50);
    out->pause_p99 = percentile(gc, out, 0.99);
    pthread_mutex_unlock(&gc->st.lock);
    out->sweep_time = atomic_load(&gc->sweep_ns);
    out->gc_time = out->pause_time + out->sweep_time;
    out->bytes_allocated = atomic_load(&gc->alloc_total);
    out->heap_usage = vmrt__gc_heap_usage(gc);
    out->bytes_freed =
        out->bytes_allocated > out->heap_usage ? out->bytes_allocated - out->heap_usage : 0;
    pthread_mutex_lock(&gc->heap.lock);
    out->heap_committed = gc->heap.committed;
    out->heap_limit = gc->heap.limit;
    pthread_mutex_unlock(&gc->heap.lock);
    out->markers = gc->nmarkers;
    uint64_t steals = 0;
    for (unsigned i = 0; i < gc->nmarkers; i++)
        steals += atomic_load_explicit(&gc->markers[i].steals, memory_order_relaxed);
    out->steals = steals;
}
