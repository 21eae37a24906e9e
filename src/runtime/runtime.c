/* The runtime object: builds and wires the components of one VM.
 *
 * Wiring. The GC's hooks are the scheduler's: stop_world/resume_world stop
 * every vCPU at a safepoint or scheduling point, and enumerate_stacks walks
 * every coroutine stack (from its saved stack pointer up) for conservative
 * scanning. Mutators are per OS thread (vCPU threads, offload threads, the
 * embedder's thread), attached on first use by vmrt_runtime_mutator().
 *
 * Statistics. One JSON snapshot (snapshot()) gathers the scheduler, per-vCPU,
 * GC, pool-of-the-scheduler and guest counters; the text report, the JSON
 * export and the Prometheus endpoint (export.c, metrics_http.c) all derive
 * from it, so they never disagree. */
#include <vmrt/runtime.h>

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/export.h"

struct vmrt_runtime {
    vmrt_runtime_config_t cfg;
    vmrt_sched_t *sched;
    vmrt_gc_t *gc;
    vmrt__metrics_server_t *metrics;
    pthread_mutex_t mu;  /* guards guest_stats */
    json_t *guest_stats; /* name -> number, set by the embedder */
    uint64_t t_start_ns;
    bool started;
    bool shut_down;
    /* --trace: GC cycles from the GC's callbacks, scheduler activity sampled */
    pthread_t tracer;
    bool tracing;
    pthread_mutex_t trace_mu;
    pthread_cond_t trace_cv;
    bool trace_stop;
    /* GC work at High priority: a coroutine that runs check_and_run_step */
    vmrt_coro_t *gc_co;
    _Atomic bool gc_co_stop;
};

/* The collector's own coroutine, at High priority (the spec's coroutine
 * model: JIT and GC work High, guest execution Medium, I/O Low). It runs the
 * trigger policy's check and incremental steps, so a cycle progresses even
 * when the guest allocates little; allocation-driven assists still happen in
 * the allocating coroutines. Polls every 1 ms during a cycle, 10 ms between. */
static void *gc_coroutine(void *arg)
{
    vmrt_runtime_t *rt = arg;
    while (!atomic_load_explicit(&rt->gc_co_stop, memory_order_acquire)) {
        vmrt_gc_mutator_t *m = vmrt_runtime_mutator(rt); /* this vCPU's */
        if (m)
            vmrt_gc_check_and_run_step(m);
        vmrt_sleep_ns(vmrt_gc_in_cycle(rt->gc) ? 1000000ull : 10000000ull);
    }
    return NULL;
}

/* ---- tracing (cfg.trace) --------------------------------------------------- */

static void trace_cycle_start(vmrt_gc_t *gc, uint64_t cycle, void *user)
{
    (void)gc;
    vmrt_runtime_t *rt = user;
    fprintf(stderr, "[%9.3f ms] gc: cycle %llu starts\n",
            (double)(vmrt_now_ns() - rt->t_start_ns) / 1e6, (unsigned long long)cycle);
}

static void trace_cycle_end(vmrt_gc_t *gc, const vmrt_gc_stats_t *st, void *user)
{
    (void)gc;
    vmrt_runtime_t *rt = user;
    fprintf(stderr,
            "[%9.3f ms] gc: cycle %llu done in %.3f ms, live %.1f KiB, heap %.1f KiB, "
            "longest pause %.3f ms, moved %llu bytes\n",
            (double)(vmrt_now_ns() - rt->t_start_ns) / 1e6, (unsigned long long)st->gc_count,
            (double)st->last_cycle_ns / 1e6, (double)st->live_bytes / 1024.0,
            (double)st->heap_usage / 1024.0, (double)st->pause_max / 1e6,
            (unsigned long long)st->bytes_moved);
}

/* Samples the scheduler every 100 ms and prints what happened meanwhile. */
static void *tracer_main(void *arg)
{
    vmrt_runtime_t *rt = arg;
    vmrt_sched_stats_t prev = {0};
    pthread_mutex_lock(&rt->trace_mu);
    while (!rt->trace_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&rt->trace_cv, &rt->trace_mu, &ts);
        vmrt_sched_stats_t s;
        if (vmrt_sched_stats(rt->sched, &s) != 0 || s.context_switches == prev.context_switches)
            continue;
        fprintf(stderr,
                "[%9.3f ms] sched: %llu active, +%llu switches, +%llu steals, +%llu "
                "preemptions, +%llu migrations, queued %llu, p99 latency %.3f ms\n",
                (double)(vmrt_now_ns() - rt->t_start_ns) / 1e6,
                (unsigned long long)s.active_coroutines,
                (unsigned long long)(s.context_switches - prev.context_switches),
                (unsigned long long)(s.steals - prev.steals),
                (unsigned long long)(s.preempt_coop + s.preempt_signal - prev.preempt_coop -
                                     prev.preempt_signal),
                (unsigned long long)(s.migrations - prev.migrations),
                (unsigned long long)s.queue_depth, (double)s.latency_p99_ns / 1e6);
        prev = s;
    }
    pthread_mutex_unlock(&rt->trace_mu);
    return NULL;
}

