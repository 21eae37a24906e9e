/* cgroup limits (v1 or v2, whichever the host has): memory with OOM
 * detection, processes, CPU time over the whole tree, disk-I/O budget,
 * usage in the report, cgroups removed afterwards. */
#include "sb_helpers.h"

#include "sandbox/sandbox_internal.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

VT_DEFINE_GLOBALS;

static void cfg_cg(vmrt_sandbox_config_t *c)
{
    sbt_config(c, VMRT_ISOLATION_PROCESS);
    c->enable_seccomp = false;
    c->strict = true; /* a cgroup that cannot be made fails the test */
}

static int touch_memory(void *arg)
{
    size_t n = (size_t)(uintptr_t)arg;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    for (size_t i = 0; i < n; i += 4096)
        p[i] = 1;
    return 0;
}

static void test_memory_oom(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_memory = 32 << 20;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, touch_memory, (void *)(uintptr_t)(256u << 20), &run);
    SBT_ASSERT_REASON(&run, VMRT_END_OUT_OF_MEMORY);
    ASSERT_IN_RANGE(run.r.peak_memory, 16u << 20, 33u << 20);
    /* Under the limit it runs to the end and the peak is reported. */
    sbt_run(&c, &l, NULL, touch_memory, (void *)(uintptr_t)(8u << 20), &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_TRUE(run.r.peak_memory >= 8u << 20);
}

/* A memory limit too small to exec anything: the guest fails (out of
 * memory or set-up failed) and the supervisor — this test — lives on. The
 * OOM killer takes every process sharing the victim's memory, so a
 * pre-exec child sharing ours (CLONE_VM) in the limited cgroup took the
 * test down with it (SIGKILL, no report). */
static void test_tiny_memory_exec(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    static const uint64_t sizes[] = {1024, 4096, 32768};
    for (int level = VMRT_ISOLATION_PROCESS; level <= VMRT_ISOLATION_CONTAINER; level++) {
        if (level == VMRT_ISOLATION_CONTAINER && !vmrt_sandbox_host()->root &&
            !vmrt_sandbox_host()->user_namespaces)
            break;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            vmrt_sandbox_config_t c;
            cfg_cg(&c);
            c.isolation_level = (vmrt_isolation_t)level;
            vmrt_limits_t l;
            vmrt_limits_init(&l);
            l.max_memory = sizes[i];
            char *argv[] = {"/bin/true", NULL};
            sbt_run_t run;
            sbt_run(&c, &l, argv, NULL, NULL, &run);
            fprintf(stderr, "level %d memory %llu: %s\n", level, (unsigned long long)sizes[i],
                    vmrt_end_reason_name(run.r.reason));
            ASSERT_TRUE(run.r.reason == VMRT_END_OUT_OF_MEMORY ||
                        run.r.reason == VMRT_END_SETUP_FAILED);
        }
    }
}

static int fork_many(void *arg)
{
    (void)arg;
    for (int i = 0; i < 64; i++) {
        pid_t p = fork();
        if (p == 0) {
            pause();
            _exit(0);
        }
        if (p < 0)
            pause(); /* the supervisor ends us */
    }
    return 0;
}

static void test_process_limit(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_processes = 8;
    l.max_wall_time_ns = 10000000000ull;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, fork_many, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_PROCESS_LIMIT);
}

static int spin_tree(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2; i++)
        if (fork() == 0)
            break; /* three spinning processes */
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

static void test_cpu_time_over_tree(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_cpu_time_ns = 600000000; /* RLIMIT_CPU alone (1 s each) would not stop this */
    l.max_wall_time_ns = 20000000000ull;
    sbt_run_t run;
    uint64_t t0 = vmrt_now_ns();
    sbt_run(&c, &l, NULL, spin_tree, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_CPU_TIME_LIMIT);
    ASSERT_TRUE(vmrt_now_ns() - t0 < 5000000000ull);
    ASSERT_TRUE(run.r.cpu_user_ns + run.r.cpu_sys_ns >= 500000000ull);
}

static char io_path[64];

static int write_disk(void *arg)
{
    (void)arg;
    int fd = open(io_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static char buf[1 << 20];
    for (int i = 0; i < 64 && fd >= 0; i++) {
        if (write(fd, buf, sizeof buf) < 0)
            return 1;
        fdatasync(fd);
    }
    return 0;
}

static void test_disk_io_budget(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    struct statfs sf;
    if (statfs("/var/tmp", &sf) != 0 || sf.f_type == 0x01021994 /* tmpfs */)
        VT_SKIP("/var/tmp is not on a block device");
    snprintf(io_path, sizeof io_path, "/var/tmp/vmrt-io-%d", (int)getpid());
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    c.strict = false; /* the budget is sampled: reported as such */
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_disk_io = 4 << 20;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, write_disk, NULL, &run);
    struct stat st;
    int have = stat(io_path, &st);
    unlink(io_path);
    SBT_ASSERT_REASON(&run, VMRT_END_DISK_IO_LIMIT);
    ASSERT_OK(have);
    ASSERT_TRUE(st.st_size < 64 << 20); /* stopped before the end */
    ASSERT_TRUE(run.r.io_write_bytes > 4u << 20);
}

