/* Peers of the sandbox start-up benchmark. Usage: peer-sandbox CASE N
 * Prints microseconds per start-up + tear-down of /bin/true:
 *   fork-exec          plain posix_spawn + wait: the floor
 *   fork-exec-cold     the same, each run after an untimed 50 ms pause
 *   bwrap-container    bubblewrap, namespaces as `vmrt exec --isolation container`
 *                      (user-less: pid, mount, ipc, uts, net, cgroup), tmpfs
 *                      root with the system directories bound read-only,
 *                      /proc, /dev, /tmp
 *   bwrap-container-cold  the same, each run after an untimed 50 ms pause
 *   bwrap-hostnet      the same sharing the host network
 *   bwrap-full         bwrap-container + all capabilities dropped + new session
 *   firejail           firejail --noprofile --net=none (its own namespaces)
 *   crun               crun run on a minimal OCI bundle made here (pid, mount,
 *                      ipc, uts, net, cgroup namespaces; read-only root;
 *                      /proc, /dev, /tmp), cgroup manager disabled
 * crun refuses hybrid cgroup hosts (v1 controllers + a cgroup2 mount): the
 * crun case first enters a private mount namespace where /sys/fs/cgroup
 * holds only the v1 hierarchies. */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sandbox/spawn_loop.h"

#define BWRAP_COMMON                                                                               \
    "bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup",                \
        "--die-with-parent", "--tmpfs", "/", "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc",     \
        "/etc", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink",       \
        "usr/lib64", "/lib64", "--symlink", "usr/sbin", "/sbin", "--proc", "/proc", "--dev",       \
        "/dev", "--tmpfs", "/tmp"

static int hide_cgroup2(void)
{
    static const char *const v1[] = {"cpu",     "cpuacct", "cpuset", "memory",
                                     "devices", "freezer", "blkio",  "pids"};
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", "/sys/fs/cgroup", "tmpfs", 0, "mode=0755") != 0)
        return -1;
    for (size_t i = 0; i < sizeof v1 / sizeof v1[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/sys/fs/cgroup/%s", v1[i]);
        if (mkdir(path, 0755) != 0 || mount("cgroup", path, "cgroup", 0, v1[i]) != 0)
            rmdir(path); /* controller absent here: fine */
    }
    return 0;
}

static const char config_json[] =
    "{\"ociVersion\": \"1.0.2\",\n"
    " \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0},\n"
    "   \"args\": [\"/bin/true\"], \"env\": [\"PATH=/usr/bin:/bin\"], \"cwd\": \"/\",\n"
    "   \"noNewPrivileges\": true},\n"
    " \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
    " \"hostname\": \"crun\",\n"
    " \"mounts\": [\n"
    "  {\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
    "  {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
    "   \"options\": [\"nosuid\", \"mode=755\", \"size=64k\"]},\n"
    "  {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"},\n"
    "  {\"destination\": \"/usr\", \"type\": \"bind\", \"source\": \"/usr\",\n"
    "   \"options\": [\"rbind\", \"ro\"]},\n"
    "  {\"destination\": \"/etc\", \"type\": \"bind\", \"source\": \"/etc\",\n"
    "   \"options\": [\"rbind\", \"ro\"]}],\n"
    " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"},\n"
    "   {\"type\": \"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}, {\"type\": "
    "\"cgroup\"}]}}\n";

/* Writes the bundle into a fresh directory; returns its path. */
static char *make_bundle(void)
{
    static char dir[] = "/tmp/vmrt-crun-XXXXXX";
    if (!mkdtemp(dir))
        return NULL;
    static const char *const dirs[] = {"rootfs",      "rootfs/usr", "rootfs/etc",
                                       "rootfs/proc", "rootfs/dev", "rootfs/tmp"};
    static const char *const links[][2] = {{"usr/bin", "rootfs/bin"},
                                           {"usr/lib", "rootfs/lib"},
                                           {"usr/lib64", "rootfs/lib64"},
                                           {"usr/sbin", "rootfs/sbin"}};
    char path[128];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, dirs[i]);
        if (mkdir(path, 0755) != 0)
            return NULL;
    }
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, links[i][1]);
        if (symlink(links[i][0], path) != 0)
            return NULL;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f || fputs(config_json, f) < 0 || fclose(f) != 0)
        return NULL;
    return dir;
}

static void remove_bundle(const char *dir)
{
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "peer-sandbox: could not remove %s\n", dir);
}

static double crun(unsigned long n)
{
    if (hide_cgroup2() != 0) {
        fprintf(stderr, "peer-sandbox: crun: private cgroup view: %s\n", strerror(errno));
        exit(1);
    }
    char *dir = make_bundle();
    if (!dir) {
        fprintf(stderr, "peer-sandbox: crun: cannot write the bundle\n");
        exit(1);
    }
    char id[64];
    snprintf(id, sizeof id, "vmrt-bench-%d", (int)getpid());
    char *argv[] = {"crun", "--cgroup-manager=disabled", "run", "--bundle", dir, id, NULL};
    double us = bench_spawn_loop(argv, n);
    remove_bundle(dir);
    return us;
}

int main(int argc, char **argv)
{
    unsigned long n = argc == 3 ? strtoul(argv[2], NULL, 10) : 0;
    if (n == 0) {
        fprintf(stderr, "usage: peer-sandbox CASE N\n");
        return 2;
    }
    const char *c = argv[1];
    double us;
    if (!strcmp(c, "fork-exec")) {
        char *a[] = {"/bin/true", NULL};
        us = bench_spawn_loop(a, n);
    } else if (!strcmp(c, "fork-exec-cold")) {
        char *a[] = {"/bin/true", NULL};
        us = bench_spawn_loop_gap(a, n, BENCH_COLD_GAP_US);
    } else if (!strcmp(c, "bwrap-container")) {
        char *a[] = {BWRAP_COMMON, "--unshare-net", "/bin/true", NULL};
        us = bench_spawn_loop(a, n);
    } else if (!strcmp(c, "bwrap-container-cold")) {
        char *a[] = {BWRAP_COMMON, "--unshare-net", "/bin/true", NULL};
        us = bench_spawn_loop_gap(a, n, BENCH_COLD_GAP_US);
    } else if (!strcmp(c, "bwrap-hostnet")) {
        char *a[] = {BWRAP_COMMON, "/bin/true", NULL};
        us = bench_spawn_loop(a, n);
    } else if (!strcmp(c, "bwrap-full")) {
        char *a[] = {BWRAP_COMMON,    "--unshare-net", "--cap-drop", "ALL",
                     "--new-session", "/bin/true",     NULL};
        us = bench_spawn_loop(a, n);
    } else if (!strcmp(c, "firejail")) {
        char *a[] = {"firejail", "--noprofile", "--quiet", "--net=none", "/bin/true", NULL};
        us = bench_spawn_loop(a, n);
    } else if (!strcmp(c, "crun")) {
        us = crun(n);
    } else {
        fprintf(stderr, "peer-sandbox: unknown case '%s'\n", c);
        return 2;
    }
    printf("%.1f\n", us);
    return 0;
}
