/* `vmrt exec` end to end: flags, errors that name the option (exit 2), set-up
 * failures with a report (exit 125), the
 * exit-status mapping, text and JSON reports, --report-file.
 * argv[1] is the vmrt binary (meson passes it). */
#include "../../unit/sandbox/sb_helpers.h"

#include <jansson.h>
#include <spawn.h>
#include <sys/wait.h>

VT_DEFINE_GLOBALS;

extern char **environ;
static const char *vmrt_bin;

/* Runs vmrt with args; captures stderr into err. Returns the exit status. */
static int run_vmrt(const char *const *args, char *err, size_t errlen)
{
    const char *argv[32] = {vmrt_bin};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int pfd[2];
    ASSERT_OK(pipe(pfd));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    pid_t pid;
    ASSERT_OK(posix_spawn(&pid, vmrt_bin, &fa, NULL, (char *const *)argv, environ));
    close(pfd[1]);
    size_t got = 0;
    ssize_t k;
    while (got + 1 < errlen && (k = read(pfd[0], err + got, errlen - 1 - got)) > 0)
        got += (size_t)k;
    err[got] = '\0';
    close(pfd[0]);
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    posix_spawn_file_actions_destroy(&fa);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void test_bad_values_name_the_option(void **state)
{
    (void)state;
    static const char *const cases[][3] = {
        {"--memory", "12x", "--memory"},        {"--cpu-time", "-1", "--cpu-time"},
        {"--isolation", "jail", "--isolation"}, {"--net", "wifi", "--net"},
        {"--max-procs", "0", "--max-procs"},    {"--cpus", "abc", "--cpus"},
        {"--report", "xml", "--report"},        {"--max-file-size", "", "--max-file-size"},
        {"--disk-bw", "fast", "--disk-bw"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024];
        const char *args[] = {"exec", cases[i][0], cases[i][1], "--", "true", NULL};
        ASSERT_EQ(run_vmrt(args, err, sizeof err), 2);
        ASSERT_NOT_NULL(strstr(err, cases[i][2]));
    }
    char err[1024];
    const char *unknown[] = {"exec", "--frobnicate", "--", "true", NULL};
    ASSERT_EQ(run_vmrt(unknown, err, sizeof err), 2);
    ASSERT_NOT_NULL(strstr(err, "--frobnicate"));
    const char *nocmd[] = {"exec", "--memory", "1M", NULL};
    ASSERT_EQ(run_vmrt(nocmd, err, sizeof err), 2);
}

static void test_exit_statuses(void **state)
{
    (void)state;
    char err[4096];
    const char *code[] = {"exec", "--seccomp", "none", "--", "/bin/sh", "-c", "exit 7", NULL};
    ASSERT_EQ(run_vmrt(code, err, sizeof err), 7);
    ASSERT_NOT_NULL(strstr(err, "reason: exited\n"));
    const char *sig[] = {"exec", "--seccomp", "none", "--", "/bin/sh", "-c", "kill -KILL $$", NULL};
    ASSERT_EQ(run_vmrt(sig, err, sizeof err), 128 + 9);
    const char *missing[] = {"exec", "--seccomp", "none", "--", "/nonexistent/cmd", NULL};
    ASSERT_EQ(run_vmrt(missing, err, sizeof err), 127);
    ASSERT_NOT_NULL(strstr(err, "setup_step: execve"));
    ASSERT_NULL(strstr(err, "exit_code:")); /* no guest exit code: the guest never ran */
    const char *wall[] = {"exec", "--seccomp", "none", "--wall-time", "0.2",
                          "--",   "sleep",     "5",    NULL};
    ASSERT_EQ(run_vmrt(wall, err, sizeof err), 243);
    ASSERT_NOT_NULL(strstr(err, "reason: wall_time_limit"));
}

static void test_json_report_file(void **state)
{
    (void)state;
    if (sbt_config_is("aarch64"))
        VT_SKIP("qemu-user emulates neither seccomp nor namespaces for the guest");
    char path[] = "/tmp/vmrt-report-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    char err[1024];
    const char *args[] = {
        "exec",
        "--report",
        "json",
        "--report-file",
        path,
        "--deny-syscall",
        "getppid",
        "--",
        "/bin/sh",
        "-c",
        "cat /proc/self/stat >/dev/null; exec python3 -c 'import os; os.getppid()' 2>/dev/null || "
        "perl -e getppid",
        NULL};
    int rc = run_vmrt(args, err, sizeof err);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    unlink(path);
    ASSERT_NOT_NULL(o);
    if (rc != 241) {
        json_decref(o);
        VT_SKIP("neither python3 nor perl to make the getppid call");
    }
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "reason")), "seccomp_violation");
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "syscall")), "getppid");
    ASSERT_TRUE(json_integer_value(json_object_get(o, "wall_ns")) > 0);
    json_decref(o);
}

