/* Security suite: escape and abuse attempts that each isolation level must
 * contain. Every attempt runs as a function inside the sandbox and either
 * (a) dies with a seccomp violation naming the syscall, or (b) observes the
 * denial itself and exits 0 (exit 99 means it got through). Where the attempt
 * could touch the host, the test also checks that the host is unchanged.
 * Kernel features the host lacks skip with the reason. */
#include "../unit/sandbox/sb_helpers.h"

#include <arpa/inet.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>

VT_DEFINE_GLOBALS;

#define ESCAPED 99

enum { L_PROC = 1, L_CONT = 2, L_FULL = 4, L_ALL = 7 };

static pid_t host_pid;     /* a host process the guest must not reach */
static char host_file[64]; /* a host file outside the new root */
static int host_port;      /* a listener on the host's loopback */

/* Runs fn at each level in `levels`; expects a violation of `syscall` (name)
 * or, when NULL, a clean exit 0. */
static void attempt(vmrt_sandbox_fn fn, unsigned levels, const char *syscall,
                    const vmrt_limits_t *lim, vmrt_end_reason_t want)
{
    static const vmrt_isolation_t lv[] = {VMRT_ISOLATION_PROCESS, VMRT_ISOLATION_CONTAINER,
                                          VMRT_ISOLATION_FULL};
    for (int i = 0; i < 3; i++) {
        if (!(levels & (1u << i)))
            continue;
        vmrt_sandbox_config_t c;
        sbt_config(&c, lv[i]);
        sbt_run_t run;
        sbt_run(&c, lim, NULL, fn, NULL, &run);
        fprintf(stderr, "  %-9s -> %s %s (exit %d)\n", vmrt_isolation_name(lv[i]),
                vmrt_end_reason_name(run.r.reason), run.r.syscall_name, run.r.exit_code);
        if (syscall) {
            SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
            if (*syscall)
                ASSERT_STR_EQ(run.r.syscall_name, syscall);
        } else {
            SBT_ASSERT_REASON(&run, want);
            if (want == VMRT_END_EXITED)
                ASSERT_EQ(run.r.exit_code, 0);
        }
    }
}

#define NEED_ALL() SBT_REQUIRE(VMRT_ISOLATION_FULL, true)

/* --- resource abuse --------------------------------------------------- */

static int fork_bomb(void *arg)
{
    (void)arg;
    for (;;)
        fork();
    return ESCAPED;
}

static void test_fork_bomb(void **state)
{
    (void)state;
    NEED_ALL();
    SBT_REQUIRE_CGROUP();
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_processes = 32;
    l.max_wall_time_ns = 20000000000ull;
    attempt(fork_bomb, L_ALL, NULL, &l, VMRT_END_PROCESS_LIMIT);
}

static int memory_bomb(void *arg)
{
    (void)arg;
    for (;;) {
        char *p = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 0;
        memset(p, 1, 16 << 20);
    }
}

static void test_memory_bomb(void **state)
{
    (void)state;
    NEED_ALL();
    SBT_REQUIRE_CGROUP();
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_memory = 48 << 20;
    attempt(memory_bomb, L_ALL, NULL, &l, VMRT_END_OUT_OF_MEMORY);
}

static int cpu_spin(void *arg)
{
    (void)arg;
    for (volatile unsigned long i = 0;; i++)
        ;
    return ESCAPED;
}

static void test_cpu_spin(void **state)
{
    (void)state;
    NEED_ALL();
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_cpu_time_ns = 300000000;
    l.max_wall_time_ns = 20000000000ull;
    attempt(cpu_spin, L_ALL, NULL, &l, VMRT_END_CPU_TIME_LIMIT);
}

static int disk_fill(void *arg)
{
    (void)arg;
    int fd = open("/tmp/fill", O_WRONLY | O_CREAT, 0600);
    static char buf[1 << 16];
    if (fd < 0)
        return 1;
    for (long i = 0; i < 100000; i++)
        if (write(fd, buf, sizeof buf) < 0)
            return errno == ENOSPC ? 0 : 2;
    return ESCAPED;
}

