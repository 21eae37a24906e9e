/* Syscall filter: deny by name and number with the name in the report,
 * allow overriding the profile, errno actions, the strict profile, Docker/OCI
 * profile files. Guests are functions run with vmrt_sandbox_spawn. */
#include "sb_helpers.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/syscall.h>

#include "sandbox/sandbox_internal.h"

VT_DEFINE_GLOBALS;

static int call_getppid(void *arg)
{
    (void)arg;
    long r = syscall(SYS_getppid);
    return r < 0 ? errno : 0;
}

static void run_filtered(const vmrt_syscall_filter_t *f, vmrt_sandbox_fn fn, sbt_run_t *run)
{
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_PROCESS);
    c.filter = *f;
    sbt_run(&c, NULL, NULL, fn, NULL, run);
}

static void test_deny_by_name_reports_name(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    const char *deny[] = {"getppid", NULL};
    vmrt_syscall_filter_t f = {.denied = deny};
    sbt_run_t run;
    run_filtered(&f, call_getppid, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_STR_EQ(run.r.syscall_name, "getppid");
    ASSERT_EQ(run.r.syscall_nr, SYS_getppid);
}

static void test_deny_by_number(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    char num[16];
    snprintf(num, sizeof num, "%d", (int)SYS_getppid);
    const char *deny[] = {num, NULL};
    vmrt_syscall_filter_t f = {.denied = deny};
    sbt_run_t run;
    run_filtered(&f, call_getppid, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_STR_EQ(run.r.syscall_name, "getppid");
}

static void test_deny_with_errno(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    const char *deny[] = {"getppid", NULL};
    vmrt_syscall_filter_t f = {
        .denied = deny, .deny_action = VMRT_SYSCALL_ERRNO, .errno_value = EACCES};
    sbt_run_t run;
    run_filtered(&f, call_getppid, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, EACCES);
}

static int call_keyctl(void *arg)
{
    (void)arg;
    syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
    return 0; /* reached: the call returned, whatever its result */
}

static void test_profile_denies_allow_overrides(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    vmrt_syscall_filter_t f = {.profile = "default"};
    sbt_run_t run;
    run_filtered(&f, call_keyctl, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_STR_EQ(run.r.syscall_name, "keyctl");
    const char *allow[] = {"keyctl", NULL};
    f.allowed = allow;
    run_filtered(&f, call_keyctl, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
}

static int call_mknod(void *arg)
{
    (void)arg;
    syscall(SYS_mknodat, AT_FDCWD, "/tmp/vmrt-never", 0600, 0);
    return 0;
}

static int compute_and_io(void *arg)
{
    (void)arg;
    char buf[64];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf) <= 0)
        return 1;
    close(fd);
    return write(1, "ok", 2) == 2 ? 0 : 2;
}

static void test_strict_profile(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    vmrt_syscall_filter_t f = {.profile = "strict"};
    sbt_run_t run;
    run_filtered(&f, compute_and_io, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
    ASSERT_STR_EQ(run.out, "ok");
    run_filtered(&f, call_mknod, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_STR_EQ(run.r.syscall_name, "mknodat");
}

static void test_oci_profile(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    char path[] = "/tmp/vmrt-oci-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    const char *json =
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"],\n"
        " \"syscalls\": [\n"
        "  {\"names\": [\"getppid\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38},\n"
        "  {\"names\": [\"mknodat\", \"mknod\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},\n"
        "  {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
        "   \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}}]}\n";
    ASSERT_EQ(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    vmrt_syscall_filter_t f = {.profile = path};
    sbt_run_t run;
    run_filtered(&f, call_getppid, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 38);
    run_filtered(&f, call_mknod, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_STR_EQ(run.r.syscall_name, "mknodat");
    unlink(path);
}

static void test_default_action_errno(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    if (sbt_config_is("asan") || sbt_config_is("tsan"))
        VT_SKIP("sanitizer runtimes make syscalls outside this test's tiny allowlist");
    /* Profile none + default errno: only the listed calls work. getppid is
     * not listed, so it fails with the errno; the rest of the child's life
     * (write, exit) is allowed. */
    const char *allow[] = {"write",  "exit",   "exit_group", "rt_sigprocmask", "close", "recvfrom",
                           "sendto", "execve", "munmap",     "rseq",           NULL};
    vmrt_syscall_filter_t f = {.profile = "none",
                               .allowed = allow,
                               .default_action = VMRT_SYSCALL_ERRNO,
                               .errno_value = ENOSYS};
    sbt_run_t run;
    run_filtered(&f, call_getppid, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, ENOSYS);
}

/* getppid with SIGSYS at its default action (cmocka catches it otherwise,
 * and a spawned child keeps its parent's handlers, as after fork). */
static int call_getppid_dfl(void *arg)
{
    signal(SIGSYS, SIG_DFL);
    return call_getppid(arg);
}

static void test_trap_and_log_actions(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, true);
    const char *deny[] = {"getppid", NULL};
    vmrt_syscall_filter_t f = {.denied = deny, .deny_action = VMRT_SYSCALL_TRAP};
    sbt_run_t run;
    run_filtered(&f, call_getppid_dfl, &run); /* SIGSYS, not caught: no name known */
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_EQ(run.r.signal, SIGSYS);
    ASSERT_STR_EQ(run.r.syscall_name, "");
    f.deny_action = VMRT_SYSCALL_LOG; /* allowed, logged */
    run_filtered(&f, call_getppid_dfl, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
}

/* The programs generated at build time equal what libseccomp makes now. */
static void test_builtin_blobs_match(void **state)
{
    (void)state;
    if (!vmrt_sandbox_host()->seccomp_notify)
        VT_SKIP("no seccomp user notification: built-in programs are not used");
    static const char *const profiles[] = {"default", "strict"};
    for (int i = 0; i < 2; i++) {
        vmrt_syscall_filter_t f = {.profile = profiles[i]};
        sb_filter_t a, b;
        ASSERT_OK(vmrt__sb_filter_build(&f, VMRT_ISOLATION_PROCESS, &a));
        ASSERT_OK(vmrt__sb_filter_compile(&f, VMRT_ISOLATION_PROCESS, true, &b));
        ASSERT_TRUE(a.len > 100);
        ASSERT_EQ(a.len, b.len);
        ASSERT_EQ(memcmp(a.insns, b.insns, a.len * sizeof *a.insns), 0);
        ASSERT_TRUE(a.has_notify && b.has_notify);
        vmrt__sb_filter_free(&a);
        vmrt__sb_filter_free(&b);
    }
}

/* The kernel's seccomp action cache (kernel/seccomp.c, per filter and
 * syscall number): at attach time the kernel runs the program for each
 * number with only the number and the architecture known; where every path
 * reaches RET ALLOW through loads of those two fields, jumps against
 * constants and AND, the syscall is marked "always allowed" and later calls
 * skip the program. Anything else (an argument or instruction-pointer load,
 * a jump on X) makes the number uncacheable. This is that emulation. */
#if defined(__x86_64__)
static bool cache_allows(const sb_filter_t *f, int nr, uint32_t arch)
{
    uint32_t a = 0;
    for (unsigned pc = 0; pc < f->len; pc++) {
        const struct sock_filter *in = &f->insns[pc];
        switch (in->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (in->k == offsetof(struct seccomp_data, nr))
                a = (uint32_t)nr;
            else if (in->k == offsetof(struct seccomp_data, arch))
                a = arch;
            else
                return false;
            break;
        case BPF_RET | BPF_K:
            return in->k == SECCOMP_RET_ALLOW;
        case BPF_JMP | BPF_JA:
            pc += in->k;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
        case BPF_JMP | BPF_JGE | BPF_K:
        case BPF_JMP | BPF_JGT | BPF_K:
        case BPF_JMP | BPF_JSET | BPF_K: {
            bool t = BPF_OP(in->code) == BPF_JEQ   ? a == in->k
                     : BPF_OP(in->code) == BPF_JGE ? a >= in->k
                     : BPF_OP(in->code) == BPF_JGT ? a > in->k
                                                   : (a & in->k) != 0;
            pc += t ? in->jt : in->jf;
            break;
        }
        case BPF_ALU | BPF_AND | BPF_K:
            a &= in->k;
            break;
        default:
            return false;
        }
    }
    return false;
}
#endif

/* The hot allowed syscalls are answered by the kernel's cache (no BPF run)
 * in both built-in profiles; argument-checked ones are not. */
static void test_profiles_cache_friendly(void **state)
{
    (void)state;
#if defined(__x86_64__)
    static const int hot[] = {
        SYS_read,       SYS_write,        SYS_close,          SYS_mmap,     SYS_munmap,
        SYS_brk,        SYS_futex,        SYS_getppid,        SYS_getpid,   SYS_clock_gettime,
        SYS_exit_group, SYS_openat,       SYS_newfstatat,     SYS_lseek,    SYS_pread64,
        SYS_nanosleep,  SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_mprotect, SYS_sched_yield};
    static const char *const profiles[] = {"default", "strict"};
    for (int i = 0; i < 2; i++) {
        vmrt_syscall_filter_t f = {.profile = profiles[i]};
        sb_filter_t bpf;
        ASSERT_OK(vmrt__sb_filter_build(&f, VMRT_ISOLATION_PROCESS, &bpf));
        for (size_t k = 0; k < sizeof hot / sizeof hot[0]; k++) {
            if (!cache_allows(&bpf, hot[k], AUDIT_ARCH_X86_64))
                fprintf(stderr, "%s: syscall %d not cached\n", profiles[i], hot[k]);
            ASSERT_TRUE(cache_allows(&bpf, hot[k], AUDIT_ARCH_X86_64));
        }
        /* ioctl is checked by argument (TIOCSTI) and a foreign ABI is
         * killed: neither may be cached as allowed. */
        ASSERT_FALSE(cache_allows(&bpf, SYS_ioctl, AUDIT_ARCH_X86_64));
        ASSERT_FALSE(cache_allows(&bpf, SYS_getppid, AUDIT_ARCH_I386));
        ASSERT_FALSE(cache_allows(&bpf, SYS_getppid | 0x40000000, AUDIT_ARCH_X86_64));
        vmrt__sb_filter_free(&bpf);
    }
#else
    VT_SKIP("the list of hot syscalls is written for x86-64");
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deny_by_name_reports_name),
        cmocka_unit_test(test_deny_by_number),
        cmocka_unit_test(test_deny_with_errno),
        cmocka_unit_test(test_profile_denies_allow_overrides),
        cmocka_unit_test(test_strict_profile),
        cmocka_unit_test(test_oci_profile),
        cmocka_unit_test(test_default_action_errno),
        cmocka_unit_test(test_trap_and_log_actions),
        cmocka_unit_test(test_builtin_blobs_match),
        cmocka_unit_test(test_profiles_cache_friendly),
    };
    VT_RUN("sandbox_seccomp", tests);
}