/* A failure while the sandbox is being created (vmrt_sandbox_new) exits 125
 * and writes the report (setup_failed, the stage, errno) where --report and
 * --report-file say; 2 is for bad option syntax only. */
static void test_creation_failures_reported(void **state)
{
    (void)state;
    if (sbt_config_is("aarch64"))
        VT_SKIP("qemu-user emulates neither seccomp nor namespaces for the guest");
    char cpus[24];
    snprintf(cpus, sizeof cpus, "%ld", sysconf(_SC_NPROCESSORS_ONLN) + 1);
    static const char *cases[][7] = {
        /* args..., NULL, step, text in the message */
        {"--isolation", "container", "--ro", "/nonexistent", NULL, "config", "--ro /nonexistent"},
        {"--isolation", "none", "--strict", "--memory", "10M", "limits", "isolation none"},
        {"--cpus", NULL, NULL, NULL, NULL, "config", "vcpus"},
        {"--cpus", "0.001", NULL, NULL, NULL, "config", "cpu_quota"},
        {"--seccomp", "/etc/passwd", NULL, NULL, NULL, "seccomp", "/etc/passwd"},
        {"--isolation", "full", "--rw", "/proc", NULL, "config", "--rw /proc"},
    };
    cases[2][1] = cpus;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[] = "/tmp/vmrt-report-XXXXXX";
        int fd = mkstemp(path);
        ASSERT_TRUE(fd >= 0);
        close(fd);
        const char *args[16] = {"exec", "--report", "json", "--report-file", path};
        int n = 5;
        for (int k = 0; k < 5 && cases[i][k]; k++)
            args[n++] = cases[i][k];
        args[n++] = "--";
        args[n++] = "/bin/true";
        args[n] = NULL;
        char err[1024];
        int rc = run_vmrt(args, err, sizeof err);
        fprintf(stderr, "%s %s -> %d: %s", cases[i][0], cases[i][1], rc, err);
        json_error_t je;
        json_t *o = json_load_file(path, 0, &je);
        unlink(path);
        ASSERT_EQ(rc, 125);
        ASSERT_NOT_NULL(strstr(err, cases[i][6]));
        ASSERT_NULL(strstr(err, "//"));
        ASSERT_NOT_NULL(o);
        ASSERT_STR_EQ(json_string_value(json_object_get(o, "reason")), "setup_failed");
        ASSERT_STR_EQ(json_string_value(json_object_get(o, "setup_step")), cases[i][5]);
        ASSERT_TRUE(json_integer_value(json_object_get(o, "setup_errno")) > 0);
        json_decref(o);
    }
}

/* --report-file is opened before anything runs: a path that cannot be
 * created exits 125 and the guest never runs; a file that cannot be written
 * at the end gets the report on stderr and the guest's status. */
