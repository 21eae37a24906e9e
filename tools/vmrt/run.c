/* vmrt run — boot a VM on the runtime and run a guest program.
 *
 * The command line is parsed from a table into a plan (config keys with
 * their values, in order), then applied after the config file and the
 * environment: defaults < --config FILE < VMRT_* < flags. With no PROGRAM the
 * default workload (a mix of the guest examples, embedded at build time)
 * runs. With --isolation other than none the whole VM runs inside a
 * SandboxedVm (vmrt_sandbox_spawn) and its end report follows the stats.
 *
 * Exit status: the guest's (0..63); 65 bad program, 66 unreadable program,
 * 70 guest runtime error, 71 host error (see src/guest/guest.h); 2 usage;
 * 1 runtime set-up failure; a VM ended on a limit gives the codes of
 * `vmrt exec` (240 out of memory ... 243 wall time ..., docs/sandbox.md), at
 * isolation none too (the wall and CPU time are supervised in-process there).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

#include "cli.h"
#include "default_workload.h"
#include "guest/guest.h"
#include "guest/host_runtime.h"

#define MAX_PLAN  64
#define MAX_PATHS 32

typedef struct flag {
    const char *name; /* --name */
    const char *key;  /* runtime config key, or NULL for CLI-only flags */
    const char *arg;  /* argument name in --help, NULL: no argument */
    const char *help;
} flag_t;

static const flag_t flags[] = {
    {"--vcpus", "sched.vcpus", "N", "vCPU threads (default: CPUs available)"},
    {"--time-slice", "sched.time_slice", "DURATION", "time slice (e.g. 10ms)"},
    {"--heap-max", "gc.heap_max", "SIZE", "GC heap limit (e.g. 512M)"},
    {"--gc-trigger", "gc.trigger", "POLICY", "fixed, adaptive, pressure or time"},
    {"--gc-target", "gc.target", "PCT", "adaptive: heap growth over live data, percent"},
    {"--gc-incremental", "gc.incremental", NULL, "mark in bounded steps"},
    {"--isolation", "sandbox.isolation", "LEVEL", "none, process, container or full"},
    {"--memory", "limits.memory", "SIZE", "sandbox memory limit"},
    {"--cpu-time", "limits.cpu_time", "SEC", "sandbox CPU time limit"},
    {"--wall-time", "limits.wall_time", "SEC", "wall-clock limit"},
    {"--cpus", "limits.cpus", "N", "host CPUs for the sandbox (cpuset)"},
    {"--cpu-quota", "limits.cpu_quota", "N", "CPUs' worth of time (e.g. 1.5)"},
    {"--max-procs", "limits.procs", "N", "processes/threads"},
    {"--max-files", "limits.files", "N", "open files"},
    {"--max-file-size", "limits.file_size", "SIZE", "largest file written"},
    {"--max-disk-io", "limits.disk_io", "BYTES", "disk I/O budget"},
    {"--max-net-bw", "limits.net_bw", "RATE", "network bandwidth, bytes/s"},
    {"--net", "sandbox.net", "MODE", "none, loopback or host"},
    {"--seccomp", "sandbox.seccomp", "PROFILE", "default, strict, none or a JSON file"},
    {"--strict", "sandbox.strict", NULL, "make every sandbox downgrade an error"},
    {"--trace", "trace", NULL, "print scheduler and GC events"},
    {"--metrics-listen", "metrics_listen", "ADDR", "serve /metrics and /stats on loopback"},
    {"--ro", NULL, "PATH", "bind PATH read-only into the sandbox (repeatable)"},
    {"--rw", NULL, "PATH", "bind PATH read-write (repeatable)"},
    {"--allow-syscall", NULL, "NAME", "allow a syscall (repeatable)"},
    {"--deny-syscall", NULL, "NAME", "deny a syscall (repeatable)"},
    {"--config", NULL, "FILE", "JSON configuration file"},
    {"--stats", NULL, NULL, "print a run report (--stats=json: as JSON)"},
    {"--jit-threshold", NULL, "N", "calls+back-edges before a function is translated (0: never)"},
};

