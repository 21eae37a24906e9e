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
          "  --stats             print run statistics to stderr\n",
          f);
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
                   !strcmp(a, "--max-frames") || !strcmp(a, "--heap-max")) {
            if (parse_num(a, argv[i + 1], &v))
                return 2;
            i++;
            if (!strcmp(a, "--jit-threshold"))
                o.jit_threshold = (uint32_t)v;
            else if (!strcmp(a, "--poll"))
                o.poll_interval = (uint32_t)v;
            else if (!strcmp(a, "--max-frames"))
                o.max_frames = (uint32_t)v;
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
