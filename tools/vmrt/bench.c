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
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmrt/sched.h>

#include "cli.h"

#define MAX_ARGS  8
#define MAX_PEERS 5
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
    unsigned est_ms; /* rough duration of one full run of one side; 0 = 1000 */
} bench_case_t;

/* Rows may omit est_ms (trailing field). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
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
    /* gc: GCBench (N = max tree depth; Boehm's original is 16) and binary-trees
     * (N = max depth), vs bdwgc, glibc malloc/free and Go (bench/gc, bench/peers). */
    {"gc",
     "gcbench",
     "ms",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "time", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "gcbench", "time", "@N"}},
      {"malloc", {"peer-gc-malloc", "gcbench", "time", "@N"}},
      {"go", {"peer-gc-go", "gcbench", "time", "@N"}}}},
    {"gc",
     "gcbench_rss",
     "KiB",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "rss", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "gcbench", "rss", "@N"}},
      {"malloc", {"peer-gc-malloc", "gcbench", "rss", "@N"}},
      {"go", {"peer-gc-go", "gcbench", "rss", "@N"}}}},
    /* Issue #4's memory target: peak RSS / live data (the largest live-bytes
     * figure after any full cycle), at the default target, against the same
     * program at the collector's former default (no generations, gogc 100). */
    {"gc",
     "gcbench_rss_live",
     "x",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "rss_live", "@N"}},
     {{"vmrt-gogc100", {"vmrt-bench-gc", "gcbench", "rss_live", "@N", "gogc100-full"}}}},
    {"gc",
     "gcbench_pause_max",
     "us",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "pause_max", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "gcbench", "pause_max", "@N", "stw"}},
      {"go", {"peer-gc-go", "gcbench", "pause_max", "@N"}}}},
    {"gc",
     "gcbench_pause_p99",
     "us",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "pause_p99", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "gcbench", "pause_p99", "@N", "stw"}},
      {"go", {"peer-gc-go", "gcbench", "pause_p99", "@N"}}}},
    {"gc",
     "gcbench_inc_p99",
     "us",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "pause_p99", "@N", "inc"}},
     {{"bdwgc", {"peer-gc-bdwgc", "gcbench", "pause_p99", "@N", "inc"}},
      {"go", {"peer-gc-go", "gcbench", "pause_p99", "@N"}}}},
    {"gc",
     "gcbench_inc_ms",
     "ms",
     "16",
     "14",
     {"vmrt", {"vmrt-bench-gc", "gcbench", "time", "@N", "inc"}},
     {{"bdwgc", {"peer-gc-bdwgc", "gcbench", "time", "@N", "inc"}},
      {"go", {"peer-gc-go", "gcbench", "time", "@N"}}}},
    {"gc",
     "binarytrees",
     "ms",
     "18",
     "16",
     {"vmrt", {"vmrt-bench-gc", "binarytrees", "time", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "binarytrees", "time", "@N"}},
      {"malloc", {"peer-gc-malloc", "binarytrees", "time", "@N"}},
      {"go", {"peer-gc-go", "binarytrees", "time", "@N"}}}},
    {"gc",
     "binarytrees_rss",
     "KiB",
     "18",
     "16",
     {"vmrt", {"vmrt-bench-gc", "binarytrees", "rss", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "binarytrees", "rss", "@N"}},
      {"malloc", {"peer-gc-malloc", "binarytrees", "rss", "@N"}},
      {"go", {"peer-gc-go", "binarytrees", "rss", "@N"}}}},
    {"gc",
     "binarytrees_rss_live",
     "x",
     "18",
     "16",
     {"vmrt", {"vmrt-bench-gc", "binarytrees", "rss_live", "@N"}},
     {{"vmrt-gogc100", {"vmrt-bench-gc", "binarytrees", "rss_live", "@N", "gogc100-full"}}}},
    {"gc",
     "binarytrees_pause_max",
     "us",
     "18",
     "16",
     {"vmrt", {"vmrt-bench-gc", "binarytrees", "pause_max", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "binarytrees", "pause_max", "@N", "stw"}},
      {"go", {"peer-gc-go", "binarytrees", "pause_max", "@N"}}}},
    {"gc",
     "binarytrees_p99",
     "us",
     "18",
     "16",
     {"vmrt", {"vmrt-bench-gc", "binarytrees", "pause_p99", "@N"}},
     {{"bdwgc", {"peer-gc-bdwgc", "binarytrees", "pause_p99", "@N", "stw"}},
      {"go", {"peer-gc-go", "binarytrees", "pause_p99", "@N"}}}},
    /* Pauses over a large live heap in incremental mode: N MiB live (512; the
     * --quick run uses 64 MiB, so its figure is not the 500 MB target's). */
    {"gc",
     "bigheap_inc_p99",
     "us",
     "512",
     "64",
     {"vmrt", {"vmrt-bench-gc", "bigheap", "pause_p99", "@N", "inc"}},
     {{"bdwgc", {"peer-gc-bdwgc", "bigheap", "pause_p99", "@N", "inc"}},
      {"go", {"peer-gc-go", "bigheap", "pause_p99", "@N"}}},
     2500},
    {"sched",
     "skynet",
     "ms",
     "1000000",
     "100000",
     {"vmrt", {"vmrt-bench-sched", "skynet", "@N"}},
     {{"go", {"peer-go-sched", "skynet", "@N"}}},
     1500},
    {"sched",
     "pingpong_same",
     "ns",
     "1000000",
     "100000",
     {"vmrt", {"vmrt-bench-sched", "pingpong_same", "@N"}},
     {{"go", {"peer-go-sched", "pingpong_same", "@N"}}},
     800},
    {"sched",
     "pingpong_cross",
     "ns",
     "200000",
     "20000",
     {"vmrt", {"vmrt-bench-sched", "pingpong_cross", "@N"}},
     {{"go", {"peer-go-sched", "pingpong_cross", "@N"}}},
     3000},
    {"sched",
     "ring",
     "ns",
     "10000000",
     "1000000",
     {"vmrt", {"vmrt-bench-sched", "ring", "@N"}},
     {{"go", {"peer-go-sched", "ring", "@N"}}},
     3000},
    {"sched",
     "fib_1",
     "ms",
     "30",
     "27",
     {"vmrt", {"vmrt-bench-sched", "fib_1", "@N"}},
     {{"go", {"peer-go-sched", "fib_1", "@N"}}},
     1500},
    {"sched",
     "fib_all",
     "ms",
     "30",
     "27",
     {"vmrt", {"vmrt-bench-sched", "fib_all", "@N"}},
     {{"go", {"peer-go-sched", "fib_all", "@N"}}},
     1000},
    {"sched",
     "yield",
     "ns",
     "10000000",
     "1000000",
     {"vmrt", {"vmrt-bench-sched", "yield", "@N"}},
     {{"go", {"peer-go-sched", "yield", "@N"}}},
     1000},
    {"sched",
     "latency_p50",
     "us",
     "1000",
     "200",
     {"vmrt", {"vmrt-bench-sched", "latency_p50", "@N"}},
     {{"go", {"peer-go-sched", "latency_p50", "@N"}}},
     2000},
    {"sched",
     "latency_p99",
     "us",
     "1000",
     "200",
     {"vmrt", {"vmrt-bench-sched", "latency_p99", "@N"}},
     {{"go", {"peer-go-sched", "latency_p99", "@N"}}},
     2000},
    /* sandbox: start-up + tear-down of /bin/true (us), syscall cost (ns) */
    {"sandbox",
     "start_container",
     "us",
     "200",
     "40",
     {"vmrt", {"vmrt-bench-sandbox", "container", "@N"}},
     {{"bwrap", {"peer-sandbox", "bwrap-container", "@N"}},
      {"crun", {"peer-sandbox", "crun", "@N"}},
      {"firejail", {"peer-sandbox", "firejail", "@N"}},
      {"fork+exec", {"peer-sandbox", "fork-exec", "@N"}},
      {"namespaces only", {"peer-ns-floor", "@N"}}}},
    {"sandbox",
     "start_container_api",
     "us",
     "200",
     "40",
     {"vmrt", {"vmrt-bench-sandbox", "container-api", "@N"}},
     {{"bwrap", {"peer-sandbox", "bwrap-container", "@N"}},
      {"namespaces only", {"peer-ns-floor", "@N"}}}},
    {"sandbox",
     "start_container_cold",
     "us",
     "40",
     "15",
     {"vmrt", {"vmrt-bench-sandbox", "container-cold", "@N"}},
     {{"bwrap", {"peer-sandbox", "bwrap-container-cold", "@N"}}}},
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
     "start_process_cold",
     "us",
     "40",
     "15",
     {"vmrt", {"vmrt-bench-sandbox", "process-cold", "@N"}},
     {{"fork+exec", {"peer-sandbox", "fork-exec-cold", "@N"}}}},
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
#pragma GCC diagnostic pop

