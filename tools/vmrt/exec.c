/* vmrt exec — run a native command inside a SandboxedVm and report why and
 * how it ended.
 *
 * Options are parsed from a table into a plan (the sandbox configuration),
 * then the plan is executed. A bad value names its option and exits 2; a
 * failure while the sandbox is created (vmrt_sandbox_new) exits 125 with
 * the report written as for any other end.
 *
 * Exit status: the guest's exit code; 128+N when it died of signal N; and
 * for the sandbox's own verdicts (chosen above the 128+signal range):
 *   125 set-up failed, 126 command not executable, 127 command not found,
 *   240 out of memory, 241 seccomp violation, 242 CPU time, 243 wall time,
 *   244 disk I/O, 245 process limit, 246 file size, 247 killed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmrt/vmrt.h>

#include "cli.h"

#define MAX_LIST 32

typedef struct exec_opts {
    vmrt_sandbox_config_t cfg;
    vmrt_limits_t lim;
    const char *ro[MAX_LIST + 1], *rw[MAX_LIST + 1];
    const char *allow[MAX_LIST + 1], *deny[MAX_LIST + 1];
    unsigned n_ro, n_rw, n_allow, n_deny;
    bool json;
    const char *report_file;
    FILE *report_out; /* report_file, opened before the sandbox is made */
} exec_opts_t;

typedef void (*opt_fn)(exec_opts_t *o, const char *name, const char *val);

static void push(const char **list, unsigned *n, const char *name, const char *val)
{
    if (*n == MAX_LIST)
        die_usage("%s: at most %d times", name, MAX_LIST);
    list[(*n)++] = val;
}

static uint64_t size_of(const char *name, const char *val)
{
    uint64_t v;
    if (parse_size(val, &v) != 0 || v == 0)
        die_usage("%s: invalid size '%s' (e.g. 512K, 64M, 2G)", name, val);
    return v;
}

static uint64_t secs_of(const char *name, const char *val)
{
    uint64_t v;
    if (parse_duration(val, &v) != 0 || v == 0)
        die_usage("%s: invalid duration '%s' (seconds, or with ms/s/m)", name, val);
    return v;
}

static uint64_t count_of(const char *name, const char *val)
{
    uint64_t v;
    if (parse_uint(val, 1, 1u << 30, &v) != 0)
        die_usage("%s: invalid count '%s' (a positive integer)", name, val);
    return v;
}

static void o_isolation(exec_opts_t *o, const char *name, const char *val)
{
    if (vmrt_isolation_parse(val, &o->cfg.isolation_level) != 0)
        die_usage("%s: '%s' is not one of none, process, container, full", name, val);
}

static void o_memory(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_memory = size_of(name, val);
}

static void o_cpu_time(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_cpu_time_ns = secs_of(name, val);
}

static void o_wall_time(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_wall_time_ns = secs_of(name, val);
}

/* --cpus N: N CPUs' worth of time; an integer N also pins to N CPUs. */
static void o_cpus(exec_opts_t *o, const char *name, const char *val)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !(v > 0) || v > 4096)
        die_usage("%s: invalid CPU count '%s' (e.g. 1, 2, 0.5)", name, val);
    o->lim.cpu_quota = v;
    if (v == floor(v))
        o->lim.vcpus = (uint32_t)v;
}

static void o_procs(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_processes = count_of(name, val);
}

static void o_files(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_open_files = count_of(name, val);
}

static void o_file_size(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_file_size = size_of(name, val);
}

static void o_disk_io(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_disk_io = size_of(name, val);
}

static void o_disk_bw(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_disk_bw = size_of(name, val);
}

static void o_net_bw(exec_opts_t *o, const char *name, const char *val)
{
    o->lim.max_network_bandwidth = size_of(name, val);
}

