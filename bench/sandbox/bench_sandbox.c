/* Sandbox benchmarks. Usage: vmrt-bench-sandbox CASE N
 *   process | container | container-hostnet | full
 *       start-up + tear-down of `vmrt exec --isolation ... -- /bin/true`,
 *       microseconds per run (the whole CLI, as a user runs it)
 *   process-cold | container-cold
 *       the same, each run after an untimed 50 ms pause
 *   container-api
 *       the same container through the library, as a VM embedding vmrt starts
 *       one: vmrt_sandbox_new + _exec("/bin/true") + _wait + _free in this
 *       process (no launcher program is started)
 *   syscall-none | syscall-default | syscall-strict
 *       nanoseconds per getppid() inside a PROCESS sandbox with that filter
 *       (answered by the kernel's seccomp cache when allowed unconditionally)
 *   ioctl-none | ioctl-default
 *       nanoseconds per ioctl(FIONREAD), which the default profile checks by
 *       argument (TIOCSTI), so the BPF program runs
 * vmrt is found as $VMRT, else beside the build tree, else in PATH. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

#include "spawn_loop.h"

static const char *vmrt_path(void)
{
    static char buf[PATH_MAX];
    const char *env = getenv("VMRT");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 64);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash, "/../../tools/vmrt/vmrt");
            if (access(buf, X_OK) == 0)
                return buf;
        }
    }
    return "vmrt";
}

static double startup(const char *level, const char *net, unsigned long n, unsigned gap_us)
{
    char *argv[12];
    int k = 0;
    argv[k++] = (char *)vmrt_path();
    argv[k++] = "exec";
    argv[k++] = "--isolation";
    argv[k++] = (char *)level;
    if (net) {
        argv[k++] = "--net";
        argv[k++] = (char *)net;
    }
    argv[k++] = "--report-file";
    argv[k++] = "/dev/null";
    argv[k++] = "--";
    argv[k++] = "/bin/true";
    argv[k] = NULL;
    return bench_spawn_loop_gap(argv, n, gap_us);
}

static unsigned long g_iters;
static bool g_ioctl;

static int measure_syscalls(void *arg)
{
    (void)arg;
    double t0 = bench_now_us();
    int avail;
    for (unsigned long i = 0; i < g_iters; i++) {
        if (g_ioctl)
            ioctl(0, FIONREAD, &avail);
        else
            syscall(SYS_getppid);
    }
    double ns = (bench_now_us() - t0) * 1000.0 / (double)g_iters;
    printf("%.2f\n", ns);
    fflush(stdout);
    return 0;
}

static int syscall_cost(const char *profile, bool use_ioctl, unsigned long n)
{
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.filter.profile = profile;
    c.enable_seccomp = strcmp(profile, "none") != 0;
    g_iters = n;
    g_ioctl = use_ioctl;
    vmrt_sandbox_t *sb;
    vmrt_sandbox_report_t r;
    if (vmrt_sandbox_new(&sb, &c, NULL) || vmrt_sandbox_spawn(sb, measure_syscalls, NULL) ||
        vmrt_sandbox_wait(sb, &r) || r.reason != VMRT_END_EXITED || r.exit_code) {
        fprintf(stderr, "bench: sandbox failed: %s\n", vmrt_sandbox_error());
        return 1;
    }
    vmrt_sandbox_free(sb);
    return 0;
}

static double startup_api(unsigned long n)
{
    char *argv[] = {"/bin/true", NULL};
    double t0 = bench_now_us();
    for (unsigned long i = 0; i < n; i++) {
        vmrt_sandbox_config_t c;
        vmrt_sandbox_config_init(&c);
        c.isolation_level = VMRT_ISOLATION_CONTAINER;
        vmrt_sandbox_t *sb;
        vmrt_sandbox_report_t r;
        if (vmrt_sandbox_new(&sb, &c, NULL) || vmrt_sandbox_exec(sb, argv, NULL) ||
            vmrt_sandbox_wait(sb, &r) || r.reason != VMRT_END_EXITED || r.exit_code) {
            fprintf(stderr, "bench: sandbox failed: %s\n", vmrt_sandbox_error());
            exit(1);
        }
        vmrt_sandbox_free(sb);
    }
    return (bench_now_us() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    unsigned long n = argc == 3 ? strtoul(argv[2], NULL, 10) : 0;
    if (n == 0) {
        fprintf(stderr, "usage: vmrt-bench-sandbox CASE N\n");
        return 2;
    }
    const char *c = argv[1];
    if (!strcmp(c, "process") || !strcmp(c, "container") || !strcmp(c, "full")) {
        printf("%.1f\n", startup(c, NULL, n, 0));
        return 0;
    }
    if (!strcmp(c, "process-cold") || !strcmp(c, "container-cold")) {
        char level[16];
        snprintf(level, sizeof level, "%.*s", (int)(strchr(c, '-') - c), c);
        printf("%.1f\n", startup(level, NULL, n, BENCH_COLD_GAP_US));
        return 0;
    }
    if (!strcmp(c, "container-api")) {
        printf("%.1f\n", startup_api(n));
        return 0;
    }
    if (!strcmp(c, "container-hostnet")) {
        printf("%.1f\n", startup("container", "host", n, 0));
        return 0;
    }
    if (!strncmp(c, "syscall-", 8))
        return syscall_cost(c + 8, false, n);
    if (!strncmp(c, "ioctl-", 6))
        return syscall_cost(c + 6, true, n);
    fprintf(stderr, "vmrt-bench-sandbox: unknown case '%s'\n", c);
    return 2;
}