#define N_SUITES 4
static const char *const all_suites[N_SUITES] = {"coro", "gc", "sched",
                                                 "sandbox"}; /* table order */

typedef struct options {
    const char *suites[N_SUITES]; /* in the order given, each once */
    unsigned n_suites;
    char suite_names[64]; /* "sched gc", for messages */
    bool quick;
    bool json;
    unsigned reps;
    const char *dir;
    const char *plot_dir;
    bool progress; /* stderr is a terminal */
} options_t;

/* One measured pair, kept for the plots. */
typedef struct result {
    const bench_case_t *c;
    const char *peer;
    double ours, theirs, ratio;
    double ours_lo, ours_hi, theirs_lo, theirs_hi;
    unsigned runs;
} result_t;

static result_t results[64];
static unsigned n_results;
static uint64_t t_start_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

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

/* Finds a bench program: DIR/PROG (installed, flat) or DIR/ * /PROG (build tree). */
static void find_program(const char *dir, const char *prog, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, prog);
    if (access(path, X_OK) == 0)
        return;
    char pattern[4096];
    for (int depth = 0; depth < 2; depth++) {
        snprintf(pattern, sizeof pattern, depth ? "%s/*/*/%s" : "%s/*/%s", dir, prog);
        glob_t g;
        int found = glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0;
        if (found)
            snprintf(path, cap, "%s", g.gl_pathv[0]);
        globfree(&g);
        if (found)
            return;
    }
}