static void o_net(exec_opts_t *o, const char *name, const char *val)
{
    static const char *const modes[] = {"none", "loopback", "host"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(val, modes[i])) {
            o->cfg.net = (vmrt_net_mode_t)(VMRT_NET_NONE + i);
            return;
        }
    die_usage("%s: '%s' is not one of none, loopback, host", name, val);
}

static void o_ro(exec_opts_t *o, const char *name, const char *val)
{
    push(o->ro, &o->n_ro, name, val);
}

static void o_rw(exec_opts_t *o, const char *name, const char *val)
{
    push(o->rw, &o->n_rw, name, val);
}

static void o_seccomp(exec_opts_t *o, const char *name, const char *val)
{
    if (!*val)
        die_usage("%s: expects default, strict, none or a profile file", name);
    o->cfg.filter.profile = val;
    if (!strcmp(val, "none") && o->n_allow + o->n_deny == 0)
        o->cfg.enable_seccomp = false;
}

static void o_allow(exec_opts_t *o, const char *name, const char *val)
{
    push(o->allow, &o->n_allow, name, val);
}

static void o_deny(exec_opts_t *o, const char *name, const char *val)
{
    push(o->deny, &o->n_deny, name, val);
}

static void o_report(exec_opts_t *o, const char *name, const char *val)
{
    if (strcmp(val, "text") && strcmp(val, "json"))
        die_usage("%s: '%s' is not one of text, json", name, val);
    o->json = !strcmp(val, "json");
}

static void o_report_file(exec_opts_t *o, const char *name, const char *val)
{
    if (!*val)
        die_usage("%s: empty path", name);
    o->report_file = val;
}

static const struct {
    const char *name;
    opt_fn fn; /* NULL: a flag */
    const char *help;
} options[] = {
    {"--isolation", o_isolation, "none|process|container|full (default process)"},
    {"--memory", o_memory, "SIZE  memory limit (cgroup; K/M/G)"},
    {"--cpu-time", o_cpu_time, "SEC   CPU time of the whole tree"},
    {"--wall-time", o_wall_time, "SEC   wall-clock timeout"},
    {"--cpus", o_cpus, "N     CPU quota (and cpuset when N is whole)"},
    {"--max-procs", o_procs, "N     processes at once"},
    {"--max-files", o_files, "N     open files per process"},
    {"--max-file-size", o_file_size, "SIZE  largest file written"},
    {"--max-disk-io", o_disk_io, "BYTES storage bytes read+written"},
    {"--disk-bw", o_disk_bw, "RATE  disk bytes/s read and written (io.max/blkio)"},
    {"--max-net-bw", o_net_bw, "RATE  network bytes per second"},
    {"--net", o_net, "none|loopback|host (container default none)"},
    {"--ro", o_ro, "PATH  bind a host path read-only (container, full)"},
    {"--rw", o_rw, "PATH  bind a host path read-write"},
    {"--seccomp", o_seccomp, "default|strict|none|FILE (Docker/OCI JSON)"},
    {"--allow-syscall", o_allow, "NAME  allow on top of the profile"},
    {"--deny-syscall", o_deny, "NAME  deny (kill and report) on top of the profile"},
    {"--strict", NULL, "      a limit the host cannot enforce is an error"},
    {"--report", o_report, "text|json (default text, on stderr)"},
    {"--report-file", o_report_file, "PATH  write the report there"},
};

static void usage(void)
{
    puts("Usage: vmrt exec [OPTIONS] -- CMD [ARGS]\n\n"
         "Runs CMD in a sandbox and reports why and how it ended.\n\nOptions:");
    for (size_t i = 0; i < sizeof options / sizeof options[0]; i++)
        printf("  %-16s %s\n", options[i].name, options[i].help);
    puts("\nExit status: CMD's, 128+N for signal N, 125 set-up failed, 126/127 not\n"
         "executable/not found, 240 out of memory, 241 seccomp violation, 242 CPU time,\n"
         "243 wall time, 244 disk I/O, 245 processes, 246 file size, 247 killed.");
}

