/* Helpers for the sandbox tests: run a command or a function in a sandbox,
 * capture its stdout, and skip with the reason when the host cannot. */
#ifndef VMRT_TEST_SB_HELPERS_H
#define VMRT_TEST_SB_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/sandbox.h>

#include "harness.h"

/* The test configuration (scripts/test.sh exports it). */
static inline bool sbt_config_is(const char *name)
{
    const char *c = getenv("VMRT_TEST_CONFIG");
    return c && !strcmp(c, name);
}

/* Skips unless the host can run sandboxes at `level` with seccomp when asked. */
#define SBT_REQUIRE(level, need_seccomp)                                                           \
    do {                                                                                           \
        const vmrt_sandbox_host_t *h_ = vmrt_sandbox_host();                                       \
        if (sbt_config_is("aarch64"))                                                              \
            VT_SKIP("qemu-user emulates neither seccomp nor namespaces for the guest");            \
        if ((need_seccomp) && !h_->seccomp_notify)                                                 \
            VT_SKIP("seccomp user notification not available on this host");                       \
        if ((level) >= VMRT_ISOLATION_CONTAINER && !h_->root && !h_->user_namespaces)              \
            VT_SKIP("needs root or unprivileged user namespaces");                                 \
    } while (0)

#define SBT_REQUIRE_CGROUP()                                                                       \
    do {                                                                                           \
        if (vmrt_sandbox_host()->cgroup_version == 0)                                              \
            VT_SKIP("no usable cgroup hierarchy (v1 or v2) on this host");                         \
    } while (0)

typedef struct sbt_run {
    vmrt_sandbox_report_t r;
    char out[4096]; /* the guest's stdout */
    int start_err;  /* _exec/_spawn result */
} sbt_run_t;

/* Reads what the guest wrote to the pipe. */
static inline void sbt_drain(int fd, sbt_run_t *run)
{
    size_t n = 0;
    ssize_t k;
    while (n + 1 < sizeof run->out && (k = read(fd, run->out + n, sizeof run->out - 1 - n)) > 0)
        n += (size_t)k;
    run->out[n] = '\0';
    close(fd);
}

/* Runs argv (or fn when argv is NULL) in a sandbox; asserts set-up works. */
static inline void sbt_run(vmrt_sandbox_config_t *cfg, const vmrt_limits_t *lim, char *const argv[],
                           vmrt_sandbox_fn fn, void *arg, sbt_run_t *run)
{
    memset(run, 0, sizeof *run);
    int pfd[2];
    ASSERT_OK(pipe2(pfd, O_CLOEXEC));
    cfg->stdout_fd = pfd[1];
    vmrt_sandbox_t *sb;
    int err = vmrt_sandbox_new(&sb, cfg, lim);
    if (err)
        fprintf(stderr, "vmrt_sandbox_new: %s (%s)\n", vmrt_strerror(err), vmrt_sandbox_error());
    ASSERT_OK(err);
    run->start_err = argv ? vmrt_sandbox_exec(sb, argv, NULL) : vmrt_sandbox_spawn(sb, fn, arg);
    close(pfd[1]);
    /* Wait first (the supervisor enforces the limits), then read what the
     * guest wrote: the tests' guests write less than a pipe buffer. */
    ASSERT_OK(vmrt_sandbox_wait(sb, &run->r));
    fcntl(pfd[0], F_SETFL, O_NONBLOCK);
    sbt_drain(pfd[0], run);
    vmrt_sandbox_free(sb);
    if (run->r.reason == VMRT_END_SETUP_FAILED)
        fprintf(stderr, "setup failed at %s: %s\n", run->r.setup_step,
                strerror(run->r.setup_errno));
}

static inline void sbt_config(vmrt_sandbox_config_t *cfg, vmrt_isolation_t level)
{
    vmrt_sandbox_config_init(cfg);
    cfg->isolation_level = level;
}

#define SBT_ASSERT_REASON(run, want)                                                               \
    do {                                                                                           \
        if ((run)->r.reason != (want))                                                             \
            fprintf(stderr, "reason %s, wanted %s (exit %d signal %d syscall %s)\n",               \
                    vmrt_end_reason_name((run)->r.reason), vmrt_end_reason_name(want),             \
                    (run)->r.exit_code, (run)->r.signal, (run)->r.syscall_name);                   \
        ASSERT_EQ((run)->r.reason, (want));                                                        \
    } while (0)

#endif