/* Runs one command and parses the number it prints. Returns 0 or -1. */
static int run_once(const options_t *o, const bench_cmd_t *cmd, const char *iters, double *out)
{
    char path[4096];
    find_program(o->dir, cmd->argv[0], path, sizeof path);
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
    for (unsigned i = 0; i < o->n_suites; i++)
        if (!strcmp(o->suites[i], suite))
            return true;
    return false;
}

static void progress(const options_t *o, const bench_case_t *c, const char *peer, unsigned k)
{
    if (!o->progress)
        return;
    double el = (double)(now_ns() - t_start_ns) / 1e9;
    fprintf(stderr, "\r\033[K[%s] %s vs %s: run %u/%u  (%.0f s elapsed)", c->suite, c->bench, peer,
            k + 1, o->reps, el);
}

static void progress_clear(const options_t *o)
{
    if (o->progress)
        fputs("\r\033[K", stderr);
}

static void print_line(const options_t *o, const char *suite, const char *bench, const char *unit,
                       const char *peer, result_t r)
{
    if (o->json)
        printf("{\"suite\":\"%s\",\"bench\":\"%s\",\"unit\":\"%s\",\"ours\":%.4g,\"peer\":\"%s\","
               "\"theirs\":%.4g,\"ratio\":%.3f,\"runs\":%u,\"ours_min\":%.4g,\"ours_max\":%.4g,"
               "\"theirs_min\":%.4g,\"theirs_max\":%.4g}\n",
               suite, bench, unit, r.ours, peer, r.theirs, r.ratio, r.runs, r.ours_lo, r.ours_hi,
               r.theirs_lo, r.theirs_hi);
    else
        printf("%-7s %-22s %-4s %10.4g [%8.4g..%-8.4g]  %-16s %10.4g [%8.4g..%-8.4g]  %7.3f\n",
               suite, bench, unit, r.ours, r.ours_lo, r.ours_hi, peer, r.theirs, r.theirs_lo,
               r.theirs_hi, r.ratio);
    fflush(stdout);
}