#define N_FLAGS (sizeof flags / sizeof flags[0])

typedef struct plan {
    struct {
        const char *key, *value, *flag;
    } set[MAX_PLAN];
    unsigned nset;
    const char *config_file;
    const char *ro[MAX_PATHS + 1], *rw[MAX_PATHS + 1];
    const char *allow[MAX_PATHS + 1], *deny[MAX_PATHS + 1];
    unsigned nro, nrw, nallow, ndeny;
    int stats; /* 0 none, 1 text, 2 json */
    uint32_t jit_threshold;
    bool jit_set;
    const char *program;      /* NULL: default workload */
    vmrt_guest_program *prog; /* PROGRAM, loaded and verified before any sandbox */
    int guest_argc;
    char **guest_argv;
} plan_t;

static void usage(FILE *f)
{
    fputs("Usage: vmrt run [OPTIONS] [PROGRAM [ARGS...]]\n\n"
          "Boots a VM on the runtime (vCPUs, scheduler, GC heap, optional sandbox) and runs a\n"
          "guest program (.vasm, see docs/guest.md); with no PROGRAM, the default workload.\n\n",
          f);
    for (size_t i = 0; i < N_FLAGS; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", flags[i].name, flags[i].arg ? " " : "",
                 flags[i].arg ? flags[i].arg : "");
        fprintf(f, "  %-26s %s\n", left, flags[i].help);
    }
    fputs("\nEvery setting is also a config key (JSON file, or VMRT_<KEY> in the environment);\n"
          "flags override the environment, which overrides the file.\n",
          f);
}

static void add_path(const char **list, unsigned *n, const char *flag, const char *v)
{
    if (*n >= MAX_PATHS)
        die_usage("run: %s: at most %d", flag, MAX_PATHS);
    list[(*n)++] = v;
}

static void parse(int argc, char **argv, plan_t *p)
{
    int i = 1;
    for (; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !a[1])
            break;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(VMRT_EXIT_OK);
        }
        if (!strcmp(a, "--stats") || !strcmp(a, "--stats=text")) {
            p->stats = 1;
            continue;
        }
        if (!strcmp(a, "--stats=json")) {
            p->stats = 2;
            continue;
        }
        if (!strncmp(a, "--stats=", 8))
            die_usage("run: --stats: '%s' is not text or json", a + 8);
        char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const flag_t *f = NULL;
        for (size_t k = 0; k < N_FLAGS; k++)
            if (strlen(flags[k].name) == nlen && !strncmp(flags[k].name, a, nlen))
                f = &flags[k];
        if (!f)
            die_usage("run: unknown option '%s'", a);
        const char *v = "true";
        if (f->arg) {
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                die_usage("run: %s needs %s", f->name, f->arg);
        } else if (eq) {
            die_usage("run: %s takes no value", f->name);
        }
        if (f->key) {
            if (p->nset >= MAX_PLAN)
                die_usage("run: too many options");
            p->set[p->nset].key = f->key;
            p->set[p->nset].value = v;
            p->set[p->nset].flag = f->name;
            p->nset++;
        } else if (!strcmp(f->name, "--config")) {
            p->config_file = v;
        } else if (!strcmp(f->name, "--ro")) {
            add_path(p->ro, &p->nro, f->name, v);
        } else if (!strcmp(f->name, "--rw")) {
            add_path(p->rw, &p->nrw, f->name, v);
        } else if (!strcmp(f->name, "--allow-syscall")) {
            add_path(p->allow, &p->nallow, f->name, v);
        } else if (!strcmp(f->name, "--deny-syscall")) {
            add_path(p->deny, &p->ndeny, f->name, v);
        } else if (!strcmp(f->name, "--jit-threshold")) {
            uint64_t t;
            if (parse_uint(v, 0, UINT32_MAX, &t) != 0)
                die_usage("run: --jit-threshold: '%s' is not a whole number", v);
            p->jit_threshold = (uint32_t)t;
            p->jit_set = true;
        }
    }
    if (i < argc) {
        p->program = argv[i];
        p->guest_argc = argc - i - 1;
        p->guest_argv = argv + i + 1;
    }
}