static void test_report_file_errors(void **state)
{
    (void)state;
    if (sbt_config_is("aarch64"))
        VT_SKIP("qemu-user emulates neither seccomp nor namespaces for the guest");
    char marker[64], script[128], err[4096];
    snprintf(marker, sizeof marker, "/tmp/vmrt-ran-%d", (int)getpid());
    snprintf(script, sizeof script, "touch %s", marker);
    const char *bad[] = {"exec", "--seccomp", "none", "--report-file", "/nonexistent/dir/x",
                         "--",   "/bin/sh",   "-c",   script,          NULL};
    ASSERT_EQ(run_vmrt(bad, err, sizeof err), 125);
    ASSERT_NOT_NULL(strstr(err, "--report-file /nonexistent/dir/x: cannot open"));
    ASSERT_NE(access(marker, F_OK), 0); /* the guest did not run */
    const char *full[] = {"exec", "--seccomp", "none", "--report-file", "/dev/full",
                          "--",   "/bin/sh",   "-c",   "exit 3",        NULL};
    ASSERT_EQ(run_vmrt(full, err, sizeof err), 3);
    ASSERT_NOT_NULL(strstr(err, "cannot write"));
    ASSERT_NOT_NULL(strstr(err, "reason: exited\n"));
}

/* Filter errors name the option and say what is wrong, without line -1. */
static void test_filter_errors_named(void **state)
{
    (void)state;
    if (!vmrt_sandbox_host()->seccomp || sbt_config_is("aarch64"))
        VT_SKIP("seccomp not available (e.g. under qemu-user)");
    char err[4096];
    const char *nofile[] = {"exec", "--seccomp", "/nonexistent", "--", "true", NULL};
    ASSERT_EQ(run_vmrt(nofile, err, sizeof err), 125);
    ASSERT_NOT_NULL(strstr(err, "/nonexistent: cannot open: No such file or directory"));
    ASSERT_NULL(strstr(err, ":-1"));
    const char *allow[] = {"exec", "--allow-syscall", "notasyscall", "--", "true", NULL};
    ASSERT_EQ(run_vmrt(allow, err, sizeof err), 125);
    ASSERT_NOT_NULL(strstr(err, "--allow-syscall"));
    ASSERT_NOT_NULL(strstr(err, "notasyscall"));
}

/* As an unprivileged user: the container level uses a user namespace (root
 * inside is the caller outside) and /dev nodes are bound, not made. */
static void test_unprivileged_container(void **state)
{
    (void)state;
    if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK) != 0)
        VT_SKIP("needs root and setpriv to become an unprivileged user");
    if (sbt_config_is("aarch64"))
        VT_SKIP("qemu-user emulates neither seccomp nor namespaces for the guest");
    char copy[] = "/tmp/vmrt-nobody-XXXXXX";
    int fd = mkstemp(copy);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "cp '%s' '%s' && chmod 755 '%s' && setpriv --reuid=65534 --regid=65534 "
             "--clear-groups '%s' exec --isolation container --report-file /dev/null -- "
             "/bin/sh -c 'test $(id -u) = 0 && test $$ = 1 && echo x > /dev/null && test ! -e "
             "/root'",
             vmrt_bin, copy, copy, copy);
    int rc = system(cmd);
    unlink(copy);
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 125)
        VT_SKIP("unprivileged user namespaces refused on this host");
    ASSERT_TRUE(WIFEXITED(rc));
    ASSERT_EQ(WEXITSTATUS(rc), 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_exec_cli PATH-TO-VMRT\n");
        return 2;
    }
    vmrt_bin = argv[1];
    if (sbt_config_is("aarch64") && access("/proc/sys/fs/binfmt_misc/qemu-aarch64", F_OK) != 0) {
        fprintf(stderr, "SKIP: the aarch64 vmrt binary cannot be spawned without binfmt_misc\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values_name_the_option),
        cmocka_unit_test(test_exit_statuses),
        cmocka_unit_test(test_json_report_file),
        cmocka_unit_test(test_creation_failures_reported),
        cmocka_unit_test(test_report_file_errors),
        cmocka_unit_test(test_filter_errors_named),
        cmocka_unit_test(test_unprivileged_container),
    };
    VT_RUN("sandbox_exec_cli", tests);
}
