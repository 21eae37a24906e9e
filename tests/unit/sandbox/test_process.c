/* Isolation level PROCESS: exit and signal reports, rlimits, no_new_privs,
 * die-with-parent, own session, closed fds, wall and CPU time, file size,
 * set-up failures, kill. Seccomp is off here (test_seccomp covers it) so
 * these also run under qemu-user. */
#include "sb_helpers.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

VT_DEFINE_GLOBALS;

static void cfg_process(vmrt_sandbox_config_t *c)
{
    sbt_config(c, VMRT_ISOLATION_PROCESS);
    c->enable_seccomp = false;
}

static void test_exit_code_and_stdout(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    char *argv[] = {"/bin/sh", "-c", "echo hello; exit 3", NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, argv, NULL, NULL, &run);
    ASSERT_OK(run.start_err);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 3);
    ASSERT_STR_EQ(run.out, "hello\n");
    ASSERT_TRUE(run.r.wall_ns > 0);
    ASSERT_TRUE(run.r.pid > 0);
}

static void test_signal_reported(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, argv, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SIGNALED);
    ASSERT_EQ(run.r.signal, SIGTERM);
}

static void test_path_search_and_enoent(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    char *ok[] = {"true", NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, ok, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    char *missing[] = {"/nonexistent/prog", NULL};
    sbt_run(&c, NULL, missing, NULL, NULL, &run);
    ASSERT_EQ(run.start_err, -ENOENT);
    SBT_ASSERT_REASON(&run, VMRT_END_SETUP_FAILED);
    ASSERT_STR_EQ(run.r.setup_step, "execve");
    ASSERT_EQ(run.r.setup_errno, ENOENT);
}

static int leaked_fd = -1;

/* Inside the child: checks what PROCESS promises. Each failed check is a
 * distinct exit code. */
static int check_process_props(void *arg)
{
    (void)arg;
    if (fcntl(leaked_fd, F_GETFD) != -1 || errno != EBADF)
        return 10; /* fd not closed */
    if (getsid(0) != getpid() || getpgid(0) != getpid())
        return 11; /* own session and group */
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        return 12;
    int sig = 0;
    if (prctl(PR_GET_PDEATHSIG, &sig, 0, 0, 0) != 0 || sig != SIGKILL)
        return 13; /* die with parent */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur != 64 || rl.rlim_max != 64)
        return 14;
    if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur != 1 << 20)
        return 15;
    if (fcntl(1, F_GETFD) < 0)
        return 16; /* stdio kept */
    return 0;
}

static void test_process_properties(void **state)
{
    (void)state;
    leaked_fd = open("/dev/null", O_RDONLY); /* not CLOEXEC: must still be closed */
    ASSERT_TRUE(leaked_fd > 2);
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_open_files = 64;
    l.max_file_size = 1 << 20;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, check_process_props, NULL, &run);
    close(leaked_fd);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
}

static int sleep_long(void *arg)
{
    (void)arg;
    sleep(30);
    return 0;
}

static void test_wall_time_limit(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_wall_time_ns = 200000000;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, sleep_long, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_WALL_TIME_LIMIT);
    ASSERT_IN_RANGE(run.r.wall_ns, 150000000, 5000000000ull);
}

static int spin(void *arg)
{
    (void)arg;
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

static void test_cpu_time_limit(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    c.enable_cgroups = false; /* RLIMIT_CPU alone: SIGXCPU */
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_cpu_time_ns = 1000000000;
    l.max_wall_time_ns = 20000000000ull;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, spin, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_CPU_TIME_LIMIT);
    fprintf(stderr, "cpu %llu+%llu ns, wall %llu ns, signal %d\n",
            (unsigned long long)run.r.cpu_user_ns, (unsigned long long)run.r.cpu_sys_ns,
            (unsigned long long)run.r.wall_ns, run.r.signal);
    /* rusage is tick-sampled (and steal time on a VM): not exactly 1 s */
    ASSERT_TRUE(run.r.cpu_user_ns + run.r.cpu_sys_ns >= 500000000ull);
    ASSERT_EQ(run.r.n_notes, 1); /* per-process only: reported */
}