static void build_config(const plan_t *p, vmrt_runtime_config_t *cfg)
{
    char err[512];
    vmrt_runtime_config_init(cfg);
    if (p->config_file && vmrt_runtime_config_load_file(cfg, p->config_file, err, sizeof err))
        die_usage("run: %s", err);
    if (vmrt_runtime_config_load_env(cfg, NULL, err, sizeof err))
        die_usage("run: %s", err);
    for (unsigned i = 0; i < p->nset; i++)
        if (vmrt_runtime_config_set(cfg, p->set[i].key, p->set[i].value, p->set[i].flag, err,
                                    sizeof err))
            die_usage("run: %s", err);
}

/* ---- the VM ------------------------------------------------------------------------------------
 */

typedef struct vm_job {
    const plan_t *plan;
    vmrt_runtime_config_t cfg;
    int exit_code;
} vm_job_t;

static void print_progress(vmrt_runtime_t *rt, uint64_t t0, uint64_t *last_switches,
                           uint64_t *last_t)
{
    vmrt_sched_stats_t s;
    vmrt_gc_stats_t g;
    vmrt_sched_stats(vmrt_runtime_sched(rt), &s);
    vmrt_gc_stats(vmrt_runtime_gc(rt), &g);
    uint64_t now = vmrt_now_ns();
    double rate = now > *last_t ? (double)(s.context_switches - *last_switches) * 1e9 /
                                      (double)(now - *last_t)
                                : 0;
    *last_switches = s.context_switches;
    *last_t = now;
    fprintf(stderr,
            "\r\033[K[%.1fs] coroutines %llu (active %llu)  switches/s %.3g  heap %.1f MiB  "
            "gc cycles %llu",
            (double)(now - t0) / 1e9, (unsigned long long)s.total_coroutines,
            (unsigned long long)s.active_coroutines, rate, (double)g.heap_usage / 1048576.0,
            (unsigned long long)g.gc_count);
}

typedef struct progress {
    vmrt_runtime_t *rt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    bool shown;
} progress_t;

/* A live one-line display on a terminal, from the second second on. */
static void *progress_main(void *arg)
{
    progress_t *pr = arg;
    uint64_t t0 = vmrt_now_ns(), last_sw = 0, last_t = t0;
    pthread_mutex_lock(&pr->mu);
    while (!pr->done) {
        struct timespec ts = timespec_in(CLOCK_REALTIME, 250000000);
        pthread_cond_timedwait(&pr->cv, &pr->mu, &ts);
        if (!pr->done && vmrt_now_ns() - t0 > 1000000000ull) {
            print_progress(pr->rt, t0, &last_sw, &last_t);
            pr->shown = true;
        }
    }
    if (pr->shown)
        fputs("\r\033[K", stderr);
    pthread_mutex_unlock(&pr->mu);
    return NULL;
}

/* Adds a guest run's counters to the runtime's "guest" statistics. */
static void add_guest_stats(vmrt_runtime_t *rt, const vmrt_guest_result *r)
{
    static double threads, translations, objects, bytes, barriers, io, programs;
    threads += (double)r->threads;
    translations += (double)r->translations;
    objects += (double)r->host.objects;
    bytes += (double)r->host.bytes;
    barriers += (double)r->host.barriers;
    io += (double)r->host.io_requests;
    programs += 1;
    vmrt_runtime_set_guest_stat(rt, "programs", programs);
    vmrt_runtime_set_guest_stat(rt, "threads", threads);
    vmrt_runtime_set_guest_stat(rt, "translations", translations);
    vmrt_runtime_set_guest_stat(rt, "objects", objects);
    vmrt_runtime_set_guest_stat(rt, "bytes_allocated", bytes);
    vmrt_runtime_set_guest_stat(rt, "write_barriers", barriers);
    vmrt_runtime_set_guest_stat(rt, "io_requests", io);
}