static void print_row(const options_t *o, const bench_case_t *c, const char *peer, double *ours,
                      double *theirs, double *ratio, unsigned n)
{
    double lo_o = ours[0], hi_o = ours[0], lo_t = theirs[0], hi_t = theirs[0];
    for (unsigned k = 1; k < n; k++) {
        lo_o = fmin(lo_o, ours[k]);
        hi_o = fmax(hi_o, ours[k]);
        lo_t = fmin(lo_t, theirs[k]);
        hi_t = fmax(hi_t, theirs[k]);
    }
    double mo = median(ours, n), mt = median(theirs, n), mr = median(ratio, n);
    progress_clear(o);
    print_line(o, c->suite, c->bench, c->unit, peer,
               (result_t){c, peer, mo, mt, mr, lo_o, hi_o, lo_t, hi_t, n});
    if (n_results < sizeof results / sizeof results[0])
        results[n_results++] = (result_t){c, peer, mo, mt, mr, lo_o, hi_o, lo_t, hi_t, n};
}

static const result_t *find_result(const char *bench, const char *peer)
{
    for (unsigned i = 0; i < n_results; i++)
        if (!strcmp(results[i].c->bench, bench) && !strcmp(results[i].peer, peer))
            return &results[i];
    return NULL;
}

/* Issue #3's scaling efficiency, from the fib_1 and fib_all rows just
 * measured (nothing is re-run): fib_1 / (fib_all * vCPUs) * 100, ours and
 * Go's alike, with vCPUs = the CPUs available to this process (what both
 * use by default for "all"). 100% is linear speedup; higher is better, and
 * the ratio (ours/theirs, as in every row) is too. min..max are the bounds
 * the two rows' ranges allow. Not plotted here: write_scaling_plot is. */
static void print_scaling(const options_t *o)
{
    const result_t *one = find_result("fib_1", "go"), *all = find_result("fib_all", "go");
    if (!one || !all || all->ours <= 0 || all->theirs <= 0 || all->ours_lo <= 0 ||
        all->theirs_lo <= 0)
        return;
    double n = (double)vmrt_sched_default_vcpus();
    result_t r = {
        .c = all->c,
        .peer = "go",
        .ours = one->ours / (all->ours * n) * 100,
        .theirs = one->theirs / (all->theirs * n) * 100,
        .ours_lo = one->ours_lo / (all->ours_hi * n) * 100,
        .ours_hi = one->ours_hi / (all->ours_lo * n) * 100,
        .theirs_lo = one->theirs_lo / (all->theirs_hi * n) * 100,
        .theirs_hi = one->theirs_hi / (all->theirs_lo * n) * 100,
        .runs = one->runs < all->runs ? one->runs : all->runs,
    };
    r.ratio = r.theirs > 0 ? r.ours / r.theirs : NAN;
    print_line(o, "sched", "fib_scaling", "%", "go", r);
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
            progress(o, c, peer->name, k);
            if (run_once(o, &c->ours, iters, &a) != 0) {
                progress_clear(o);
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
            progress_clear(o);
            fprintf(stderr,
                    "vmrt: bench: %s/%s: peer '%s' is missing or failed (%s not runnable in %s); "
                    "'make deps' installs it from Debian and 'make' builds it\n",
                    c->suite, c->bench, peer->name, peer->argv[0], o->dir);
            failures++;
            continue;
        }
        print_row(o, c, peer->name, ours, theirs, ratio, n);
    }
    return failures;
}

/* Seconds the selected cases should take (full runs state it up front). */
static double estimate_s(const options_t *o)
{
    double total = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!suite_selected(o, cases[i].suite))
            continue;
        unsigned peers = 0;
        while (peers < MAX_PEERS && cases[i].peers[peers].name)
            peers++;
        double one = (cases[i].est_ms ? cases[i].est_ms : 1000) / 1000.0;
        total += 2.0 * one * peers * o->reps * (o->quick ? 0.1 : 1.0);
    }
    return total;
}