static void test_disk_fill(void **state)
{
    (void)state;
    NEED_ALL();
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_memory = 32 << 20; /* also sizes the sandbox's tmpfs */
    struct statvfs before, after;
    ASSERT_OK(statvfs("/tmp", &before));
    attempt(disk_fill, L_CONT | L_FULL, NULL, &l, VMRT_END_EXITED);
    ASSERT_OK(statvfs("/tmp", &after));
    uint64_t lost = (before.f_bavail > after.f_bavail ? before.f_bavail - after.f_bavail : 0) *
                    (uint64_t)before.f_frsize;
    ASSERT_TRUE(lost < 16u << 20); /* the host's /tmp did not fill */
}

/* --- file system ------------------------------------------------------ */

static int read_host_file(void *arg)
{
    (void)arg;
    int fd = open(host_file, O_RDONLY);
    if (fd >= 0)
        return ESCAPED;
    return access("/root", F_OK) == 0 ? ESCAPED : 0;
}

static void test_read_host_files(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(read_host_file, L_CONT | L_FULL, NULL, NULL, VMRT_END_EXITED);
}

/* The host's /proc (its processes, beyond hidepid) asked for through a
 * bind: refused before anything runs, at container and full; the fresh
 * /proc does not show the host process. */
static int see_host_pid(void *arg)
{
    (void)arg;
    char path[32];
    snprintf(path, sizeof path, "/proc/%d", (int)host_pid);
    return access(path, F_OK) == 0 ? ESCAPED : 0;
}

static void test_host_proc_bind_refused(void **state)
{
    (void)state;
    NEED_ALL();
    static const char *const paths[] = {"/proc", "/proc/1", "/dev", "/sys", "/"};
    for (int full = 0; full < 2; full++)
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            const char *list[] = {paths[i], NULL};
            vmrt_sandbox_config_t c;
            sbt_config(&c, full ? VMRT_ISOLATION_FULL : VMRT_ISOLATION_CONTAINER);
            c.rw_paths = list;
            vmrt_sandbox_t *sb = NULL;
            int err = vmrt_sandbox_new(&sb, &c, NULL);
            if (!err)
                vmrt_sandbox_free(sb);
            ASSERT_EQ(err, -EINVAL);
        }
    attempt(see_host_pid, L_CONT | L_FULL, NULL, NULL, VMRT_END_EXITED);
}

static int write_readonly(void *arg)
{
    (void)arg;
    if (open("/etc/passwd", O_WRONLY | O_APPEND) >= 0)
        return ESCAPED;
    if (mkdir("/usr/vmrt-escape", 0700) == 0)
        return ESCAPED;
    return errno == EROFS || errno == EACCES ? 0 : 1;
}

static void test_write_readonly(void **state)
{
    (void)state;
    NEED_ALL();
    struct stat before, after;
    ASSERT_OK(stat("/etc/passwd", &before));
    attempt(write_readonly, L_CONT | L_FULL, NULL, NULL, VMRT_END_EXITED);
    ASSERT_OK(stat("/etc/passwd", &after));
    ASSERT_EQ(before.st_size, after.st_size);
    ASSERT_EQ(access("/usr/vmrt-escape", F_OK), -1);
}

static int overwrite_self_exe(void *arg)
{
    (void)arg;
    int fd = open("/proc/self/exe", O_WRONLY | O_TRUNC);
    return fd >= 0 ? ESCAPED : 0;
}

static void test_overwrite_proc_self_exe(void **state)
{
    (void)state;
    NEED_ALL();
    struct stat before, after;
    ASSERT_OK(stat("/proc/self/exe", &before));
    attempt(overwrite_self_exe, L_ALL, NULL, NULL, VMRT_END_EXITED);
    ASSERT_OK(stat("/proc/self/exe", &after));
    ASSERT_EQ(before.st_size, after.st_size);
}

static int chroot_escape(void *arg)
{
    (void)arg;
    mkdir("/tmp/c", 0700);
    if (chroot("/tmp/c") != 0)
        return 0;
    for (int i = 0; i < 64; i++)
        chdir("..");
    return chroot(".") == 0 && access("/root", F_OK) == 0 ? ESCAPED : 0;
}