static int run_one(vmrt_runtime_t *rt, const plan_t *p, const char *name, const char *src,
                   const char *args)
{
    vmrt_guest_options opts;
    vmrt_guest_options_init(&opts);
    opts.host_new = vg_host_runtime_new;
    if (p->jit_set)
        opts.jit_threshold = p->jit_threshold;
    vmrt_guest_result res;
    if (src) {
        char *argvv[2] = {(char *)args, NULL};
        opts.argc = args && *args ? 1 : 0;
        opts.argv = argvv;
        printf("== %s %s\n", name, args);
        fflush(stdout);
        int code = vmrt_guest_run_string(name, src, &opts, &res);
        add_guest_stats(rt, &res);
        return code;
    }
    (void)name;
    opts.argc = p->guest_argc;
    opts.argv = p->guest_argv;
    memset(&res, 0, sizeof res);
    int code = vmrt_guest_run(p->prog, &opts, &res);
    add_guest_stats(rt, &res);
    return code;
}

static int run_vm(void *arg)
{
    vm_job_t *job = arg;
    const plan_t *p = job->plan;
    vmrt_runtime_t *rt = NULL;
    int err = vmrt_runtime_new(&rt, &job->cfg);
    if (!err)
        err = vmrt_runtime_start(rt);
    if (err) {
        /* The address was checked when set (exit 2 if malformed or not
         * loopback); these errors come only from binding it. */
        if (job->cfg.metrics_listen[0] &&
            (err == -EADDRINUSE || err == -EACCES || err == -EADDRNOTAVAIL))
            fprintf(stderr, "vmrt: run: --metrics-listen %s: %s\n", job->cfg.metrics_listen,
                    vmrt_strerror(err));
        else
            fprintf(stderr, "vmrt: run: cannot start the runtime: %s\n", vmrt_strerror(err));
        if (rt)
            vmrt_runtime_destroy(rt);
        return VMRT_EXIT_FAILURE;
    }
    vg_host_runtime_use(rt);
    if (vmrt_runtime_metrics_port(rt))
        fprintf(stderr, "vmrt: run: metrics on http://%.*s:%d/metrics and /stats\n",
                (int)(strrchr(job->cfg.metrics_listen, ':') - job->cfg.metrics_listen),
                job->cfg.metrics_listen, vmrt_runtime_metrics_port(rt));
    progress_t pr = {.rt = rt, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t prog_thread;
    bool prog =
        isatty(STDERR_FILENO) && pthread_create(&prog_thread, NULL, progress_main, &pr) == 0;
    int code = 0;
    if (p->program) {
        code = run_one(rt, p, p->program, NULL, NULL);
    } else {
        for (size_t i = 0; i < sizeof default_workload / sizeof default_workload[0] && !code; i++)
            code = run_one(rt, p, default_workload[i].name, default_workload[i].src,
                           default_workload[i].args);
    }
    fflush(stdout);
    if (prog) {
        pthread_mutex_lock(&pr.mu);
        pr.done = true;
        pthread_cond_signal(&pr.cv);
        pthread_mutex_unlock(&pr.mu);
        pthread_join(prog_thread, NULL);
    }
    if (p->stats == 1) {
        fputs("--- vmrt run report ---\n", stdout);
        vmrt_runtime_stats_print(rt, stdout);
    } else if (p->stats == 2) {
        char *json = vmrt_runtime_stats_json(rt);
        if (json)
            puts(json);
        free(json);
    }
    fflush(stdout);
    vmrt_runtime_shutdown(rt, 5000000000ull);
    vmrt_runtime_destroy(rt);
    return code;
}

static int run_sandboxed(vm_job_t *job, plan_t *p)
{
    vmrt_runtime_config_t *cfg = &job->cfg;
    p->ro[p->nro] = p->rw[p->nrw] = p->allow[p->nallow] = p->deny[p->ndeny] = NULL;
    cfg->sandbox.ro_paths = p->nro ? p->ro : NULL;
    cfg->sandbox.rw_paths = p->nrw ? p->rw : NULL;
    cfg->sandbox.filter.allowed = p->nallow ? p->allow : NULL;
    cfg->sandbox.filter.denied = p->ndeny ? p->deny : NULL;
    fflush(stdout);
    fflush(stderr);
    vmrt_sandbox_report_t rep;
    memset(&rep, 0, sizeof rep);
    int err = vmrt_runtime_run_sandboxed(cfg, run_vm, job, &rep);
    if (err && rep.reason != VMRT_END_SETUP_FAILED)
        die("run: sandbox: %s", vmrt_sandbox_error() ? vmrt_sandbox_error() : vmrt_strerror(err));
    if (err) /* the sandbox could not be made: say why, report it, exit 125 */
        fprintf(stderr, "vmrt: run: sandbox: %s\n",
                vmrt_sandbox_error()[0] ? vmrt_sandbox_error() : vmrt_strerror(err));
    if (job->plan->stats || err) {
        FILE *out = err ? stderr : stdout; /* a failure's report goes with its message */
        fputs("--- sandbox report ---\n", out);
        print_sandbox_report(job->plan->stats == 2, &rep, out);
    }
    if (rep.reason == VMRT_END_EXITED)
        return rep.exit_code;
    fprintf(stderr, "vmrt: run: the VM ended: %s\n", vmrt_end_reason_name(rep.reason));
    return sandbox_end_status(&rep);
}

/* ---- isolation none -----------------------------------------------------------------------------
 *
 * No sandbox: the VM is this process. The wall time and the CPU time are
 * supervised by a watchdog thread (it ends the process with the codes of a
 * sandbox's limit kills, 243 and 242); limits.memory and limits.cpus /
 * cpu_quota become in-process caps of the runtime (the GC heap limit and the
 * vCPU count); every other limit cannot be enforced here and is reported as
 * a downgrade (an error with --strict). */

typedef struct watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    uint64_t t0, wall_ns, cpu_ns;
} watchdog_t;