/* Bar chart per suite: ours vs each peer, normalised to the peer (= 1.0). */
static void write_plots(const options_t *o)
{
    const char *const *suites = all_suites;
    for (size_t s = 0; s < N_SUITES; s++) {
        char dat[4096], png[4096], gp[4096];
        unsigned rows = 0;
        snprintf(dat, sizeof dat, "%s/%s.dat", o->plot_dir, suites[s]);
        FILE *f = fopen(dat, "w");
        if (!f)
            die_errno("bench: --plot: cannot write '%s'", dat);
        for (unsigned i = 0; i < n_results; i++) {
            const result_t *r = &results[i];
            if (strcmp(r->c->suite, suites[s]))
                continue;
            fprintf(f, "\"%s\\nvs %s\" %.4f\n", r->c->bench, r->peer, r->ratio);
            rows++;
        }
        fclose(f);
        if (!rows) {
            unlink(dat);
            continue;
        }
        snprintf(png, sizeof png, "%s/%s.png", o->plot_dir, suites[s]);
        snprintf(gp, sizeof gp, "%s/%s.gp", o->plot_dir, suites[s]);
        f = fopen(gp, "w");
        if (!f)
            die_errno("bench: --plot: cannot write '%s'", gp);
        fprintf(f,
                "set terminal pngcairo size %u,480 font ',10' noenhanced\n"
                "set output '%s'\n"
                "set title 'vmrt %s: time relative to the peer (lower is better; 1 = peer)'\n"
                "set style fill solid 0.8\nset boxwidth 0.6\nset yrange [0:*]\n"
                "set logscale y\nset yrange [0.01:*]\n"
                "set grid ytics\nunset key\nset xtics rotate by -30\n"
                "plot '%s' using 0:2:xtic(1) with boxes lc rgb '#3070b0', 1 lc rgb 'red' lw 2\n",
                rows * 110 + 200, png, suites[s], dat);
        fclose(f);
        char cmd[8192];
        snprintf(cmd, sizeof cmd, "gnuplot '%s'", gp);
        if (system(cmd) != 0)
            fprintf(stderr,
                    "vmrt: bench: --plot: gnuplot failed for %s (is gnuplot installed? 'make "
                    "deps' installs it)\n",
                    suites[s]);
        else if (!o->json)
            printf("plot: %s\n", png);
    }
}

/* Scaling curve of fib (a coroutine per call): speedup from 1 vCPU to all,
 * ours and the peer's, against the ideal line. */
static void write_scaling_plot(const options_t *o)
{
    const result_t *one = find_result("fib_1", "go"), *all = find_result("fib_all", "go");
    if (!one || !all || one->ours <= 0 || all->ours <= 0 || all->theirs <= 0)
        return;
    long n = (long)vmrt_sched_default_vcpus(); /* as print_scaling */
    char dat[4096], gp[4096], png[4096];
    snprintf(dat, sizeof dat, "%s/scaling.dat", o->plot_dir);
    snprintf(gp, sizeof gp, "%s/scaling.gp", o->plot_dir);
    snprintf(png, sizeof png, "%s/scaling.png", o->plot_dir);
    FILE *f = fopen(dat, "w");
    if (!f)
        die_errno("bench: --plot: cannot write '%s'", dat);
    fprintf(f, "1 1 1\n%ld %.4f %.4f\n", n, one->ours / all->ours, one->theirs / all->theirs);
    fclose(f);
    f = fopen(gp, "w");
    if (!f)
        die_errno("bench: --plot: cannot write '%s'", gp);
    fprintf(f,
            "set terminal pngcairo size 640,480 font ',10' noenhanced\n"
            "set output '%s'\n"
            "set title 'fib(N), a coroutine per call: speedup over 1 vCPU (higher is better)'\n"
            "set xlabel 'vCPUs'\nset ylabel 'speedup'\nset key left top\nset grid\n"
            "set xrange [0.8:%ld.2]\nset yrange [0:%ld.5]\nset xtics 1\n"
            "plot '%s' using 1:2 with linespoints lw 2 title 'vmrt', "
            "'%s' using 1:3 with linespoints lw 2 title 'go', x title 'ideal' dt 2\n",
            png, n, n, dat, dat);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", gp);
    if (system(cmd) == 0 && !o->json)
        printf("plot: %s\n", png);
}

