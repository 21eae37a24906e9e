/* vmrt — the runtime object: one VM's scheduler, coroutine pool, vCPU
 * mapper, garbage collector and (optionally) sandbox, configured together,
 * with one statistics snapshot (the seed's lib.rs: overall runtime
 * management).
 *
 * Configuration comes from vmrt_runtime_config_init() defaults, then a JSON
 * file, then VMRT_* environment variables, then explicit settings (the CLI's
 * flags) — each later source overrides the earlier. Every setting has one
 * dotted key ("gc.trigger"); in JSON the dots are nested objects
 * ({"gc": {"trigger": "adaptive"}}); in the environment the key is upper-cased
 * with '.' -> '_' and prefixed VMRT_ (VMRT_GC_TRIGGER). Invalid values are
 * rejected with a message naming the source, the key and the reason.
 *
 * GC integration: the collector stops the world through the scheduler's
 * safepoints (every vCPU), scans every coroutine stack conservatively when
 * asked to, and GC work runs at High priority. Each OS thread that touches
 * the heap gets a mutator on demand (vmrt_runtime_mutator).
 */
#ifndef VMRT_RUNTIME_H
#define VMRT_RUNTIME_H

#include <stdio.h>

#include <vmrt/common.h>
#include <vmrt/gc.h>
#include <vmrt/pool.h>
#include <vmrt/sandbox.h>
#include <vmrt/sched.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmrt_runtime vmrt_runtime_t;

/* Everything a VM is configured with. Fill with vmrt_runtime_config_init(). */
typedef struct vmrt_runtime_config {
    size_t size;                   /* set by _init (ABI versioning) */
    vmrt_sched_config_t sched;     /* scheduler and vCPUs */
    vmrt_gc_config_t gc;           /* collector (gc.max_heap = heap limit) */
    vmrt_sandbox_config_t sandbox; /* isolation the VM runs in (NONE = in-process) */
    vmrt_limits_t limits;          /* resource limits of the sandbox */
    bool scan_coroutine_stacks;    /* GC scans every coroutine stack conservatively (pins) */
    bool trace;                    /* print scheduler and GC events to stderr */
    char metrics_listen[64];       /* "127.0.0.1:PORT" serves /metrics and /stats; "" = off */
    char seccomp_profile[256];     /* storage for sandbox.filter.profile */
} vmrt_runtime_config_t;

VMRT_API void vmrt_runtime_config_init(vmrt_runtime_config_t *cfg);

/* Sets one key from a string ("4", "512M", "10ms", "true", "adaptive").
 * origin names the source in messages (e.g. "--vcpus", "VMRT_SCHED_VCPUS").
 * Errors: -ENOENT (unknown key), -EINVAL (bad value); err gets
 * "ORIGIN: KEY: reason". */
VMRT_API int vmrt_runtime_config_set(vmrt_runtime_config_t *cfg, const char *key, const char *value,
                                     const char *origin, char *err, size_t errlen);

/* Loads a JSON file. Syntax errors give "PATH:LINE:COL: message"; unknown
 * keys and bad values "PATH: KEY: reason". Errors: -errno, -EINVAL. */
VMRT_API int vmrt_runtime_config_load_file(vmrt_runtime_config_t *cfg, const char *path, char *err,
                                           size_t errlen);

/* Applies every VMRT_<KEY> variable of envp (NULL = environ) that names a
 * key; other VMRT_* variables (e.g. VMRT_GCTRACE) are left alone. */
VMRT_API int vmrt_runtime_config_load_env(vmrt_runtime_config_t *cfg, char *const *envp, char *err,
                                          size_t errlen);

/* The i-th key (NULL past the end) and a one-line description. */
VMRT_API const char *vmrt_runtime_config_key(size_t i, const char **help);

/* Lifecycle. new builds the components (errors: -EINVAL, -ENOMEM, ...);
 * start launches the vCPUs, the metrics endpoint and the tracer; shutdown
 * waits for every coroutine (timeout_ns 0 = forever; past it VMRT_ETIMEOUT,
 * and the rest are cancelled) and stops the threads; destroy frees
 * everything (shutting down first if needed) and writes the coroutine pool's
 * leak report — coroutines never finished or never joined — to stderr. */
/* Applies the in-process caps that the sandbox limits imply (vmrt_runtime_new
 * does this to its copy): with no gc.max_heap, the GC heap limit becomes 3/4
 * of limits.max_memory; sched.vcpus is capped at limits.vcpus and at
 * ceil(limits.cpu_quota). */
VMRT_API void vmrt_runtime_config_apply_limits(vmrt_runtime_config_t *cfg);
VMRT_API int vmrt_runtime_new(vmrt_runtime_t **out, const vmrt_runtime_config_t *cfg);
VMRT_API int vmrt_runtime_start(vmrt_runtime_t *rt);
VMRT_API int vmrt_runtime_shutdown(vmrt_runtime_t *rt, uint64_t timeout_ns);
VMRT_API void vmrt_runtime_destroy(vmrt_runtime_t *rt);

/* The TCP port of the metrics endpoint (useful with "127.0.0.1:0"), or 0. */
VMRT_API int vmrt_runtime_metrics_port(vmrt_runtime_t *rt);

VMRT_API vmrt_sched_t *vmrt_runtime_sched(vmrt_runtime_t *rt);
VMRT_API vmrt_gc_t *vmrt_runtime_gc(vmrt_runtime_t *rt);
VMRT_API const vmrt_runtime_config_t *vmrt_runtime_config(vmrt_runtime_t *rt);

/* The calling OS thread's GC mutator, attached on first use (NULL if out of
 * memory). A coroutine uses the mutator of the vCPU thread it runs on: do not
 * keep the pointer across a yield. */
VMRT_API vmrt_gc_mutator_t *vmrt_runtime_mutator(vmrt_runtime_t *rt);

/* Spawns fn(arg) on the scheduler; see vmrt_sched_spawn. */
VMRT_API int vmrt_runtime_spawn(vmrt_runtime_t *rt, vmrt_coro_t **out, const vmrt_coro_attr_t *attr,
                                vmrt_coro_fn fn, void *arg);

/* Statistics of every component as JSON (malloc'ed string, free() it; NULL
 * if out of memory); as Prometheus text; as a human-readable report. */
VMRT_API char *vmrt_runtime_stats_json(vmrt_runtime_t *rt);
VMRT_API int vmrt_runtime_stats_prometheus(vmrt_runtime_t *rt, FILE *out);
VMRT_API int vmrt_runtime_stats_print(vmrt_runtime_t *rt, FILE *out);

/* The optional sandbox of a VM: runs fn(arg) — typically "create a runtime
 * from cfg and run the guest" — inside a SandboxedVm built from
 * cfg->sandbox and cfg->limits (with isolation NONE, in the calling process
 * under the in-process caps), waits for it and fills *report (why it ended,
 * what it used). Returns 0, or a negative error with vmrt_sandbox_error()
 * naming the failed step — then *report is the failure's report (reason
 * setup_failed, the stage, errno; vmrt_sandbox_failure_report) if the
 * sandbox could not be made. fn's return value is the sandbox's exit code. */
VMRT_API int vmrt_runtime_run_sandboxed(const vmrt_runtime_config_t *cfg, int (*fn)(void *),
                                        void *arg, vmrt_sandbox_report_t *report);

/* Adds a named counter to the snapshot's "guest" section (the embedder's
 * own statistics, e.g. the guest engine's). */
VMRT_API int vmrt_runtime_set_guest_stat(vmrt_runtime_t *rt, const char *name, double value);

#ifdef __cplusplus
}
#endif
#endif