static void test_chroot_escape(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(chroot_escape, L_ALL, "chroot", NULL, VMRT_END_EXITED);
}

static int do_mount(void *arg)
{
    (void)arg;
    return mount("tmpfs", "/tmp", "tmpfs", 0, NULL) == 0 ? ESCAPED : 0;
}

static void test_mount(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(do_mount, L_ALL, "mount", NULL, VMRT_END_EXITED);
}

static int open_by_handle(void *arg)
{
    (void)arg;
    char buf[sizeof(struct file_handle) + 128];
    struct file_handle *h = (struct file_handle *)buf;
    h->handle_bytes = 8;
    h->handle_type = 1;
    memset(h->f_handle, 0, 8);
    return syscall(SYS_open_by_handle_at, AT_FDCWD, h, O_RDONLY) >= 0 ? ESCAPED : 0;
}

static void test_open_by_handle_at(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(open_by_handle, L_ALL, "open_by_handle_at", NULL, VMRT_END_EXITED);
}

/* --- processes, namespaces, network ----------------------------------- */

static int ptrace_host(void *arg)
{
    (void)arg;
    return syscall(SYS_ptrace, PTRACE_ATTACH, host_pid, 0, 0) == 0 ? ESCAPED : 0;
}

static void test_ptrace_host(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(ptrace_host, L_ALL, "ptrace", NULL, VMRT_END_EXITED);
    ASSERT_OK(kill(host_pid, 0)); /* still alive, untraced */
}

static int kill_host(void *arg)
{
    (void)arg;
    return kill(host_pid, SIGKILL) == 0 ? ESCAPED : 0;
}

static void test_kill_host_process(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(kill_host, L_CONT | L_FULL, NULL, NULL, VMRT_END_EXITED);
    ASSERT_OK(kill(host_pid, 0));
}

static int new_userns(void *arg)
{
    (void)arg;
    return unshare(CLONE_NEWUSER) == 0 ? ESCAPED : 0;
}

static int clone_userns(void *arg)
{
    (void)arg;
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    return r > 0 ? ESCAPED : 0;
}

static void test_user_namespace(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(new_userns, L_ALL, "unshare", NULL, VMRT_END_EXITED);
    /* clone with namespace flags: ENOSYS at process/container, killed at full */
    attempt(clone_userns, L_PROC | L_CONT, NULL, NULL, VMRT_END_EXITED);
    attempt(clone_userns, L_FULL, "clone", NULL, VMRT_END_EXITED);
}

static int connect_host(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)host_port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    return s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? ESCAPED : 0;
}

static void test_connect_host_loopback(void **state)
{
    (void)state;
    NEED_ALL();
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ASSERT_OK(bind(l, (struct sockaddr *)&a, sizeof a));
    ASSERT_OK(listen(l, 4));
    ASSERT_OK(getsockname(l, (struct sockaddr *)&a, &len));
    host_port = ntohs(a.sin_port);
    attempt(connect_host, L_CONT | L_FULL, NULL, NULL, VMRT_END_EXITED);
    ASSERT_EQ(accept(l, NULL, NULL), -1); /* nobody connected */
    ASSERT_EQ(errno, EAGAIN);
    close(l);
}

static int vsock(void *arg)
{
    (void)arg;
    return socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) >= 0 ? ESCAPED : 0;
}

static void test_af_vsock(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(vsock, L_ALL, "socket", NULL, VMRT_END_EXITED);
}

/* --- kernel attack surface -------------------------------------------- */

static int do_keyctl(void *arg)
{
    (void)arg;
    return syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "vmrt") >= 0 ? ESCAPED : 0;
}

static int do_bpf(void *arg)
{
    (void)arg;
    char attr[128] = {0};
    return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr) >= 0 ? ESCAPED : 0;
}

static int do_perf(void *arg)
{
    (void)arg;
    char attr[128] = {0};
    return syscall(SYS_perf_event_open, attr, 0, -1, -1, 0) >= 0 ? ESCAPED : 0;
}

