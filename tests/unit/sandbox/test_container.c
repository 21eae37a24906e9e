/* Isolation level CONTAINER: namespaces, the new root, --ro/--rw, private
 * /tmp, fresh /proc, minimal /dev, network modes. */
#include "sb_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>

VT_DEFINE_GLOBALS;

static char host_tmp_file[64];
static char ro_dir[64], rw_dir[64];

static int check_namespaces(void *arg)
{
    (void)arg;
    struct utsname u;
    if (getpid() != 1)
        return 10; /* pid namespace */
    if (uname(&u) != 0 || strcmp(u.nodename, "vmrt"))
        return 11; /* uts namespace */
    if (access("/root", F_OK) == 0 || access("/home", F_OK) == 0)
        return 12; /* host directories outside the new root */
    if (access("/usr/bin", X_OK) != 0 || access("/etc/passwd", R_OK) != 0)
        return 13; /* system directories bound */
    if (mkdir("/usr/vmrt-x", 0700) == 0 || errno != EROFS)
        return 14; /* ... read-only */
    if (access(host_tmp_file, F_OK) == 0)
        return 15; /* /tmp is private */
    int fd = open("/tmp/inside", O_CREAT | O_WRONLY, 0600);
    if (fd < 0)
        return 16; /* ... and writable */
    close(fd);
    if (access("/proc/1/status", R_OK) != 0 || access("/proc/2", F_OK) == 0)
        return 17; /* fresh /proc with only us */
    if (open("/proc/sys/kernel/hostname", O_WRONLY) >= 0 || errno != EROFS)
        return 18; /* /proc/sys read-only */
    fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || write(fd, "x", 1) != 1)
        return 19;
    close(fd);
    if (access("/dev/sda", F_OK) == 0 || access("/dev/vda", F_OK) == 0 ||
        access("/dev/mem", F_OK) == 0)
        return 20; /* minimal /dev */
    return 0;
}

static void test_namespaces_and_root(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    snprintf(host_tmp_file, sizeof host_tmp_file, "/tmp/vmrt-host-%d", (int)getpid());
    int fd = open(host_tmp_file, O_CREAT | O_WRONLY, 0600);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    sbt_run_t run;
    sbt_run(&c, NULL, NULL, check_namespaces, NULL, &run);
    unlink(host_tmp_file);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
    ASSERT_EQ(access("/tmp/inside", F_OK), -1); /* host /tmp unchanged */
}

static int check_binds(void *arg)
{
    (void)arg;
    char path[128];
    snprintf(path, sizeof path, "%s/file", ro_dir);
    if (access(path, R_OK) != 0)
        return 10;
    if (open(path, O_WRONLY) >= 0 || errno != EROFS)
        return 11;
    snprintf(path, sizeof path, "%s/new", rw_dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    if (fd < 0 || write(fd, "inside", 6) != 6)
        return 12;
    close(fd);
    return 0;
}

static void test_ro_rw_binds(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    snprintf(ro_dir, sizeof ro_dir, "/tmp/vmrt-ro-%d", (int)getpid());
    snprintf(rw_dir, sizeof rw_dir, "/var/tmp/vmrt-rw-%d", (int)getpid());
    ASSERT_OK(mkdir(ro_dir, 0700));
    ASSERT_OK(mkdir(rw_dir, 0700));
    char path[128];
    snprintf(path, sizeof path, "%s/file", ro_dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    const char *ro[] = {ro_dir, NULL}, *rw[] = {rw_dir, NULL};
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    c.ro_paths = ro;
    c.rw_paths = rw;
    sbt_run_t run;
    sbt_run(&c, NULL, NULL, check_binds, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
    char buf[16] = "";
    snprintf(path, sizeof path, "%s/new", rw_dir);
    fd = open(path, O_RDONLY);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(read(fd, buf, sizeof buf), 6); /* visible on the host */
    close(fd);
    ASSERT_STR_EQ(buf, "inside");
    unlink(path);
    rmdir(rw_dir);
    snprintf(path, sizeof path, "%s/file", ro_dir);
    unlink(path);
    rmdir(ro_dir);
}

static int try_loopback(void *arg)
{
    (void)arg;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0)
        return 20;
    socklen_t len = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0)
        return 21;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0)
        return 1; /* no usable loopback (ENETUNREACH with lo down) */
    return 0;
}

static void test_net_modes(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    sbt_run_t run;
    sbt_run(&c, NULL, NULL, try_loopback, NULL, &run); /* default: none */
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 1);
    c.net = VMRT_NET_LOOPBACK;
    sbt_run(&c, NULL, NULL, try_loopback, NULL, &run);
    ASSERT_EQ(run.r.exit_code, 0);
    c.net = VMRT_NET_HOST;
    sbt_run(&c, NULL, NULL, try_loopback, NULL, &run);
    ASSERT_EQ(run.r.exit_code, 0);
}

/* Sends 2 MiB over loopback TCP; exits with the time it took in 10 ms units. */
static int send_2mib(void *arg)
{
    (void)arg;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
        getsockname(l, (struct sockaddr *)&a, &len))
        return 20;
    pid_t rx = fork();
    if (rx == 0) {
        int c = accept(l, NULL, NULL);
        char buf[65536];
        while (read(c, buf, sizeof buf) > 0)
            ;
        _exit(0);
    }
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (struct sockaddr *)&a, sizeof a) != 0)
        return 21;
    static char buf[2 << 20];
    uint64_t t0 = vmrt_now_ns();
    for (size_t off = 0; off < sizeof buf;) {
        ssize_t n = write(c, buf + off, sizeof buf - off);
        if (n <= 0)
            return 22;
        off += (size_t)n;
    }
    close(c);
    waitpid(rx, NULL, 0);
    uint64_t ticks = (vmrt_now_ns() - t0) / 10000000ull;
    return ticks > 200 ? 200 : (int)ticks;
}