static int write_big(void *arg)
{
    int fd = open((const char *)arg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char buf[65536] = {0};
    for (int i = 0; i < 64; i++)
        if (write(fd, buf, sizeof buf) < 0)
            return 1;
    return 0;
}

static void test_file_size_limit(void **state)
{
    (void)state;
    char path[] = "/tmp/vmrt-fsize-XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_file_size = 256 << 10;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, write_big, path, &run);
    struct stat st;
    ASSERT_OK(stat(path, &st));
    unlink(path);
    SBT_ASSERT_REASON(&run, VMRT_END_FILE_SIZE_LIMIT);
    ASSERT_EQ(st.st_size, 256 << 10);
}

/* A grandchild killed by SIGXFSZ: the shell exits 128+SIGXFSZ, which with a
 * file size limit is reported as file_size_limit (and noted as inferred). */
static void test_file_size_limit_grandchild(void **state)
{
    (void)state;
    if (access("/bin/sh", X_OK) != 0 || access("/usr/bin/head", X_OK) != 0)
        VT_SKIP("needs /bin/sh and head");
    char path[64], script[160];
    snprintf(path, sizeof path, "/tmp/vmrt-xfsz-%d", (int)getpid());
    snprintf(script, sizeof script, "/usr/bin/head -c 10000 /dev/zero > %s", path);
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_file_size = 1024;
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    sbt_run_t run;
    sbt_run(&c, &l, argv, NULL, NULL, &run);
    struct stat st;
    ASSERT_OK(stat(path, &st));
    unlink(path);
    ASSERT_EQ(st.st_size, 1024);
    SBT_ASSERT_REASON(&run, VMRT_END_FILE_SIZE_LIMIT);
    ASSERT_EQ(run.r.exit_code, 128 + SIGXFSZ);
    ASSERT_TRUE(run.r.n_notes >= 1);
    ASSERT_NOT_NULL(strstr(run.r.notes[run.r.n_notes - 1], "inferred"));
    /* Without the limit the same status is just an exit status. */
    char *plain[] = {"/bin/sh", "-c", "exit 153", NULL};
    sbt_run(&c, NULL, plain, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 153);
}

static void test_kill(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    vmrt_sandbox_t *sb;
    ASSERT_OK(vmrt_sandbox_new(&sb, &c, NULL));
    char *argv[] = {"/bin/sh", "-c", "sleep 30 & sleep 30", NULL};
    ASSERT_OK(vmrt_sandbox_exec(sb, argv, NULL));
    ASSERT_EQ(vmrt_sandbox_exec(sb, argv, NULL), VMRT_ESTATE); /* one run per sandbox */
    pid_t pid = vmrt_sandbox_pid(sb);
    ASSERT_TRUE(pid > 0);
    ASSERT_OK(vmrt_sandbox_kill(sb));
    vmrt_sandbox_report_t r;
    ASSERT_OK(vmrt_sandbox_wait(sb, &r));
    ASSERT_EQ(r.reason, VMRT_END_KILLED);
    ASSERT_EQ(r.signal, SIGKILL);
    /* The background sleep, in the guest's process group, died too (and
     * its zombie is reaped by init, which may take a moment). */
    for (int i = 0; i < 200 && kill(-pid, 0) == 0; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    ASSERT_EQ(kill(-pid, 0), -1);
    ASSERT_EQ(errno, ESRCH);
    vmrt_sandbox_free(sb);
}

/* A descendant that leaves the process group dies with the sandbox too
 * (tracked by an empty cgroup v2 where one is writable). */
static void test_daemon_dies_with_tree(void **state)
{
    (void)state;
    if (access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) != 0 &&
        access("/sys/fs/cgroup/cgroup.procs", W_OK) != 0)
        VT_SKIP("no writable cgroup v2 hierarchy to track the tree");
    if (sbt_config_is("aarch64"))
        VT_SKIP("qemu-user: setsid'ed grandchildren are emulated processes");
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    /* The pause lets the daemon leave the group before the guest exits. */
    char *argv[] = {"/bin/sh", "-c",
                    "setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $!; sleep 0.3", NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, argv, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    pid_t daemon = (pid_t)atoi(run.out);
    ASSERT_TRUE(daemon > 0);
    char path[64], stat_line[256] = "";
    snprintf(path, sizeof path, "/proc/%d/stat", (int)daemon);
    FILE *f = fopen(path, "r");
    if (f) {
        if (!fgets(stat_line, sizeof stat_line, f))
            stat_line[0] = '\0';
        fclose(f);
    }
    const char *rp = strrchr(stat_line, ')');
    bool alive = rp && rp[1] == ' ' && rp[2] != 'Z'; /* gone or a zombie: dead */
    if (alive)
        kill(daemon, SIGKILL);
    ASSERT_FALSE(alive);
}

/* The guest's cgroup v2 line ("0::/...") names the sandbox's tracking
 * cgroup: 0 when it does, else a distinct code. */
static int guest_in_track_cgroup(void)
{
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    char *argv[] = {"/bin/cat", "/proc/self/cgroup", NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, argv, NULL, NULL, &run);
    if (run.start_err || run.r.reason != VMRT_END_EXITED || run.r.exit_code != 0)
        return 2;
    char want[32];
    snprintf(want, sizeof want, "/vmrt-%d-", (int)getpid());
    const char *v2 = strstr(run.out, "0::/");
    if (!v2 || (v2 != run.out && v2[-1] != '\n'))
        return 3;
    const char *eol = strchr(v2, '\n');
    const char *hit = strstr(v2, want);
    return hit && (!eol || hit < eol) ? 0 : 4;
}

/* Makes clone3 fail with ENOSYS in this process, as some container
 * runtimes' filters do. */
static int refuse_clone3(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* The guest joins the tracking cgroup v2 before its first instruction: born
 * in it (clone3 CLONE_INTO_CGROUP) or, where clone3 is refused, by writing
 * cgroup.procs. */
static void test_guest_joins_track_cgroup(void **state)
{
    (void)state;
    if (access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) != 0 &&
        access("/sys/fs/cgroup/cgroup.procs", W_OK) != 0)
        VT_SKIP("no writable cgroup v2 hierarchy to track the tree");
    if (sbt_config_is("aarch64"))
        VT_SKIP("qemu-user: cgroup membership of emulated processes");
    ASSERT_EQ(guest_in_track_cgroup(), 0);
    fflush(NULL);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0)
        _exit(refuse_clone3() != 0 ? 1 : guest_in_track_cgroup());
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    ASSERT_TRUE(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
}

/* --ro/--rw need a new root: below container they are a reported
 * downgrade (a note; an error under strict), never silently dropped. */
static void test_binds_below_container_reported(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    const char *ro[] = {"/etc", NULL};
    for (int level = VMRT_ISOLATION_NONE; level <= VMRT_ISOLATION_CONTAINER; level++) {
        for (int strict = 0; strict < 2; strict++) {
            vmrt_sandbox_config_t c;
            cfg_process(&c);
            c.isolation_level = (vmrt_isolation_t)level;
            c.ro_paths = ro;
            c.strict = strict;
            if (level == VMRT_ISOLATION_CONTAINER)
                c.enable_namespaces = false; /* runs as process: no new root either */
            vmrt_sandbox_t *sb = NULL;
            int err = vmrt_sandbox_new(&sb, &c, NULL);
            if (strict) {
                ASSERT_EQ(err, VMRT_EUNSUPPORTED);
                ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "/etc"));
                continue;
            }
            ASSERT_OK(err);
            vmrt_sandbox_report_t r;
            char *argv[] = {"/bin/true", NULL};
            ASSERT_OK(vmrt_sandbox_exec(sb, argv, NULL));
            ASSERT_OK(vmrt_sandbox_wait(sb, &r));
            vmrt_sandbox_free(sb);
            bool noted = false;
            for (unsigned i = 0; i < r.n_notes; i++)
                noted |= strstr(r.notes[i], "ro/rw paths (/etc)") != NULL;
            ASSERT_TRUE(noted);
        }
    }
    /* A bad path is an error at every level, not a note. */
    const char *bad[] = {"/nonexistent-vmrt-path", NULL};
    vmrt_sandbox_config_t c;
    cfg_process(&c);
    c.ro_paths = bad;
    vmrt_sandbox_t *sb = NULL;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_code_and_stdout),
        cmocka_unit_test(test_signal_reported),
        cmocka_unit_test(test_path_search_and_enoent),
        cmocka_unit_test(test_process_properties),
        cmocka_unit_test(test_wall_time_limit),
        cmocka_unit_test(test_cpu_time_limit),
        cmocka_unit_test(test_file_size_limit),
        cmocka_unit_test(test_file_size_limit_grandchild),
        cmocka_unit_test(test_kill),
        cmocka_unit_test(test_daemon_dies_with_tree),
        cmocka_unit_test(test_guest_joins_track_cgroup),
        cmocka_unit_test(test_binds_below_container_reported),
    };
    VT_RUN("sandbox_process", tests);
}