/* The throttle line the guest's own io/blkio cgroup holds for maj:min, or "". */
static void own_throttle(char *out, size_t len)
{
    char cg[4096] = "", path[512], line[256];
    FILE *f = fopen("/proc/self/cgroup", "r");
    out[0] = '\0';
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "0::", 3) && !cg[0])
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/io.max", line + 3);
        else if (strstr(line, ":blkio:"))
            snprintf(path, sizeof path, "/sys/fs/cgroup/blkio%s/blkio.throttle.write_bps_device",
                     strstr(line, ":blkio:") + 7);
        else
            continue;
        snprintf(cg, sizeof cg, "%s", path);
    }
    fclose(f);
    FILE *t = cg[0] ? fopen(cg, "r") : NULL;
    if (t) {
        if (!fgets(out, (int)len, t))
            out[0] = '\0';
        out[strcspn(out, "\n")] = '\0';
        fclose(t);
    }
}

static char bw_expect[64];

/* Checks its cgroup's throttle line, then writes 2 MiB with O_DIRECT
 * (throttled on v1 and v2 alike). */
static int write_direct(void *arg)
{
    (void)arg;
    char got[256];
    own_throttle(got, sizeof got);
    if (strncmp(got, bw_expect, strlen(bw_expect)) != 0) {
        fprintf(stderr, "throttle line '%s', want '%s'\n", got, bw_expect);
        return 3;
    }
    void *buf;
    if (posix_memalign(&buf, 4096, 64 << 10) != 0)
        return 4;
    memset(buf, 'x', 64 << 10);
    int fd = open(io_path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    if (fd < 0)
        return errno == EINVAL ? 5 : 6; /* 5: no O_DIRECT on this file system */
    for (int i = 0; i < 32; i++)
        if (write(fd, buf, 64 << 10) != 64 << 10)
            return 7;
    close(fd);
    return 0;
}

/* --disk-bw: the device under the working directory is throttled (the
 * cgroup file says so) and 2 MiB of direct writes at 1 MiB/s take at least
 * 0.5 s (about 2 s expected; unthrottled they take milliseconds). */
static void test_disk_bw_throttled(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    unsigned maj, min;
    if (vmrt__sb_disk_of("/var/tmp", &maj, &min) != 0)
        VT_SKIP("/var/tmp is not on a block device");
    bool v2 = vmrt_sandbox_host()->cgroup_version == 2;
    snprintf(bw_expect, sizeof bw_expect, v2 ? "%u:%u rbps=1048576 wbps=1048576" : "%u:%u 1048576",
             maj, min);
    snprintf(io_path, sizeof io_path, "/var/tmp/vmrt-bw-%d", (int)getpid());
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    c.strict = false; /* v1: buffered writeback is a reported downgrade */
    c.cwd = "/var/tmp";
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_disk_bw = 1 << 20;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, write_direct, NULL, &run);
    unlink(io_path);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    if (run.r.exit_code == 5)
        VT_SKIP("/var/tmp refuses O_DIRECT");
    ASSERT_EQ(run.r.exit_code, 0);
    ASSERT_TRUE(run.r.wall_ns >= 500000000ull);
}

/* A writable path on no block device cannot be throttled: an error under
 * strict, a note otherwise. */
static void test_disk_bw_tmpfs(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    SBT_REQUIRE_CGROUP();
    struct statfs sf;
    if (statfs("/dev/shm", &sf) != 0 || sf.f_type != 0x01021994 /* tmpfs */)
        VT_SKIP("/dev/shm is not a tmpfs");
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    const char *rw[] = {"/dev/shm", NULL};
    c.rw_paths = rw;
    c.strict = true;
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_disk_bw = 1 << 20;
    vmrt_sandbox_t *sb;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, &l), VMRT_EUNSUPPORTED);
    ASSERT_TRUE(strstr(vmrt_sandbox_error(), "no block device") != NULL);
    c.strict = false;
    ASSERT_OK(vmrt_sandbox_new(&sb, &c, &l));
    vmrt_sandbox_report_t r;
    char *argv[] = {"/bin/true", NULL};
    ASSERT_OK(vmrt_sandbox_exec(sb, argv, NULL));
    ASSERT_OK(vmrt_sandbox_wait(sb, &r));
    bool noted = false;
    for (unsigned i = 0; i < r.n_notes; i++)
        noted |= strstr(r.notes[i], "/dev/shm is on no block device") != NULL;
    ASSERT_TRUE(noted);
    vmrt_sandbox_free(sb);
}

static int bw_port;

/* Sends 3 MiB to 127.0.0.1:bw_port, then waits until the peer has read it
 * all and closed (so the sandbox's wall time covers the transfer). */
static int send_3m(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)bw_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        return 2;
    static char buf[64 << 10];
    memset(buf, 'n', sizeof buf);
    for (int i = 0; i < 48; i++)
        for (size_t off = 0; off < sizeof buf;) {
            ssize_t k = send(s, buf + off, sizeof buf - off, MSG_NOSIGNAL);
            if (k <= 0)
                return 3;
            off += (size_t)k;
        }
    shutdown(s, SHUT_WR);
    char c;
    return recv(s, &c, 1, 0) == 0 ? 0 : 4;
}