/* Runs prog with args and appends every number it prints (one per line) to f
 * as "value fraction" rows of its empirical CDF. Returns how many. */
static size_t write_cdf(const options_t *o, const char *const *argv, FILE *f)
{
    char path[4096];
    find_program(o->dir, argv[0], path, sizeof path);
    char cmd[8192];
    int n = snprintf(cmd, sizeof cmd, "'%s'", path);
    for (int i = 1; argv[i]; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s", argv[i]);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    size_t cnt = 0, cap = 256;
    double *v = malloc(cap * sizeof *v);
    while (v && fscanf(p, "%lf", &v[cnt]) == 1)
        if (++cnt == cap) {
            double *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv)
                break;
            v = nv;
        }
    pclose(p);
    if (v && cnt) {
        qsort(v, cnt, sizeof *v, cmp_double);
        for (size_t i = 0; i < cnt; i++)
            fprintf(f, "%.3f %.5f\n", v[i], (double)(i + 1) / (double)cnt);
    }
    free(v);
    return cnt;
}

/* GC pause CDF on GCBench: vmrt (from its pause histogram), bdwgc, Go. */
static void write_pause_cdf(const options_t *o)
{
    if (!find_result("gcbench", "bdwgc") && !suite_selected(o, "gc"))
        return;
    const char *depth = o->quick ? "14" : "16";
    const char *const progs[3][5] = {
        {"vmrt-bench-gc", "gcbench", "pauses", depth, NULL},
        {"peer-gc-bdwgc", "gcbench", "pauses", depth, NULL},
        {"peer-gc-go", "gcbench", "pauses", depth, NULL},
    };
    const char *names[3] = {"vmrt", "bdwgc", "go"};
    char dat[3][4096], gp[4096], png[4096];
    size_t counts[3];
    for (int i = 0; i < 3; i++) {
        snprintf(dat[i], sizeof dat[i], "%s/gc-pauses-%s.dat", o->plot_dir, names[i]);
        FILE *f = fopen(dat[i], "w");
        if (!f)
            die_errno("bench: --plot: cannot write '%s'", dat[i]);
        counts[i] = write_cdf(o, progs[i], f);
        fclose(f);
    }
    if (!counts[0])
        return;
    snprintf(gp, sizeof gp, "%s/gc-pauses.gp", o->plot_dir);
    snprintf(png, sizeof png, "%s/gc-pauses.png", o->plot_dir);
    FILE *f = fopen(gp, "w");
    if (!f)
        die_errno("bench: --plot: cannot write '%s'", gp);
    fprintf(f,
            "set terminal pngcairo size 640,480 font ',10' noenhanced\n"
            "set output '%s'\n"
            "set title 'GCBench (depth %s) stop-the-world pauses: CDF (left is better)'\n"
            "set xlabel 'pause (us)'\nset ylabel 'fraction of pauses'\nset logscale x\n"
            "set key right bottom\nset grid\nset yrange [0:1.02]\n"
            "plot '%s' using 1:2 with steps lw 2 title 'vmrt (histogram buckets)'",
            png, depth, dat[0]);
    for (int i = 1; i < 3; i++)
        if (counts[i])
            fprintf(f, ", '%s' using 1:2 with steps lw 2 title '%s'", dat[i], names[i]);
    fputc('\n', f);
    fclose(f);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "gnuplot '%s'", gp);
    if (system(cmd) == 0 && !o->json)
        printf("plot: %s\n", png);
}