/* Parses argv into o; returns the index of CMD. */
static int parse(exec_opts_t *o, int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            return i + 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage();
            exit(VMRT_EXIT_OK);
        }
        if (strncmp(a, "--", 2) != 0)
            return i; /* CMD without "--" */
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        size_t k = 0;
        while (k < sizeof options / sizeof options[0] &&
               (strlen(options[k].name) != len || strncmp(options[k].name, a, len)))
            k++;
        if (k == sizeof options / sizeof options[0])
            die_usage("exec: unknown option '%.*s'", (int)len, a);
        if (!options[k].fn) {
            if (eq)
                die_usage("%s: takes no value", options[k].name);
            o->cfg.strict = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val)
            die_usage("%s: missing value", options[k].name);
        options[k].fn(o, options[k].name, val);
    }
    return i;
}

/* Writes the report to --report-file (opened up front) or stderr. A report
 * file that cannot be written at the end gets an error message and the
 * report on stderr instead: the exit status stays the guest's. */
static void write_report(exec_opts_t *o, const vmrt_sandbox_report_t *r)
{
    if (!o->report_out) {
        if (print_sandbox_report(o->json, r, stderr) != 0)
            fprintf(stderr, "vmrt: exec: cannot format the report\n");
        return;
    }
    int err = print_sandbox_report(o->json, r, o->report_out);
    if (fclose(o->report_out) != 0 && !err)
        err = -errno;
    o->report_out = NULL;
    if (err) {
        fprintf(stderr, "vmrt: exec: --report-file %s: cannot write: %s; the report follows\n",
                o->report_file, strerror(-err));
        print_sandbox_report(o->json, r, stderr);
    }
}

int cmd_exec(int argc, char **argv)
{
    exec_opts_t o;
    memset(&o, 0, sizeof o);
    vmrt_sandbox_config_init(&o.cfg);
    vmrt_limits_init(&o.lim);
    int cmd = parse(&o, argc, argv);
    if (cmd >= argc)
        die_usage("exec: no command (vmrt exec [OPTIONS] -- CMD [ARGS])");
    /* Opened before anything runs: a report file that cannot be created is a
     * set-up failure (125), not a surprise after the guest has run. */
    if (o.report_file && !(o.report_out = fopen(o.report_file, "we"))) {
        fprintf(stderr, "vmrt: exec: --report-file %s: cannot open: %s\n", o.report_file,
                strerror(errno));
        return 125;
    }
    o.cfg.ro_paths = o.ro;
    o.cfg.rw_paths = o.rw;
    o.cfg.filter.allowed = o.allow;
    o.cfg.filter.denied = o.deny;
    if (o.n_allow + o.n_deny)
        o.cfg.enable_seccomp = true;
    vmrt_sandbox_t *sb;
    int err = vmrt_sandbox_new(&sb, &o.cfg, &o.lim);
    if (err) {
        /* The options parsed: what failed is the sandbox's set-up (a value
         * the host cannot take, a missing path, a strict downgrade). */
        const char *detail = vmrt_sandbox_error();
        fprintf(stderr, "vmrt: exec: %s\n", *detail ? detail : vmrt_strerror(err));
        vmrt_sandbox_report_t r;
        if (vmrt_sandbox_failure_report(&r) == 0)
            write_report(&o, &r);
        return 125;
    }
    err = vmrt_sandbox_exec(sb, argv + cmd, NULL);
    if (err && vmrt_sandbox_pid(sb) < 0)
        fprintf(stderr, "vmrt: exec: %s\n", vmrt_sandbox_error());
    vmrt_sandbox_report_t r;
    vmrt_sandbox_wait(sb, &r);
    if (r.reason == VMRT_END_SETUP_FAILED && !strcmp(r.setup_step, "execve"))
        fprintf(stderr, "vmrt: exec: %s: %s\n", argv[cmd], strerror(r.setup_errno));
    write_report(&o, &r);
    vmrt_sandbox_free(sb);
    return sandbox_end_status(&r);
}
