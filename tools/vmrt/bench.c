/* vmrt bench — runs benchmark programs and their peers side by side.
 *
 * Every case is a pair of commands (ours, a peer) that each print one number
 * on stdout: the measurement in the case's unit (lower is better). They run
 * alternately, A B A B ..., so that drift on a noisy machine hits both; the
 * report gives medians, min/max, and the median of the per-pair ratios.
 *
 * The programs live in the bench directory: $VMRT_BENCH_DIR, else the build
 * tree's bench/ (when running from a build), else the installed libexecdir.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define MAX_ARGS  8
#define MAX_PEERS 3
#define MAX_REPS  101

typedef struct bench_cmd {
    const char *name; /* peer name; "vmrt" for ours */
    const char
        *argv[MAX_ARGS]; /* program (relative to the bench dir) and args; "@N" = iterations */
} bench_cmd_t;

typedef struct bench_case {
    const char *suite;
    const char *bench;
    const char *unit;
    const char *iters;       /* full run */
    const char *iters_quick; /* --quick */
    bench_cmd_t ours;
    bench_cmd_t peers[MAX_PEERS];
} bench_case_t;

static const bench_case_t cases[] = {
    {"coro",
     "switch",
     "ns",
     "20000000",
     "2000000",
     {"vmrt", {"vmrt-bench-coro", "switch", "@N"}},
     {{"boost.context", {"peer-boost-context", "switch", "@N"}},
      {"swapcontext", {"vmrt-bench-coro", "swapcontext", "@N"}}}},
    {"coro",
     "create_pooled",
     "ns",
     "2000000",
     "200000",
     {"vmrt", {"vmrt-bench-coro", "create_pooled", "@N"}},
     {{"boost.context", {"peer-boost-context", "create", "@N"}}}},
    {"coro",
     "create_unpooled",
     "ns",
     "200000",
     "20000",
     {"vmrt", {"vmrt-bench-coro", "create_unpooled", "@N"}},
     {{"boost.context", {"peer-boost-context", "create", "@N"}}}},
    /* sandbox: start-up + tear-down of /bin/true (us), syscall cost (ns) */
    {"sandbox",
     "start_container",
     "us",
     "200",
     "40",
     {"vmrt", {"vmrt-bench-sandbox", "container", "@N"}},
     {{"bwrap", {"peer-sandbox", "bwrap-container", "@N"}},
      {"crun", {"peer-sandbox", "crun", "@N"}},
      {"firejail", {"peer-sandbox", "firejail", "@N"}}}},
    {"sandbox",
     "start_container_hostnet",
     "us",
     "200",
     "40",
     {"vmrt", {"vmrt-bench-sandbox", "container-hostnet", "@N"}},
     {{"bwrap", {"peer-sandbox", "bwrap-hostnet", "@N"}},
      {"fork+exec", {"peer-sandbox", "fork-exec", "@N"}}}},
    {"sandbox",
     "start_process",
     "us",
     "200",
     "40",
     {"vmrt", {"vmrt-bench-sandbox", "process", "@N"}},
     {{"fork+exec", {"peer-sandbox", "fork-exec", "@N"}}}},
    {"sandbox",
     "start_full",
     "us",
     "200",
     "40",
     {"vmrt", {"vmrt-bench-sandbox", "full", "@N"}},
     {{"bwrap", {"peer-sandbox", "bwrap-full", "@N"}}}},
    {"sandbox",
     "syscall_default",
     "ns",
     "2000000",
     "200000",
     {"vmrt", {"vmrt-bench-sandbox", "syscall-default", "@N"}},
     {{"no filter", {"vmrt-bench-sandbox", "syscall-none", "@N"}}}},
    {"sandbox",
     "syscall_strict",
     "ns",
     "2000000",
     "200000",
     {"vmrt", {"vmrt-bench-sandbox", "syscall-strict", "@N"}},
     {{"no filter", {"vmrt-bench-sandbox", "syscall-none", "@N"}}}},
    {"sandbox",
     "ioctl_default",
     "ns",
     "2000000",
     "200000",
     {"vmrt", {"vmrt-bench-sandbox", "ioctl-default", "@N"}},
     {{"no filter", {"vmrt-bench-sandbox", "ioctl-none", "@N"}}}},
};

typedef struct options {
    const char *suite;
    bool quick;
    bool json;
    unsigned reps;
    const char *dir;
} options_t;