/* --max-net-bw with --net host: the cgroup's BPF policer holds 3 MiB sent
 * over loopback at 1 MiB/s to at least 1.5 s (about 2.75 s expected after
 * the 256 KiB burst; unpoliced it takes milliseconds). */
static void test_host_net_bandwidth(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    if (access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) != 0 &&
        access("/sys/fs/cgroup/cgroup.procs", W_OK) != 0)
        VT_SKIP("no writable cgroup v2 hierarchy to attach the policer to");
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    ASSERT_TRUE(ls >= 0);
    ASSERT_OK(bind(ls, (struct sockaddr *)&a, sizeof a));
    ASSERT_OK(listen(ls, 1));
    ASSERT_OK(getsockname(ls, (struct sockaddr *)&a, &alen));
    bw_port = ntohs(a.sin_port);
    fflush(NULL);
    pid_t server = fork();
    ASSERT_TRUE(server >= 0);
    if (server == 0) { /* reads everything, then closes: exit 0 when 3 MiB came */
        int c = accept(ls, NULL, NULL);
        static char buf[64 << 10];
        size_t total = 0;
        ssize_t k;
        while (c >= 0 && (k = recv(c, buf, sizeof buf, 0)) > 0)
            total += (size_t)k;
        _exit(total == 3u << 20 ? 0 : 1);
    }
    close(ls);
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    c.net = VMRT_NET_HOST;
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_network_bandwidth = 1 << 20;
    l.max_wall_time_ns = 30000000000ull;
    sbt_run_t run;
    sbt_run(&c, &l, NULL, send_3m, NULL, &run);
    int st;
    ASSERT_EQ(waitpid(server, &st, 0), server);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fprintf(stderr, "3 MiB at 1 MiB/s: %.2f s\n", (double)run.r.wall_ns / 1e9);
    ASSERT_TRUE(run.r.wall_ns >= 1500000000ull);
    /* The report counts what went through (payload plus headers). */
    fprintf(stderr, "  %llu bytes out, %llu in, %llu packets refused\n",
            (unsigned long long)run.r.net_out_bytes, (unsigned long long)run.r.net_in_bytes,
            (unsigned long long)run.r.net_refused_packets);
    ASSERT_TRUE(run.r.net_out_bytes >= 3u << 20);
    ASSERT_TRUE(run.r.net_in_bytes > 0); /* the acknowledgements */
}

/* Spins for 600 ms of wall time; reports its CPU count in the exit code. */
static int spin_600ms(void *arg)
{
    (void)arg;
    uint64_t end = vmrt_now_ns() + 600000000ull;
    while (vmrt_now_ns() < end)
        ;
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 100;
}

static void test_cpu_quota_and_cpuset(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.cpu_quota = 0.2; /* 20 ms per 100 ms */
    l.vcpus = 1;
    l.max_cpu_time_ns = 60000000000ull; /* only for the tree's CPU accounting */
    sbt_run_t run;
    sbt_run(&c, &l, NULL, spin_600ms, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 1); /* cpuset: one CPU */
    uint64_t cpu = run.r.cpu_user_ns + run.r.cpu_sys_ns;
    fprintf(stderr, "cpu %llu ns over 600 ms wall\n", (unsigned long long)cpu);
    ASSERT_TRUE(cpu < 350000000ull); /* throttled to ~20% (+ one period of slack) */
}

/* No vmrt-<pid>-* cgroup of ours is left behind. */
static void test_cgroups_removed(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_PROCESS, false);
    SBT_REQUIRE_CGROUP();
    vmrt_sandbox_config_t c;
    cfg_cg(&c);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_memory = 64 << 20;
    l.max_processes = 16;
    char *argv[] = {"/bin/sh", "-c", "/bin/true & /bin/true & wait", NULL};
    sbt_run_t run;
    sbt_run(&c, &l, argv, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    /* both limits made cgroups, so both figures were measured */
    ASSERT_TRUE(run.r.peak_memory_known);
    ASSERT_TRUE(run.r.peak_memory > 0);
    ASSERT_TRUE(run.r.processes_known);
    ASSERT_IN_RANGE(run.r.processes, 1, 16);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "find /sys/fs/cgroup -maxdepth 4 -name 'vmrt-%d-*' | grep -q .",
             (int)getpid());
    ASSERT_NE(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_oom),           cmocka_unit_test(test_process_limit),
        cmocka_unit_test(test_cpu_time_over_tree),   cmocka_unit_test(test_disk_io_budget),
        cmocka_unit_test(test_cpu_quota_and_cpuset), cmocka_unit_test(test_cgroups_removed),
        cmocka_unit_test(test_disk_bw_throttled),    cmocka_unit_test(test_disk_bw_tmpfs),
        cmocka_unit_test(test_host_net_bandwidth),   cmocka_unit_test(test_tiny_memory_exec),
    };
    VT_RUN("sandbox_cgroup", tests);
}