static int do_userfaultfd(void *arg)
{
    (void)arg;
    return syscall(SYS_userfaultfd, 0) >= 0 ? ESCAPED : 0;
}

static int do_io_uring(void *arg)
{
    (void)arg;
    char params[120] = {0};
    return syscall(SYS_io_uring_setup, 8, params) >= 0 ? ESCAPED : 0;
}

static void test_kernel_surface(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(do_keyctl, L_ALL, "keyctl", NULL, VMRT_END_EXITED);
    attempt(do_bpf, L_ALL, "bpf", NULL, VMRT_END_EXITED);
    attempt(do_perf, L_ALL, "perf_event_open", NULL, VMRT_END_EXITED);
    attempt(do_userfaultfd, L_ALL, "userfaultfd", NULL, VMRT_END_EXITED);
    attempt(do_io_uring, L_ALL, "io_uring_setup", NULL, VMRT_END_EXITED);
}

static int tiocsti(void *arg)
{
    char c = 'x';
    unsigned long cmd = TIOCSTI | (arg ? 1ul << 32 : 0); /* high bits: still TIOCSTI */
    return syscall(SYS_ioctl, 0, cmd, &c) == 0 ? ESCAPED : 0;
}

static int tiocsti_high(void *arg)
{
    (void)arg;
    return tiocsti((void *)1);
}

static void test_tiocsti(void **state)
{
    (void)state;
    NEED_ALL();
    attempt(tiocsti, L_ALL, "ioctl", NULL, VMRT_END_EXITED);
    attempt(tiocsti_high, L_ALL, "ioctl", NULL, VMRT_END_EXITED);
}

#if defined(__x86_64__)
static int x32_call(void *arg)
{
    (void)arg;
    return syscall(0x40000000 | SYS_getpid) >= 0 ? ESCAPED : 0;
}

static int int80_call(void *arg)
{
    (void)arg;
    long ret = 20; /* i386 getpid */
    __asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
    return ret > 0 ? ESCAPED : 0;
}
#endif

static void test_non_native_abi(void **state)
{
    (void)state;
#if defined(__x86_64__)
    NEED_ALL();
    attempt(x32_call, L_ALL, "", NULL, VMRT_END_EXITED);
    attempt(int80_call, L_ALL, "", NULL, VMRT_END_EXITED);
#else
    VT_SKIP("x32 and int 0x80 exist only on x86-64");
#endif
}

static int setup(void **state)
{
    (void)state;
    host_pid = fork();
    if (host_pid == 0) {
        pause();
        _exit(0);
    }
    snprintf(host_file, sizeof host_file, "/var/tmp/vmrt-secret-%d", (int)getpid());
    int fd = open(host_file, O_CREAT | O_WRONLY, 0600);
    if (fd >= 0)
        close(fd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kill(host_pid, SIGKILL);
    waitpid(host_pid, NULL, 0);
    unlink(host_file);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fork_bomb),
        cmocka_unit_test(test_memory_bomb),
        cmocka_unit_test(test_cpu_spin),
        cmocka_unit_test(test_disk_fill),
        cmocka_unit_test(test_read_host_files),
        cmocka_unit_test(test_write_readonly),
        cmocka_unit_test(test_host_proc_bind_refused),
        cmocka_unit_test(test_overwrite_proc_self_exe),
        cmocka_unit_test(test_chroot_escape),
        cmocka_unit_test(test_mount),
        cmocka_unit_test(test_open_by_handle_at),
        cmocka_unit_test(test_ptrace_host),
        cmocka_unit_test(test_kill_host_process),
        cmocka_unit_test(test_user_namespace),
        cmocka_unit_test(test_connect_host_loopback),
        cmocka_unit_test(test_af_vsock),
        cmocka_unit_test(test_kernel_surface),
        cmocka_unit_test(test_tiocsti),
        cmocka_unit_test(test_non_native_abi),
    };
    vt_total = (int)(sizeof tests / sizeof tests[0]);
    int failed = _cmocka_run_group_tests("sandbox_security", tests, sizeof tests / sizeof tests[0],
                                         setup, teardown);
    return failed ? 1 : vt_skipped == vt_total ? 77 : 0;
}
