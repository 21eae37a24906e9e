/* Trigger policies (the seed's GcTriggerPolicy) and the pacer.
 *
 *   FixedThreshold  a cycle after threshold_bytes were allocated.
 *   Adaptive        GOGC-like: the heap goal is live * (1 + gogc/100) (at
 *                   least min_heap). In incremental mode the cycle starts
 *                   at live + trigger_ratio * (goal - live) so that marking
 *                   (paced by allocation assists: one step per refill)
 *                   ends before the goal; the ratio is lowered when a cycle
 *                   overshot the goal and raised when it ended well below.
 *   MemoryPressure  a cycle when memory use / memory limit reaches
 *                   pressure_ratio, read from the first source this host has:
 *                   cgroup v2 (memory.current / memory.max), cgroup v1
 *                   (memory.usage_in_bytes / memory.limit_in_bytes), PSI
 *                   (/proc/pressure/memory: some avg10, 10% counts as 1.0),
 *                   /proc/meminfo (1 - MemAvailable / MemTotal). Readings
 *                   are at most every 50 ms. With no source it behaves as
 *                   Adaptive.
 *   TimeBased       a cycle every interval_ns (if anything was allocated).
 * Triggers are polled: from allocation slow paths and check_and_run_step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_internal.h"

size_t vmrt__gc_heap_usage(struct vmrt_gc *gc)
{
    return atomic_load_explicit(&gc->pacer.live_after, memory_order_relaxed) +
           atomic_load_explicit(&gc->alloc_bytes, memory_order_relaxed);
}

/* Bytes the pacer lets the mutators allocate before the next cycle. */
size_t vmrt__gc_heap_headroom(struct vmrt_gc *gc)
{
    size_t goal = atomic_load(&gc->pacer.goal), used = vmrt__gc_heap_usage(gc);
    if (atomic_load(&gc->trigger) == VMRT_GC_TRIGGER_FIXED_THRESHOLD)
        goal = used + gc->cfg.threshold_bytes;
    return goal > used ? goal - used : 0;
}

/* The goal floor decays with a half-life of GC_FLOOR_HALF_LIFE_NS. */
#define GC_FLOOR_HALF_LIFE_NS 5000000000ull

static size_t decayed_floor(const gc_pacer_t *p, uint64_t now)
{
    uint64_t dt = now > p->floor_ns ? now - p->floor_ns : 0;
    uint64_t halvings = dt / GC_FLOOR_HALF_LIFE_NS;
    if (halvings >= 64)
        return 0;
    size_t f = p->goal_floor >> halvings;
    /* linear between halvings: at most 6% above the exponential */
    uint64_t frac = dt % GC_FLOOR_HALF_LIFE_NS;
    return f - (size_t)((double)f * 0.5 * (double)frac / (double)GC_FLOOR_HALF_LIFE_NS);
}

/* Goal = live * (1 + gogc/100), at least min_heap, and at least the goal
 * the heap recently grew to (the floor, decaying with a 5 s half-life):
 * after a phase with a large live heap the process already holds that
 * memory (peak RSS is paid), so collecting at a smaller goal would only
 * cost more cycles; as the floor decays, a heap whose live data stays
 * small shrinks back to its goal, live * (1 + gogc/100) (1.3x at the
 * default gogc 30), and its free blocks go back to the OS. */
static void set_goal(struct vmrt_gc *gc, size_t live)
{
    gc_pacer_t *p = &gc->pacer;
    size_t base = p->live_full; /* bytes marked by the last full cycle */
    size_t goal = base + base / 100 * gc->cfg.gogc;
    if (goal < gc->cfg.min_heap)
        goal = gc->cfg.min_heap;
    uint64_t now = vmrt_now_ns();
    size_t floor = decayed_floor(p, now);
    if (goal < floor) {
        goal = floor;
    } else {
        p->goal_floor = goal;
        p->floor_ns = now;
    }
    size_t trig = goal;
    if (goal <= live)
        trig = live;
    else if (atomic_load(&gc->incremental))
        trig = live + (size_t)(p->trigger_ratio * (double)(goal - live));
    /* Generational: minor cycles until the old generation (live, which
     * includes old objects that died since the last full cycle) has used a
     * quarter of the growth the goal allows; then a full cycle (a half
     * cost GCBench 16 about 4% more CPU time: with less room left, minor
     * cycles come sooner and promote more of the trees under construction). */
    size_t old_growth = live > base ? live - base : 0;
    atomic_store(&gc->next_full, goal <= base || old_growth >= (goal - base) / 4);
    atomic_store(&p->goal, goal);
    atomic_store(&p->trigger, trig);
}