static int gc_stop_world(void *ctx)
{
    return vmrt_sched_stop_world(ctx);
}

static void gc_resume_world(void *ctx)
{
    vmrt_sched_start_world(ctx);
}

/* A vCPU waiting on the GC (another vCPU is collecting) must stay stoppable
 * without leaving its thread: its mutator is per thread. */
static void gc_safepoint(void *ctx)
{
    (void)ctx;
    vmrt_sched_stw_wait();
}

struct stack_visit {
    void (*visit)(void *arg, const void *lo, const void *hi);
    void *arg;
};

static void visit_coro_stack(vmrt_coro_t *co, const void *lo, const void *hi, const void *sp,
                             void *arg)
{
    (void)co;
    struct stack_visit *v = arg;
    /* Only [sp, hi) holds live frames. */
    v->visit(v->arg, sp && sp > lo && sp < hi ? sp : lo, hi);
}

static void gc_enumerate_stacks(void *ctx, void (*visit)(void *arg, const void *lo, const void *hi),
                                void *arg)
{
    struct stack_visit v = {visit, arg};
    vmrt_sched_for_each_stack(ctx, visit_coro_stack, &v);
}

/* The in-process caps derived from the sandbox limits (docs/guide.md, "Limits at isolation none"):
 * with no gc.max_heap, the GC heap limit is 3/4 of limits.max_memory (the
 * rest is left to stacks, code and the C heap, so the VM reaches its heap
 * limit — a clean out-of-memory error — before a cgroup would kill it); the
 * vCPU count is capped at limits.vcpus and at ceil(limits.cpu_quota). They
 * apply at every isolation level; at none they are the only memory and CPU
 * caps there are. */
void vmrt_runtime_config_apply_limits(vmrt_runtime_config_t *cfg)
{
    const vmrt_limits_t *l = &cfg->limits;
    if (!cfg->gc.max_heap && l->max_memory) {
        uint64_t heap = l->max_memory / 4 * 3 + l->max_memory % 4 * 3 / 4;
        cfg->gc.max_heap = heap ? (size_t)heap : 1;
    }
    unsigned cap = 0;
    if (l->vcpus)
        cap = l->vcpus;
    if (l->cpu_quota > 0) {
        double q = ceil(l->cpu_quota);
        unsigned qc = q >= (double)VMRT_SCHED_MAX_VCPUS ? VMRT_SCHED_MAX_VCPUS : (unsigned)q;
        if (!cap || qc < cap)
            cap = qc;
    }
    if (cap && cfg->sched.vcpus > cap)
        cfg->sched.vcpus = cap;
}

int vmrt_runtime_new(vmrt_runtime_t **out, const vmrt_runtime_config_t *cfg)
{
    if (!out || !cfg || cfg->size != sizeof *cfg)
        return -EINVAL;
    vmrt_runtime_t *rt = calloc(1, sizeof *rt);
    if (!rt)
        return -ENOMEM;
    rt->cfg = *cfg;
    if (rt->cfg.seccomp_profile[0])
        rt->cfg.sandbox.filter.profile = rt->cfg.seccomp_profile;
    vmrt_runtime_config_apply_limits(&rt->cfg);
    pthread_mutex_init(&rt->mu, NULL);
    pthread_mutex_init(&rt->trace_mu, NULL);
    pthread_cond_init(&rt->trace_cv, NULL);
    rt->t_start_ns = vmrt_now_ns();
    rt->guest_stats = json_object();
    int err = rt->guest_stats ? vmrt_sched_new(&rt->sched, &rt->cfg.sched) : -ENOMEM;
    if (err)
        goto fail;
    if (rt->cfg.trace) {
        rt->cfg.gc.on_cycle_start = trace_cycle_start;
        rt->cfg.gc.on_cycle_end = trace_cycle_end;
        rt->cfg.gc.user = rt;
    }
    rt->cfg.gc.hooks = (vmrt_gc_hooks_t){
        .stop_world = gc_stop_world,
        .resume_world = gc_resume_world,
        .enumerate_stacks = rt->cfg.scan_coroutine_stacks ? gc_enumerate_stacks : NULL,
        .safepoint = gc_safepoint,
        .ctx = rt->sched,
    };
    err = vmrt_gc_new(&rt->gc, &rt->cfg.gc);
    if (err)
        goto fail;
    *out = rt;
    return 0;
fail:
    vmrt_sched_destroy(rt->sched);
    json_decref(rt->guest_stats);
    pthread_mutex_destroy(&rt->mu);
    free(rt);
    return err;
}