static _Noreturn void limit_exit(vmrt_end_reason_t why)
{
    /* The guest may be writing: flush what it wrote only if nobody holds
     * stdout, then end at once (as a sandbox's kill would). */
    if (ftrylockfile(stdout) == 0) {
        fflush_unlocked(stdout);
        funlockfile(stdout);
    }
    char msg[96];
    int n = snprintf(msg, sizeof msg, "vmrt: run: the VM ended: %s\n", vmrt_end_reason_name(why));
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
        n = 0;
    vmrt_sandbox_report_t r = {.reason = why};
    _exit(sandbox_end_status(&r));
}

static uint64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Checks both clocks every 10 ms (the limits' resolution). */
static void *watchdog_main(void *arg)
{
    watchdog_t *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        struct timespec ts = timespec_in(CLOCK_MONOTONIC, 10000000);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->done)
            break;
        if (w->wall_ns && vmrt_now_ns() - w->t0 >= w->wall_ns)
            limit_exit(VMRT_END_WALL_TIME_LIMIT);
        if (w->cpu_ns && process_cpu_ns() >= w->cpu_ns)
            limit_exit(VMRT_END_CPU_TIME_LIMIT);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static bool watchdog_start(watchdog_t *w, const vmrt_limits_t *l)
{
    memset(w, 0, sizeof *w);
    w->wall_ns = l->max_wall_time_ns;
    w->cpu_ns = l->max_cpu_time_ns;
    if (!w->wall_ns && !w->cpu_ns)
        return false;
    w->t0 = vmrt_now_ns();
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mu, NULL);
    int err = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (err) {
        errno = err;
        die_errno("run: cannot start the wall/CPU time watchdog");
    }
    return true;
}