void vmrt__gc_pacer_init(struct vmrt_gc *gc)
{
    gc->pacer.trigger_ratio = 0.7;
    atomic_store(&gc->pacer.last_cycle_end_ns, vmrt_now_ns());
    set_goal(gc, 0);
}

/* Test hook: a directory that stands for "/" when the pressure sources are
 * read (vmrt__gc_set_fs_root; "" = the real file system). */
static char fs_root[256];

void vmrt__gc_set_fs_root(const char *dir)
{
    snprintf(fs_root, sizeof fs_root, "%s", dir ? dir : "");
}

static FILE *open_file(const char *path)
{
    char p[900];
    snprintf(p, sizeof p, "%s%s", fs_root, path);
    return fopen(p, "re");
}

static bool read_u64(const char *path, uint64_t *out)
{
    FILE *f = open_file(path);
    if (!f)
        return false;
    char buf[64];
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    if (!ok || !strncmp(buf, "max", 3))
        return false;
    char *end;
    *out = strtoull(buf, &end, 10);
    return end != buf;
}

/* The cgroup path of this process for a v1 controller, or v2 when
 * controller is "". */
static bool cgroup_path(const char *controller, char *out, size_t len)
{
    FILE *f = open_file("/proc/self/cgroup");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctl = c1 + 1;
        bool match = controller[0] ? strstr(ctl, controller) != NULL
                                   : (!strncmp(line, "0:", 2) && ctl[0] == '\0');
        if (match) {
            snprintf(out, len, "%s", c2 + 1);
            out[strcspn(out, "\n")] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

static bool try_cgroup(const char *root, const char *cur, const char *max, const char *ctl,
                       double *ratio)
{
    char path[600], p[700];
    if (!cgroup_path(ctl, path, sizeof path))
        return false;
    uint64_t used, limit;
    snprintf(p, sizeof p, "%s%s/%s", root, path, max);
    if (!read_u64(p, &limit) || limit == 0 || limit >= (1ull << 60))
        return false;
    snprintf(p, sizeof p, "%s%s/%s", root, path, cur);
    if (!read_u64(p, &used))
        return false;
    *ratio = (double)used / (double)limit;
    return true;
}

static bool try_psi(double *ratio)
{
    FILE *f = open_file("/proc/pressure/memory");
    if (!f)
        return false;
    double avg10 = -1;
    bool ok = fscanf(f, "some avg10=%lf", &avg10) == 1;
    fclose(f);
    if (!ok || avg10 < 0)
        return false;
    *ratio = avg10 / 10.0 > 1.0 ? 1.0 : avg10 / 10.0;
    return true;
}

static bool try_meminfo(double *ratio)
{
    FILE *f = open_file("/proc/meminfo");
    if (!f)
        return false;
    char line[128];
    unsigned long long total = 0, avail = 0, v;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemTotal: %llu", &v) == 1)
            total = v;
        else if (sscanf(line, "MemAvailable: %llu", &v) == 1)
            avail = v;
    }
    fclose(f);
    if (!total || avail > total)
        return false;
    *ratio = 1.0 - (double)avail / (double)total;
    return true;
}

/* Reads memory pressure as a ratio in [0, 1]; returns the source used. */
const char *vmrt__gc_read_memory_pressure(double *ratio)
{
    if (try_cgroup("/sys/fs/cgroup", "memory.current", "memory.max", "", ratio) ||
        try_cgroup("/sys/fs/cgroup/unified", "memory.current", "memory.max", "", ratio))
        return "cgroup2";
    if (try_cgroup("/sys/fs/cgroup/memory", "memory.usage_in_bytes", "memory.limit_in_bytes",
                   "memory", ratio))
        return "cgroup1";
    if (try_psi(ratio))
        return "psi";
    if (try_meminfo(ratio))
        return "meminfo";
    return NULL;
}

static bool adaptive(struct vmrt_gc *gc)
{
    return vmrt__gc_heap_usage(gc) >=
           atomic_load_explicit(&gc->pacer.trigger, memory_order_relaxed);
}

static bool pressure(struct vmrt_gc *gc)
{
    gc_pacer_t *p = &gc->pacer;
    uint64_t now = vmrt_now_ns(), last = atomic_load(&p->last_probe_ns);
    if (now - last >= 50000000u && atomic_compare_exchange_strong(&p->last_probe_ns, &last, now)) {
        double r = 0;
        const char *src = vmrt__gc_read_memory_pressure(&r);
        atomic_store(&p->pressure_source, src);
        atomic_store(&p->pressure_high, src ? r >= gc->cfg.pressure_ratio : adaptive(gc));
    }
    /* Under pressure, still let at least 1 MiB be allocated between cycles. */
    return atomic_load(&p->pressure_high) &&
           atomic_load_explicit(&gc->alloc_bytes, memory_order_relaxed) >= (1u << 20);
}

/* Whether the trigger policy asks for a cycle now. Any mutator. */
bool vmrt__gc_should_start(struct vmrt_gc *gc)
{
    switch ((vmrt_gc_trigger_t)atomic_load_explicit(&gc->trigger, memory_order_relaxed)) {
    case VMRT_GC_TRIGGER_FIXED_THRESHOLD:
        return atomic_load_explicit(&gc->alloc_bytes, memory_order_relaxed) >=
               gc->cfg.threshold_bytes;
    case VMRT_GC_TRIGGER_ADAPTIVE:
        return adaptive(gc);
    case VMRT_GC_TRIGGER_MEMORY_PRESSURE:
        return pressure(gc);
    case VMRT_GC_TRIGGER_TIME_BASED:
        return atomic_load_explicit(&gc->alloc_bytes, memory_order_relaxed) > 0 &&
               vmrt_now_ns() - atomic_load(&gc->pacer.last_cycle_end_ns) >= gc->cfg.interval_ns;
    default:
        return false;
    }
}

/* In the final pause: a new goal from the live size; tune the trigger. */
void vmrt__gc_pacer_cycle_end(struct vmrt_gc *gc, size_t live, bool full)
{
    gc_pacer_t *p = &gc->pacer;
    size_t usage = vmrt__gc_heap_usage(gc); /* before alloc_bytes is rebased */
    size_t goal = atomic_load(&p->goal);
    if (atomic_load(&gc->incremental)) {
        if (usage > goal && p->trigger_ratio > 0.3)
            p->trigger_ratio -= 0.1;
        else if (goal > atomic_load(&p->live_after) &&
                 usage < goal - (goal - atomic_load(&p->live_after)) / 4 && p->trigger_ratio < 0.9)
            p->trigger_ratio += 0.05;
    }
    /* A minor cycle that kept more than half of the young generation (what
     * was allocated between the cycles) saved little marking: the next
     * cycle is a full one (set_goal may ask for it too). */
    size_t before = atomic_load(&p->live_after), young = p->alloc_at_start;
    bool unproductive = !full && young && live > before && (live - before) > young / 2;
    atomic_store(&p->live_after, live);
    if (full || !gc->cards)
        p->live_full = live;
    set_goal(gc, live);
    if (unproductive)
        atomic_store(&gc->next_full, true);
    atomic_store(&p->last_cycle_end_ns, vmrt_now_ns());
}

const char *vmrt_gc_trigger_name(vmrt_gc_trigger_t t)
{
    switch (t) {
    case VMRT_GC_TRIGGER_FIXED_THRESHOLD:
        return "fixed-threshold";
    case VMRT_GC_TRIGGER_ADAPTIVE:
        return "adaptive";
    case VMRT_GC_TRIGGER_MEMORY_PRESSURE:
        return "memory-pressure";
    case VMRT_GC_TRIGGER_TIME_BASED:
        return "time-based";
    default:
        return "unknown";
    }
}