static void usage(FILE *f)
{
    fputs("Usage: vmrt bench [coro|sched|gc|sandbox|all] [--quick] [--json] [--reps N] [--plot "
          "DIR]\n"
          "\n"
          "Runs each benchmark and its peers alternately (A B A B ...) and prints medians,\n"
          "min..max, and the median of the per-run ratios ours/theirs (lower is better).\n"
          "  --quick     fewer iterations and runs\n"
          "  --json      one JSON object per line\n"
          "  --reps N    runs of each side (default 7, quick 5; 1..101)\n"
          "  --plot DIR  write a bar chart per suite (gnuplot) into DIR (made first)\n"
          "Several suites run in the order given. sched's fib_scaling row (%) is derived from\n"
          "fib_1 and fib_all: fib_1 / (fib_all * vCPUs) * 100, higher is better.\n",
          f);
}

int cmd_bench(int argc, char **argv)
{
    options_t o = {.reps = 0};
    const char *given[N_SUITES + 1];
    unsigned n_given = 0;
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
        } else if (!strcmp(a, "--plot")) {
            if (i + 1 >= argc || !*argv[i + 1])
                die_usage("bench: --plot needs a directory");
            o.plot_dir = argv[++i];
        } else if (a[0] == '-') {
            die_usage("bench: unknown option '%s'", a);
        } else if (!strcmp(a, "coro") || !strcmp(a, "sched") || !strcmp(a, "gc") ||
                   !strcmp(a, "sandbox") || !strcmp(a, "all")) {
            if (n_given > N_SUITES)
                die_usage("bench: too many suites ('%s')", a);
            given[n_given++] = a;
        } else {
            die_usage("bench: unknown suite '%s' (coro, sched, gc, sandbox, all)", a);
        }
    }
    /* Suites run in the order given, each once; "all" (the default) adds
     * every suite not given yet, in table order. */
    if (!n_given)
        given[n_given++] = "all";
    for (unsigned g = 0; g < n_given; g++)
        for (unsigned k = 0; k < N_SUITES; k++) {
            const char *name = !strcmp(given[g], "all") ? all_suites[k] : given[g];
            if (!suite_selected(&o, name))
                o.suites[o.n_suites++] = name;
            if (strcmp(given[g], "all"))
                break;
        }
    for (unsigned k = 0; k < n_given; k++) {
        size_t len = strlen(o.suite_names);
        snprintf(o.suite_names + len, sizeof o.suite_names - len, "%s%s", k ? " " : "", given[k]);
    }
    /* The plot directory is made (or checked) before anything runs. */
    if (o.plot_dir) {
        struct stat st;
        if (mkdir(o.plot_dir, 0755) != 0 && errno != EEXIST)
            die_errno("bench: --plot: cannot create '%s'", o.plot_dir);
        if (stat(o.plot_dir, &st) != 0 || !S_ISDIR(st.st_mode))
            die("bench: --plot: '%s' is not a directory", o.plot_dir);
        if (access(o.plot_dir, W_OK | X_OK) != 0)
            die_errno("bench: --plot: cannot write in '%s'", o.plot_dir);
    }
    if (!o.reps)
        o.reps = o.quick ? 5 : 7;
    o.dir = bench_dir();
    o.progress = isatty(STDERR_FILENO);
    t_start_ns = now_ns();
    if (!o.quick && !o.json)
        fprintf(stderr, "vmrt: bench: %s: about %.0f s (use --quick for a short run)\n",
                o.suite_names, estimate_s(&o));
    if (!o.json)
        printf("%-7s %-22s %-4s %10s %-20s  %-16s %10s %-20s  %7s\n", "suite", "bench", "unit",
               "vmrt", " [min..max]", "peer", "peer", " [min..max]", "ratio");
    unsigned failures = 0, ran = 0;
    for (unsigned sidx = 0; sidx < o.n_suites; sidx++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            if (strcmp(cases[i].suite, o.suites[sidx]))
                continue;
            ran++;
            failures += run_case(&o, &cases[i]);
            if (!strcmp(cases[i].bench, "fib_all"))
                print_scaling(&o);
        }
    if (!ran)
        fprintf(stderr, "vmrt: bench: %s: no benchmarks yet\n", o.suite_names);
    if (o.plot_dir && n_results) {
        write_plots(&o);
        write_scaling_plot(&o);
        if (suite_selected(&o, "gc"))
            write_pause_cdf(&o);
    }
    return failures ? VMRT_EXIT_FAILURE : VMRT_EXIT_OK;
}