static json_t *snapshot(void *arg);

int vmrt_runtime_start(vmrt_runtime_t *rt)
{
    if (!rt || rt->started)
        return rt ? VMRT_ESTATE : -EINVAL;
    rt->t_start_ns = vmrt_now_ns();
    int err = vmrt_sched_start(rt->sched);
    if (err)
        return err;
    if (rt->cfg.metrics_listen[0]) {
        err = vmrt__metrics_start(&rt->metrics, rt->cfg.metrics_listen, snapshot, rt);
        if (err) {
            vmrt_sched_stop(rt->sched, VMRT_SCHED_STOP_CANCEL, 1000000000ull);
            return err;
        }
    }
    if (rt->cfg.trace)
        rt->tracing = pthread_create(&rt->tracer, NULL, tracer_main, rt) == 0;
    if (rt->cfg.gc.enabled) {
        vmrt_coro_attr_t attr;
        vmrt_coro_attr_init(&attr);
        attr.name = "gc";
        attr.priority = VMRT_PRIO_HIGH;
        err = vmrt_sched_spawn(rt->sched, &rt->gc_co, &attr, gc_coroutine, rt);
        if (err)
            rt->gc_co = NULL; /* collections still happen in allocating coroutines */
    }
    rt->started = true;
    return 0;
}

int vmrt_runtime_shutdown(vmrt_runtime_t *rt, uint64_t timeout_ns)
{
    if (!rt)
        return -EINVAL;
    if (!rt->started || rt->shut_down)
        return 0;
    if (rt->gc_co) {
        atomic_store_explicit(&rt->gc_co_stop, true, memory_order_release);
        vmrt_sched_join(rt->gc_co, NULL);
        rt->gc_co = NULL;
    }
    int err = vmrt_sched_stop(rt->sched, VMRT_SCHED_STOP_WAIT, timeout_ns);
    if (err == VMRT_ETIMEOUT)
        vmrt_sched_stop(rt->sched, VMRT_SCHED_STOP_CANCEL, 1000000000ull);
    vmrt__metrics_stop(rt->metrics);
    rt->metrics = NULL;
    if (rt->tracing) {
        pthread_mutex_lock(&rt->trace_mu);
        rt->trace_stop = true;
        pthread_cond_signal(&rt->trace_cv);
        pthread_mutex_unlock(&rt->trace_mu);
        pthread_join(rt->tracer, NULL);
        rt->tracing = false;
    }
    rt->shut_down = true;
    return err;
}

void vmrt_runtime_destroy(vmrt_runtime_t *rt)
{
    if (!rt)
        return;
    if (rt->started && !rt->shut_down)
        vmrt_runtime_shutdown(rt, 1000000000ull);
    vmrt_sched_destroy(rt->sched);
    vmrt_gc_destroy(rt->gc);
    json_decref(rt->guest_stats);
    pthread_mutex_destroy(&rt->mu);
    pthread_mutex_destroy(&rt->trace_mu);
    pthread_cond_destroy(&rt->trace_cv);
    free(rt);
}

int vmrt_runtime_metrics_port(vmrt_runtime_t *rt)
{
    return rt && rt->metrics ? vmrt__metrics_port(rt->metrics) : 0;
}

vmrt_sched_t *vmrt_runtime_sched(vmrt_runtime_t *rt)
{
    return rt->sched;
}

vmrt_gc_t *vmrt_runtime_gc(vmrt_runtime_t *rt)
{
    return rt->gc;
}

const vmrt_runtime_config_t *vmrt_runtime_config(vmrt_runtime_t *rt)
{
    return &rt->cfg;
}