static void test_bandwidth_shaping(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    c.net = VMRT_NET_LOOPBACK;
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    sbt_run_t run;
    sbt_run(&c, &l, NULL, send_2mib, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    int unshaped = run.r.exit_code;
    l.max_network_bandwidth = 2 << 20; /* 2 MiB/s, 256 KiB burst: ~0.9 s */
    sbt_run(&c, &l, NULL, send_2mib, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    fprintf(stderr, "2 MiB: %d0 ms unshaped, %d0 ms at 2 MiB/s\n", unshaped, run.r.exit_code);
    ASSERT_IN_RANGE(run.r.exit_code, 70, 200);
    ASSERT_TRUE(unshaped < run.r.exit_code);
    /* The host's network: policed on the sandbox's cgroup v2 (test_cgroup
     * measures it), or refused by name where no v2 hierarchy is writable. */
    c.net = VMRT_NET_HOST;
    c.strict = true; /* a policer that could not attach is an error, not a note */
    vmrt_sandbox_t *sb;
    bool v2 = access("/sys/fs/cgroup/unified/cgroup.procs", W_OK) == 0 ||
              access("/sys/fs/cgroup/cgroup.procs", W_OK) == 0;
    int err = vmrt_sandbox_new(&sb, &c, &l);
    if (v2) {
        ASSERT_OK(err);
        vmrt_sandbox_free(sb);
    } else {
        ASSERT_EQ(err, VMRT_EUNSUPPORTED);
        ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "max_network_bandwidth"));
    }
}

static void test_exec_in_container(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    c.hostname = "guest";
    char *argv[] = {"/bin/sh", "-c", "echo $$ $(hostname) $(pwd)", NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, argv, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_STR_EQ(run.out, "1 guest /\n");
}

static void test_bad_bind_named(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    const char *ro[] = {"/nonexistent/dir", NULL};
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    c.ro_paths = ro;
    vmrt_sandbox_t *sb;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -ENOENT);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "/nonexistent/dir"));
}

/* Binds that would replace the sandbox's own /proc or /dev (or add the
 * host's /sys, or cover the whole root) are refused up front, naming the
 * option and the path — at FULL they exposed the host's processes. */
static void test_bind_refusals(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    char link[64];
    snprintf(link, sizeof link, "/tmp/vmrt-proclink-%d", (int)getpid());
    ASSERT_OK(symlink("/proc", link));
    const char *bad[] = {"/proc", "/proc/", "/proc/1",      "/dev", "/dev/null",
                         "/sys",  "/",      "/etc/../proc", link};
    for (int full = 0; full < 2; full++)
        for (int writable = 0; writable < 2; writable++)
            for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                const char *list[] = {bad[i], NULL};
                vmrt_sandbox_config_t c;
                sbt_config(&c, full ? VMRT_ISOLATION_FULL : VMRT_ISOLATION_CONTAINER);
                if (writable)
                    c.rw_paths = list;
                else
                    c.ro_paths = list;
                vmrt_sandbox_t *sb = NULL;
                int err = vmrt_sandbox_new(&sb, &c, NULL);
                if (!err)
                    vmrt_sandbox_free(sb);
                ASSERT_EQ(err, -EINVAL);
                const char *msg = vmrt_sandbox_error();
                ASSERT_NOT_NULL(strstr(msg, writable ? "--rw" : "--ro"));
                ASSERT_NOT_NULL(strstr(msg, bad[i]));
            }
    unlink(link);
    /* The host's /dev/shm may be shared (a plain directory of our /dev). */
    const char *shm[] = {"/dev/shm", NULL};
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_CONTAINER);
    c.rw_paths = shm;
    vmrt_sandbox_t *sb = NULL;
    if (access("/dev/shm", F_OK) == 0) {
        ASSERT_OK(vmrt_sandbox_new(&sb, &c, NULL));
        vmrt_sandbox_free(sb);
    }
}

static int read_passwd(void *arg)
{
    (void)arg;
    char buf[8] = "";
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd < 0 || read(fd, buf, 5) != 5)
        return 10;
    close(fd);
    if (strncmp(buf, "root:", 5) != 0)
        return 11;
    fd = open("/etc/passwd", O_WRONLY);
    if (fd >= 0)
        return 12; /* bound read-only */
    return 0;
}

/* A file bind, and one beneath a read-only system directory (/etc): the
 * mount point exists already and is used, nothing is created there. */
static void test_file_bind_under_sysdir(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_CONTAINER, false);
    const char *ro[] = {"/etc/passwd", NULL};
    for (int full = 0; full < 2; full++) {
        vmrt_sandbox_config_t c;
        sbt_config(&c, full ? VMRT_ISOLATION_FULL : VMRT_ISOLATION_CONTAINER);
        c.ro_paths = ro;
        c.enable_seccomp = false;
        sbt_run_t run;
        sbt_run(&c, NULL, NULL, read_passwd, NULL, &run);
        SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
        ASSERT_EQ(run.r.exit_code, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespaces_and_root), cmocka_unit_test(test_ro_rw_binds),
        cmocka_unit_test(test_net_modes),           cmocka_unit_test(test_bandwidth_shaping),
        cmocka_unit_test(test_exec_in_container),   cmocka_unit_test(test_bad_bind_named),
        cmocka_unit_test(test_bind_refusals),       cmocka_unit_test(test_file_bind_under_sysdir),
    };
    VT_RUN("sandbox_container", tests);
}