static void watchdog_stop(watchdog_t *w)
{
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

/* One line per limit that isolation none cannot enforce as asked; returns
 * how many. strict: they are errors. */
static unsigned report_downgrades(const vmrt_runtime_config_t *cfg)
{
    const vmrt_limits_t *l = &cfg->limits;
    bool strict = cfg->sandbox.strict;
    const char *what = strict ? "error" : "downgrade";
    unsigned n = 0;
    char buf[160];
#define NOTE(...)                                                                                  \
    do {                                                                                           \
        snprintf(buf, sizeof buf, __VA_ARGS__);                                                    \
        fprintf(stderr, "vmrt: run: %s: isolation none: %s\n", what, buf);                         \
        n++;                                                                                       \
    } while (0)
    vmrt_runtime_config_t eff = *cfg; /* what vmrt_runtime_new will run with */
    vmrt_runtime_config_apply_limits(&eff);
    if (l->max_memory)
        NOTE("limits.memory (--memory): the process is not capped; the GC heap limit is %llu "
             "bytes (%s)",
             (unsigned long long)eff.gc.max_heap,
             cfg->gc.max_heap ? "gc.heap_max" : "3/4 of the memory limit");
    if (l->vcpus || l->cpu_quota > 0)
        NOTE("limits.cpus/cpu_quota (--cpus/--cpu-quota): no cpuset or quota; the vCPU count "
             "is %u instead",
             eff.sched.vcpus);
    const struct {
        uint64_t value;
        const char *name;
    } plain[] = {
        {l->max_processes, "limits.procs (--max-procs)"},
        {l->max_open_files, "limits.files (--max-files)"},
        {l->max_file_size, "limits.file_size (--max-file-size)"},
        {l->max_disk_io, "limits.disk_io (--max-disk-io)"},
        {l->max_network_bandwidth, "limits.net_bw (--max-net-bw)"},
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (plain[i].value)
            NOTE("%s: not enforced (needs --isolation process or higher)", plain[i].name);
    if (cfg->sandbox.net == VMRT_NET_NONE || cfg->sandbox.net == VMRT_NET_LOOPBACK)
        NOTE("sandbox.net (--net): the VM shares the host's network (needs --isolation "
             "container)");
    if (cfg->seccomp_profile[0])
        NOTE("sandbox.seccomp (--seccomp): no syscall filter (needs --isolation process or "
             "higher)");
#undef NOTE
    return n;
}

static int run_unsandboxed(vm_job_t *job)
{
    if (report_downgrades(&job->cfg) && job->cfg.sandbox.strict)
        die("run: --strict: the limits above cannot be enforced at isolation none");
    watchdog_t w;
    bool watching = watchdog_start(&w, &job->cfg.limits);
    int code = run_vm(job);
    if (watching)
        watchdog_stop(&w);
    return code;
}

int cmd_run(int argc, char **argv)
{
    static plan_t p;
    memset(&p, 0, sizeof p);
    parse(argc, argv, &p);
    static vm_job_t job;
    job.plan = &p;
    build_config(&p, &job.cfg);
    /* Load and verify the program here, before any sandbox: a container's
     * new root need not contain it, and bad programs fail fast. */
    if (p.program) {
        int code = vmrt_guest_load_file(p.program, &p.prog, stderr);
        if (code)
            return code;
    }
    if (job.cfg.sandbox.isolation_level == VMRT_ISOLATION_NONE) {
        if (p.nro || p.nrw || p.nallow || p.ndeny)
            die_usage("run: --ro, --rw, --allow-syscall and --deny-syscall need --isolation "
                      "process, container or full");
        return run_unsandboxed(&job);
    }
    return run_sandboxed(&job, &p);
}