vmrt_gc_mutator_t *vmrt_runtime_mutator(vmrt_runtime_t *rt)
{
    vmrt_gc_mutator_t *m = vmrt_gc_current(rt->gc);
    if (!m && vmrt_gc_thread_attach(rt->gc, &m) != 0)
        return NULL;
    return m;
}

int vmrt_runtime_spawn(vmrt_runtime_t *rt, vmrt_coro_t **out, const vmrt_coro_attr_t *attr,
                       vmrt_coro_fn fn, void *arg)
{
    if (!rt)
        return -EINVAL;
    return vmrt_sched_spawn(rt->sched, out, attr, fn, arg);
}

int vmrt_runtime_set_guest_stat(vmrt_runtime_t *rt, const char *name, double value)
{
    if (!rt || !name)
        return -EINVAL;
    pthread_mutex_lock(&rt->mu);
    int rc = json_object_set_new(rt->guest_stats, name, json_real(value));
    pthread_mutex_unlock(&rt->mu);
    return rc ? -ENOMEM : 0;
}

int vmrt_runtime_run_sandboxed(const vmrt_runtime_config_t *cfg, int (*fn)(void *), void *arg,
                               vmrt_sandbox_report_t *report)
{
    if (!cfg || cfg->size != sizeof *cfg || !fn || !report)
        return -EINVAL;
    vmrt_sandbox_config_t sc = cfg->sandbox;
    if (cfg->seccomp_profile[0])
        sc.filter.profile = cfg->seccomp_profile;
    vmrt_sandbox_t *sb;
    int err = vmrt_sandbox_new(&sb, &sc, &cfg->limits);
    if (err) {
        if (report)
            vmrt_sandbox_failure_report(report); /* setup_failed: the stage and errno */
        return err;
    }
    err = vmrt_sandbox_spawn(sb, fn, arg);
    if (!err)
        err = vmrt_sandbox_wait(sb, report);
    vmrt_sandbox_free(sb);
    return err;
}

/* ---- statistics ----------------------------------------------------------- */

static json_t *sched_json(vmrt_runtime_t *rt)
{
    vmrt_sched_stats_t s;
    if (vmrt_sched_stats(rt->sched, &s) != 0)
        return json_object();
    json_t *vcpus = json_array();
    for (unsigned i = 0; i < VMRT_SCHED_MAX_VCPUS; i++) {
        vmrt_vcpu_stats_t v;
        if (vmrt_vcpu_stats(rt->sched, i, &v) != 0)
            continue;
        json_array_append_new(vcpus,
                              json_pack("{s:I,s:I,s:f,s:I,s:I,s:f}", "id", (json_int_t)i,
                                        "context_switches_total", (json_int_t)v.context_switches,
                                        "cpu_utilization", v.cpu_utilization, "steals_total",
                                        (json_int_t)v.steals, "queue_depth",
                                        (json_int_t)v.queue_depth, "load_ewma", v.load));
    }
    return json_pack(
        "{s:I,s:I,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o}", "vcpu_count",
        (json_int_t)s.vcpus, "total_coroutines", (json_int_t)s.total_coroutines,
        "active_coroutines", (json_int_t)s.active_coroutines, "cpu_utilization", s.cpu_utilization,
        "context_switches_total", (json_int_t)s.context_switches, "steals_total",
        (json_int_t)s.steals, "preemptions_cooperative_total", (json_int_t)s.preempt_coop,
        "preemptions_signal_total", (json_int_t)s.preempt_signal, "migrations_total",
        (json_int_t)s.migrations, "parks_total", (json_int_t)s.parks, "wakeups_total",
        (json_int_t)s.wakeups, "queue_depth", (json_int_t)s.queue_depth, "global_queue_depth",
        (json_int_t)s.global_queue_depth, "latency_p50_ns", (json_int_t)s.latency_p50_ns,
        "latency_p99_ns", (json_int_t)s.latency_p99_ns, "latency_max_ns",
        (json_int_t)s.latency_max_ns, "vcpus", vcpus);
}