static const char *bench_dir(void)
{
    const char *env = getenv("VMRT_BENCH_DIR");
    if (env && *env)
        return env;
    struct stat st;
    if (stat(VMRT_BENCH_BUILD_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return VMRT_BENCH_BUILD_DIR;
    return VMRT_LIBEXECDIR;
}

/* Runs one command and parses the number it prints. Returns 0 or -1. */
static int run_once(const options_t *o, const bench_cmd_t *cmd, const char *iters, double *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->dir, cmd->argv[0]);
    const char *argv[MAX_ARGS + 1] = {path};
    for (int i = 1; i < MAX_ARGS && cmd->argv[i]; i++)
        argv[i] = strcmp(cmd->argv[i], "@N") ? cmd->argv[i] : iters;
    int pfd[2];
    if (pipe(pfd) != 0)
        die_errno("bench: pipe");
    pid_t pid = fork();
    if (pid < 0)
        die_errno("bench: fork");
    if (pid == 0) {
        dup2(pfd[1], STDOUT_FILENO);
        close(pfd[0]);
        close(pfd[1]);
        execv(path, (char *const *)argv);
        fprintf(stderr, "vmrt: bench: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    char buf[256];
    size_t n = 0;
    ssize_t r;
    while ((r = read(pfd[0], buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)r;
    close(pfd[0]);
    buf[n] = '\0';
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    char *end;
    *out = strtod(buf, &end);
    return end == buf ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool suite_selected(const options_t *o, const char *suite)
{
    return !strcmp(o->suite, "all") || !strcmp(o->suite, suite);
}

static unsigned run_case(const options_t *o, const bench_case_t *c)
{
    const char *iters = o->quick ? c->iters_quick : c->iters;
    unsigned failures = 0;
    for (int p = 0; p < MAX_PEERS && c->peers[p].name; p++) {
        const bench_cmd_t *peer = &c->peers[p];
        double ours[MAX_REPS] = {0}, theirs[MAX_REPS] = {0}, ratio[MAX_REPS] = {0};
        unsigned n = 0;
        bool missing = false;
        for (unsigned k = 0; k < o->reps; k++) {
            double a, b;
            if (run_once(o, &c->ours, iters, &a) != 0) {
                fprintf(stderr, "vmrt: bench: %s/%s: our program failed\n", c->suite, c->bench);
                return failures + 1;
            }
            if (run_once(o, peer, iters, &b) != 0) {
                missing = true;
                break;
            }
            ours[n] = a;
            theirs[n] = b;
            ratio[n] = b > 0 ? a / b : NAN;
            n++;
        }
        if (missing || n == 0) {
            fprintf(stderr,
                    "vmrt: bench: %s/%s: peer '%s' is missing or failed (%s/%s); run 'make deps' "
                    "(installs it from Debian) and 'make' to build it\n",
                    c->suite, c->bench, peer->name, o->dir, peer->argv[0]);
            failures++;
            continue;
        }
        double lo_o = ours[0], hi_o = ours[0], lo_t = theirs[0], hi_t = theirs[0];
        for (unsigned k = 1; k < n; k++) {
            lo_o = fmin(lo_o, ours[k]);
            hi_o = fmax(hi_o, ours[k]);
            lo_t = fmin(lo_t, theirs[k]);
            hi_t = fmax(hi_t, theirs[k]);
        }
        double mo = median(ours, n), mt = median(theirs, n), mr = median(ratio, n);
        if (o->json)
            printf(
                "{\"suite\":\"%s\",\"bench\":\"%s\",\"unit\":\"%s\",\"ours\":%.4g,\"peer\":\"%s\","
                "\"theirs\":%.4g,\"ratio\":%.3f,\"runs\":%u,\"ours_min\":%.4g,\"ours_max\":%.4g,"
                "\"theirs_min\":%.4g,\"theirs_max\":%.4g}\n",
                c->suite, c->bench, c->unit, mo, peer->name, mt, mr, n, lo_o, hi_o, lo_t, hi_t);
        else
            printf("%-6s %-18s %-4s %10.4g [%8.4g..%-8.4g]  %-14s %10.4g [%8.4g..%-8.4g]  %7.3f\n",
                   c->suite, c->bench, c->unit, mo, lo_o, hi_o, peer->name, mt, lo_t, hi_t, mr);
        fflush(stdout);
    }
    return failures;
}

static void usage(FILE *f)
{
    fputs("Usage: vmrt bench [coro|sched|gc|sandbox|all] [--quick] [--json] [--reps N]\n"
          "\n"
          "Runs each benchmark and its peers alternately (A B A B ...) and prints medians,\n"
          "min..max, and the median of the per-run ratios ours/theirs (lower is better).\n"
          "  --quick    fewer iterations and runs\n"
          "  --json     one JSON object per line\n"
          "  --reps N   runs of each side (default 7, quick 5; 1..101)\n",
          f);
}

int cmd_bench(int argc, char **argv)
{
    options_t o = {.suite = "all", .reps = 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return VMRT_EXIT_OK;
        } else if (!strcmp(a, "--quick")) {
            o.quick = true;
        } else if (!strcmp(a, "--json")) {
            o.json = true;
        } else if (!strcmp(a, "--reps")) {
            uint64_t v;
            if (i + 1 >= argc || parse_uint(argv[++i], 1, MAX_REPS, &v) != 0)
                die_usage("bench: --reps needs a number from 1 to %d", MAX_REPS);
            o.reps = (unsigned)v;
        } else if (a[0] == '-') {
            die_usage("bench: unknown option '%s'", a);
        } else if (!strcmp(a, "coro") || !strcmp(a, "sched") || !strcmp(a, "gc") ||
                   !strcmp(a, "sandbox") || !strcmp(a, "all")) {
            o.suite = a;
        } else {
            die_usage("bench: unknown suite '%s' (coro, sched, gc, sandbox, all)", a);
        }
    }
    if (!o.reps)
        o.reps = o.quick ? 5 : 7;
    o.dir = bench_dir();
    if (!o.json)
        printf("%-6s %-18s %-4s %10s %-20s  %-14s %10s %-20s  %7s\n", "suite", "bench", "unit",
               "vmrt", " [min..max]", "peer", "peer", " [min..max]", "ratio");
    unsigned failures = 0, ran = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!suite_selected(&o, cases[i].suite))
            continue;
        ran++;
        failures += run_case(&o, &cases[i]);
    }
    if (!ran)
        fprintf(stderr, "vmrt: bench: suite '%s' has no benchmarks yet\n", o.suite);
    return failures ? VMRT_EXIT_FAILURE : VMRT_EXIT_OK;
}
