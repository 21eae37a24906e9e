/* vmrt-guest — test driver of the reference guest engine (until `vmrt run`
 * is wired to it).
 *
 *   vmrt-guest [OPTIONS] PROGRAM.vasm [GUEST ARGS...]
 *
 * Exit status: the guest's (see guest.h), 2 for a usage error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/guest.h"

static void usage(FILE *f)
{
    fputs("usage: vmrt-guest [OPTIONS] PROGRAM.vasm [GUEST ARGS...]\n"
          "  --check             assemble and verify only\n"
          "  --dump              print the pre-decoded code (after the run: with tier 1)\n"
          "  --no-jit            never translate (plain interpreter)\n"
          "  --jit-threshold N   calls + back-edges before translation (default 1000)\n"
          "  --jit-trace         print each translation\n"
          "  --poll N            safepoint polls between host safepoints (default 1000)\n"
          "  --max-frames N      guest call depth limit (default 10000)\n"
          "  --heap-max BYTES    guest heap limit (default 1 GiB)\n"
          "  --max-polls N       execution limit in safepoint polls (default none)\n"
          "  --stats             print run statistics to stderr\n"
          "  --bench N           run N times with and without the translation tier\n"
          "                      (alternating), print median CPU times and the ratio\n",
          f);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* --bench: the translation tier's speedup, measured as the ratio of median
 * CPU times (tier 1 / plain interpreter) over alternating runs; each run
 * loads the program afresh (translations are per program). */
static int bench(const char *path, const vmrt_guest_options *base, int n)
{
    double t[2][64];
    if (n > 64)
        n = 64;
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        return 71;
    for (int i = 0; i < n; i++) {
        for (int mode = 0; mode < 2; mode++) {
            vmrt_guest_program *prog;
            int rc = vmrt_guest_load_file(path, &prog, stderr);
            if (rc)
                return rc;
            vmrt_guest_options o = *base;
            o.out = null;
            if (mode == 0)
                o.jit_threshold = 0;
            double t0 = cpu_now();
            rc = vmrt_guest_run(prog, &o, NULL);
            t[mode][i] = cpu_now() - t0;
            vmrt_guest_program_free(prog);
            if (rc) {
                fclose(null);
                return rc;
            }
        }
    }
    fclose(null);
    qsort(t[0], (size_t)n, sizeof(double), cmp_double);
    qsort(t[1], (size_t)n, sizeof(double), cmp_double);
    double m0 = t[0][n / 2], m1 = t[1][n / 2];
    printf("plain interpreter: %.4f s (median of %d)\ntranslated:        %.4f s\n"
           "ratio translated/plain: %.3f (speedup %.2fx)\n",
           m0, n, m1, m1 / m0, m0 / m1);
    return 0;
}

static int parse_num(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = s ? strtoull(s, &end, 0) : 0;
    if (!s || errno || end == s || *end) {
        fprintf(stderr, "vmrt-guest: %s needs a number\n", opt);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    vmrt_guest_options o;
    vmrt_guest_options_init(&o);
    bool check = false, dump = false, stats = false;
    int bench_runs = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        const char *a = argv[i];
        uint64_t v;
        if (!strcmp(a, "--check")) {
            check = true;
        } else if (!strcmp(a, "--dump")) {
            dump = true;
        } else if (!strcmp(a, "--stats")) {
            stats = true;
        } else if (!strcmp(a, "--no-jit")) {
            o.jit_threshold = 0;
        } else if (!strcmp(a, "--jit-trace")) {
            o.trace_jit = true;
        } else if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--jit-threshold") || !strcmp(a, "--poll") ||
                   !strcmp(a, "--max-frames") || !strcmp(a, "--heap-max") ||
                   !strcmp(a, "--bench") || !strcmp(a, "--max-polls")) {
            if (parse_num(a, argv[i + 1], &v))
                return 2;
            i++;
            if (!strcmp(a, "--jit-threshold"))
                o.jit_threshold = (uint32_t)v;
            else if (!strcmp(a, "--poll"))
                o.poll_interval = (uint32_t)v;
            else if (!strcmp(a, "--max-frames"))
                o.max_frames = (uint32_t)v;
            else if (!strcmp(a, "--max-polls"))
                o.max_polls = v;
            else if (!strcmp(a, "--bench"))
                bench_runs = v < 1 ? 1 : (int)v;
            else
                o.heap_max = (size_t)v;
        } else {
            fprintf(stderr, "vmrt-guest: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    if (bench_runs) {
        o.argc = argc - i - 1;
        o.argv = argv + i + 1;
        if (!o.jit_threshold)
            o.jit_threshold = 1000;
        return bench(argv[i], &o, bench_runs);
    }
    vmrt_guest_program *prog;
    int rc = vmrt_guest_load_file(argv[i], &prog, stderr);
    if (rc)
        return rc < 0 ? VMRT_GUEST_EXIT_HOST_ERROR : rc;
    if (check) {
        vmrt_guest_program_free(prog);
        return 0;
    }
    o.argc = argc - i - 1;
    o.argv = argv + i + 1;
    vmrt_guest_result res;
    rc = vmrt_guest_run(prog, &o, &res);
    if (dump)
        vmrt_guest_dump(prog, stdout);
    if (stats)
        fprintf(
            stderr,
            "guest: exit %d, %.3f s, %" PRIu64 " threads (peak %" PRIu64 "), %" PRIu64
            " switches, %" PRIu64 " preemptions, %" PRIu64 " objects (%" PRIu64 " bytes), %" PRIu64
            " barriers, %" PRIu64 " I/O requests, %" PRIu64 " translations (%.3f ms)\n",
            res.exit_code, (double)res.wall_ns / 1e9, res.threads, res.host.peak_threads,
            res.host.switches, res.host.preemptions, res.host.objects, res.host.bytes,
            res.host.barriers, res.host.io_requests, res.translations, (double)res.jit_ns / 1e6);
    vmrt_guest_program_free(prog);
    return rc;
}