static json_t *gc_json(vmrt_runtime_t *rt)
{
    vmrt_gc_stats_t g;
    vmrt_gc_stats(rt->gc, &g);
    return json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s,"
        "s:b,s:b}",
        "heap_usage", (json_int_t)g.heap_usage, "heap_committed", (json_int_t)g.heap_committed,
        "heap_limit", (json_int_t)g.heap_limit, "gc_count", (json_int_t)g.gc_count, "gc_time_ns",
        (json_int_t)g.gc_time, "pause_time_ns", (json_int_t)g.pause_time, "pause_count",
        (json_int_t)g.pause_count, "pause_max_ns", (json_int_t)g.pause_max, "pause_p50_ns",
        (json_int_t)g.pause_p50, "pause_p99_ns", (json_int_t)g.pause_p99, "bytes_allocated_total",
        (json_int_t)g.bytes_allocated, "bytes_freed_total", (json_int_t)g.bytes_freed,
        "bytes_moved_total", (json_int_t)g.bytes_moved, "live_bytes", (json_int_t)g.live_bytes,
        "minor_count", (json_int_t)g.minor_count, "live_full_max_bytes",
        (json_int_t)g.live_full_max, "mark_time_ns", (json_int_t)g.mark_time, "sweep_time_ns",
        (json_int_t)g.sweep_time, "compact_time_ns", (json_int_t)g.compact_time, "trigger",
        vmrt_gc_trigger_name(vmrt_gc_trigger(rt->gc)), "enabled", vmrt_gc_enabled(rt->gc),
        "incremental", vmrt_gc_incremental(rt->gc));
}

static const char *prio_key(vmrt_prio_t p)
{
    switch (p) {
    case VMRT_PRIO_HIGH:
        return "high";
    case VMRT_PRIO_MEDIUM:
        return "medium";
    case VMRT_PRIO_LOW:
        return "low";
    default:
        return "other";
    }
}

/* The VCpuCoroutineMapper's tables: vCPU -> running coroutine and load, and
 * live coroutines by priority and by state (the spec's coroutine model made
 * visible: High = JIT/GC, Medium = guest execution, Low = I/O). */
static json_t *mapper_json(vmrt_runtime_t *rt)
{
    json_t *vcpus = json_array();
    vmrt_vcpu_info_t vi[VMRT_SCHED_MAX_VCPUS];
    size_t nv = vmrt_vcpu_table(rt->sched, vi, VMRT_SCHED_MAX_VCPUS);
    for (size_t i = 0; i < nv && i < VMRT_SCHED_MAX_VCPUS; i++)
        json_array_append_new(
            vcpus, json_pack("{s:I,s:b,s:I,s:I,s:I,s:f}", "id", (json_int_t)vi[i].id, "online",
                             vi[i].online, "host_cpu", (json_int_t)vi[i].host_cpu, "running_coro",
                             (json_int_t)vi[i].running_coro, "queued", (json_int_t)vi[i].queued,
                             "load", vi[i].load));
    json_int_t by_prio[VMRT_PRIO_COUNT] = {0}, bound = 0, affine = 0;
    json_t *by_state = json_object();
    size_t n = vmrt_coro_table(rt->sched, NULL, 0);
    vmrt_coro_info_t *ci = n ? calloc(n, sizeof *ci) : NULL;
    if (ci) {
        n = vmrt_coro_table(rt->sched, ci, n);
        for (size_t i = 0; i < n; i++) {
            if ((unsigned)ci[i].priority < VMRT_PRIO_COUNT)
                by_prio[ci[i].priority]++;
            bound += ci[i].bind_vcpu >= 0;
            affine += ci[i].affinity != 0;
            const char *st = vmrt_coro_state_name(ci[i].state);
            json_t *c = json_object_get(by_state, st);
            json_object_set_new(by_state, st, json_integer((c ? json_integer_value(c) : 0) + 1));
        }
        free(ci);
    }
    json_t *prio = json_object();
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        json_object_set_new(prio, prio_key((vmrt_prio_t)p), json_integer(by_prio[p]));
    return json_pack("{s:o,s:o,s:o,s:I,s:I}", "vcpus", vcpus, "coroutines_by_priority", prio,
                     "coroutines_by_state", by_state, "bound", bound, "affine", affine);
}

static json_t *pool_json(vmrt_runtime_t *rt)
{
    vmrt_pool_stats_t p;
    if (vmrt_sched_pool_stats(rt->sched, &p) != 0)
        return json_object();
    /* (leaks are reported when the runtime is destroyed, not mid-run) */
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "created_total", (json_int_t)p.created,
                     "reused_total", (json_int_t)p.reused, "active", (json_int_t)p.active, "idle",
                     (json_int_t)p.idle, "peak", (json_int_t)p.peak, "trimmed_total",
                     (json_int_t)p.trimmed, "rejected_total", (json_int_t)p.rejected);
}

