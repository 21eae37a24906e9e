/* Bandwidth on the host's network ([SB-NETBW] in src/sandbox/netbw.c): the
 * eBPF token bucket on a cgroup v2 directory holds a TCP sender over
 * loopback to the rate, in both directions, and touches nothing outside the
 * cgroup. Needs root and a cgroup v2 hierarchy (empty is enough). */
#include "sb_helpers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox/netbw.h"
#include "sandbox/sandbox_internal.h"

VT_DEFINE_GLOBALS;

#define RATE  (4u << 20) /* 4 MiB/s */
#define BYTES (6u << 20) /* 6 MiB: 1.25 s at the rate after the burst, 0.01 s without */

static char cg_dir[256];

/* A fresh cgroup v2 directory; skips the test where there is none. */
static int make_cgroup(void)
{
    if (geteuid() != 0)
        VT_SKIP("needs root (cgroup directory and CAP_BPF)");
    const char *mnt = vmrt__sb_cgv2_mount();
    if (!mnt || !mnt[0])
        VT_SKIP("no cgroup v2 hierarchy mounted");
    snprintf(cg_dir, sizeof cg_dir, "%s/vmrt-test-netbw-%d", mnt, (int)getpid());
    if (mkdir(cg_dir, 0755) != 0 && errno != EEXIST)
        VT_SKIP("cannot create a cgroup v2 directory");
    int fd = open(cg_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_TRUE(fd >= 0);
    return fd;
}

static int listener(int *port)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_TRUE(l >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_OK(bind(l, (struct sockaddr *)&sa, sizeof sa));
    ASSERT_OK(listen(l, 1));
    socklen_t len = sizeof sa;
    ASSERT_OK(getsockname(l, (struct sockaddr *)&sa, &len));
    *port = ntohs(sa.sin_port);
    return l;
}

/* A child in the cgroup connects to port and sends (upload) or receives
 * (download) BYTES; returns the child's pid. */
static pid_t child_in_cgroup(int port, bool upload)
{
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid)
        return pid;
    char path[300];
    snprintf(path, sizeof path, "%s/cgroup.procs", cg_dir);
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, "0", 1) != 1)
        _exit(10);
    close(fd);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
        _exit(11);
    static char buf[65536];
    size_t done = 0;
    while (done < BYTES) {
        ssize_t n = upload ? write(s, buf, sizeof buf) : read(s, buf, sizeof buf);
        if (n <= 0)
            _exit(12);
        done += (size_t)n;
    }
    close(s);
    _exit(0);
}

/* Moves BYTES between a child in the cgroup and this process; seconds. */
static double transfer(bool upload)
{
    int port, l = listener(&port);
    pid_t pid = child_in_cgroup(port, upload);
    int c = accept(l, NULL, NULL);
    ASSERT_TRUE(c >= 0);
    uint64_t t0 = vmrt_now_ns();
    static char buf[65536];
    size_t done = 0;
    while (done < BYTES) {
        ssize_t n = upload ? read(c, buf, sizeof buf) : write(c, buf, sizeof buf);
        ASSERT_TRUE(n > 0);
        done += (size_t)n;
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    double secs = (double)(vmrt_now_ns() - t0) / 1e9;
    ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(c);
    close(l);
    return secs;
}

static void test_rate_both_directions(void **state)
{
    (void)state;
    int cg = make_cgroup();
    sb_netbw_t nb;
    int err = vmrt__sb_netbw_attach(&nb, cg, RATE);
    if (err == -EPERM || err == -EINVAL || err == -ENOSYS) {
        rmdir(cg_dir);
        VT_SKIP("cgroup BPF programs refused here (%s; qemu-user has no bpf(2))", strerror(-err));
    }
    ASSERT_OK(err);
    /* The floor: (BYTES - one burst) at RATE; no upper bound (shared machine). */
    double floor = (double)(BYTES - vmrt__sb_netbw_burst(RATE)) / RATE * 0.9;
    double up = transfer(true);
    sb_netbw_stats_t st;
    ASSERT_OK(vmrt__sb_netbw_stats(&nb, &st));
    printf("upload %.2f s (%.1f MiB/s), %llu bytes out, %llu packets refused\n", up,
           BYTES / up / 1048576, (unsigned long long)st.bytes[0],
           (unsigned long long)st.dropped[0]);
    ASSERT_TRUE(up >= floor);
    ASSERT_TRUE(st.bytes[0] >= BYTES); /* every payload byte went through egress */
    double down = transfer(false);
    ASSERT_OK(vmrt__sb_netbw_stats(&nb, &st));
    printf("download %.2f s (%.1f MiB/s), %llu bytes in, %llu packets refused\n", down,
           BYTES / down / 1048576, (unsigned long long)st.bytes[1],
           (unsigned long long)st.dropped[1]);
    ASSERT_TRUE(down >= floor);
    ASSERT_TRUE(st.bytes[1] >= BYTES);
    vmrt__sb_netbw_close(&nb);
    close(cg);
    ASSERT_OK(rmdir(cg_dir)); /* the programs go with the directory */
}

/* The same transfer outside the cgroup is not limited: the programs see only
 * the cgroup's sockets. */
static void test_outside_unlimited(void **state)
{
    (void)state;
    int cg = make_cgroup();
    sb_netbw_t nb;
    int err = vmrt__sb_netbw_attach(&nb, cg, 64 * 1024); /* 64 KiB/s: 96 s for BYTES */
    if (err == -EPERM || err == -EINVAL || err == -ENOSYS) {
        rmdir(cg_dir);
        VT_SKIP("cgroup BPF programs refused here (%s; qemu-user has no bpf(2))", strerror(-err));
    }
    ASSERT_OK(err);
    int port, l = listener(&port);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT_OK(connect(s, (struct sockaddr *)&sa, sizeof sa));
    int c = accept(l, NULL, NULL);
    ASSERT_TRUE(c >= 0);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        static char buf[65536];
        for (size_t done = 0; done < BYTES;) {
            ssize_t n = write(s, buf, sizeof buf);
            if (n <= 0)
                _exit(1);
            done += (size_t)n;
        }
        _exit(0);
    }
    close(s);
    static char buf[65536];
    uint64_t t0 = vmrt_now_ns();
    for (size_t done = 0; done < BYTES;) {
        ssize_t n = read(c, buf, sizeof buf);
        ASSERT_TRUE(n > 0);
        done += (size_t)n;
    }
    int st;
    ASSERT_EQ(waitpid(pid, &st, 0), pid);
    double secs = (double)(vmrt_now_ns() - t0) / 1e9;
    ASSERT_TRUE(secs < 30.0); /* 96 s if it were limited */
    sb_netbw_stats_t ns;
    ASSERT_OK(vmrt__sb_netbw_stats(&nb, &ns));
    ASSERT_EQ(ns.bytes[0] + ns.bytes[1], 0);
    vmrt__sb_netbw_close(&nb);
    close(c);
    close(l);
    close(cg);
    ASSERT_OK(rmdir(cg_dir));
}

static void test_bad_rate(void **state)
{
    (void)state;
    sb_netbw_t nb;
    ASSERT_EQ(vmrt__sb_netbw_attach(&nb, -1, 0), -EINVAL);
    ASSERT_EQ(nb.map_fd, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_rate),
        cmocka_unit_test(test_rate_both_directions),
        cmocka_unit_test(test_outside_unlimited),
    };
    VT_RUN("netbw", tests);
}