static json_t *snapshot(void *arg)
{
    vmrt_runtime_t *rt = arg;
    json_t *root = json_object();
    if (!root)
        return NULL;
    json_object_set_new(
        root, "uptime_ns",
        json_integer((json_int_t)(rt->t_start_ns ? vmrt_now_ns() - rt->t_start_ns : 0)));
    json_object_set_new(root, "sched", sched_json(rt));
    json_object_set_new(root, "mapper", mapper_json(rt));
    json_object_set_new(root, "pool", pool_json(rt));
    json_object_set_new(root, "gc", gc_json(rt));
    pthread_mutex_lock(&rt->mu);
    json_object_set_new(root, "guest", json_deep_copy(rt->guest_stats));
    pthread_mutex_unlock(&rt->mu);
    return root;
}

char *vmrt_runtime_stats_json(vmrt_runtime_t *rt)
{
    json_t *s = snapshot(rt);
    char *text = s ? json_dumps(s, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(s);
    return text;
}

int vmrt_runtime_stats_prometheus(vmrt_runtime_t *rt, FILE *out)
{
    json_t *s = snapshot(rt);
    if (!s)
        return -ENOMEM;
    int rc = vmrt__export_prometheus(s, out);
    json_decref(s);
    return rc;
}

static double ms(json_t *o, const char *k)
{
    return (double)json_integer_value(json_object_get(o, k)) / 1e6;
}

static long long num(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

int vmrt_runtime_stats_print(vmrt_runtime_t *rt, FILE *out)
{
    json_t *s = snapshot(rt);
    if (!s)
        return -ENOMEM;
    json_t *sc = json_object_get(s, "sched"), *gc = json_object_get(s, "gc");
    fprintf(out,
            "scheduler: %lld vCPUs, %lld coroutines (%lld active), %lld context switches, "
            "cpu %.0f%%\n",
            num(sc, "vcpu_count"), num(sc, "total_coroutines"), num(sc, "active_coroutines"),
            num(sc, "context_switches_total"),
            100 * json_real_value(json_object_get(sc, "cpu_utilization")));
    fprintf(out,
            "           steals %lld, preemptions %lld cooperative / %lld signal, "
            "migrations %lld, parks %lld\n",
            num(sc, "steals_total"), num(sc, "preemptions_cooperative_total"),
            num(sc, "preemptions_signal_total"), num(sc, "migrations_total"),
            num(sc, "parks_total"));
    fprintf(out, "           ready->running latency p50 %.3f ms, p99 %.3f ms, max %.3f ms\n",
            ms(sc, "latency_p50_ns"), ms(sc, "latency_p99_ns"), ms(sc, "latency_max_ns"));
    json_t *pool = json_object_get(s, "pool");
    fprintf(out,
            "pool:      %lld created, %lld reused, peak %lld active, %lld idle, %lld trimmed\n",
            num(pool, "created_total"), num(pool, "reused_total"), num(pool, "peak"),
            num(pool, "idle"), num(pool, "trimmed_total"));
    fprintf(out,
            "gc:        %lld cycles (%lld minor; %s%s), heap %.1f MiB in use / %.1f MiB "
            "committed, live %.1f MiB\n",
            num(gc, "gc_count"), num(gc, "minor_count"),
            json_string_value(json_object_get(gc, "trigger")),
            json_is_true(json_object_get(gc, "incremental")) ? ", incremental" : "",
            (double)num(gc, "heap_usage") / 1048576.0,
            (double)num(gc, "heap_committed") / 1048576.0,
            (double)num(gc, "live_bytes") / 1048576.0);
    fprintf(out,
            "           pauses %lld: total %.3f ms, p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
            "allocated %.1f MiB, moved %.1f MiB\n",
            num(gc, "pause_count"), ms(gc, "pause_time_ns"), ms(gc, "pause_p50_ns"),
            ms(gc, "pause_p99_ns"), ms(gc, "pause_max_ns"),
            (double)num(gc, "bytes_allocated_total") / 1048576.0,
            (double)num(gc, "bytes_moved_total") / 1048576.0);
    json_t *guest = json_object_get(s, "guest");
    if (json_object_size(guest)) {
        fputs("guest:    ", out);
        const char *k;
        json_t *v;
        bool first = true;
        json_object_foreach(guest, k, v)
        {
            fprintf(out, "%s %s %.0f", first ? "" : ",", k, json_number_value(v));
            first = false;
        }
        fputc('\n', out);
    }
    json_decref(s);
    return 0;
}
