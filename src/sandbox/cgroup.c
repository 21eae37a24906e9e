/* cgroups of a sandbox: common part and dispatch to the v1/v2 backends.
 *
 * A sandbox gets a cgroup only when a limit needs one (memory, processes,
 * CPU quota, cpuset, tree CPU time, disk-I/O budget): creating and removing
 * cgroup directories costs several system calls per controller, and a
 * sandbox without such limits starts faster without them. The child joins
 * by writing "0" to cgroup.procs files the parent opened (works for v1 and
 * v2 alike, one write per hierarchy), before it unshares its cgroup
 * namespace, so that namespace is rooted at the sandbox's cgroup.
 *
 * Names: <our cgroup>/vmrt-<pid>-<seq>. Removal retries while the last
 * processes are being reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "sandbox_internal.h"

int vmrt__sb_write_file(const char *dir, const char *file, const char *text)
{
    char path[SB_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int err = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
    close(fd);
    return err;
}

/* Reads a small file into buf (NUL-terminated); returns its length or -errno. */
int vmrt__sb_read_file(const char *dir, const char *file, char *buf, size_t len)
{
    char path[SB_PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    return (int)got;
}

bool vmrt__sb_read_u64_ok(const char *dir, const char *file, uint64_t *out)
{
    char buf[64];
    char *end;
    if (vmrt__sb_read_file(dir, file, buf, sizeof buf) <= 0)
        return false;
    *out = strtoull(buf, &end, 10);
    return end != buf;
}

uint64_t vmrt__sb_read_u64(const char *dir, const char *file)
{
    uint64_t v = 0;
    vmrt__sb_read_u64_ok(dir, file, &v);
    return v;
}

/* Value of "key N" or "key=N" in a keyed file's text; 0 when absent. */
uint64_t vmrt__sb_keyed_u64(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *s = text; (s = strstr(s, key)) != NULL; s += n)
        if ((s == text || s[-1] == '\n' || s[-1] == ' ') && (s[n] == ' ' || s[n] == '='))
            return strtoull(s + n + 1, NULL, 10);
    return 0;
}

static unsigned needed_controllers(const vmrt_limits_t *lim)
{
    unsigned m = 0;
    if (lim->max_memory)
        m |= 1u << SB_CG_MEMORY;
    if (lim->max_processes)
        m |= 1u << SB_CG_PIDS;
    if (lim->cpu_quota > 0)
        m |= 1u << SB_CG_CPU;
    if (lim->max_cpu_time_ns)
        m |= 1u << SB_CG_CPUACCT;
    if (lim->vcpus)
        m |= 1u << SB_CG_CPUSET;
    if (lim->max_disk_io || lim->max_disk_bw)
        m |= 1u << SB_CG_IO;
    return m;
}

/* Creates the sandbox's cgroups for the limits that need them and opens the
 * files the child writes to join. Returns 0 (cg->version 0 when none is
 * needed or the host has none: the caller downgrades), or -errno. */
int vmrt__sb_cgroup_create(sb_cgroup_t *cg, const vmrt_limits_t *lim, sb_plan_t *plan)
{
    memset(cg, 0, sizeof *cg);
    cg->needed = needed_controllers(lim);
    if (!cg->needed)
        return 0; /* no cgroup detection either (it reads mountinfo) */
    int version = vmrt__sb_host_cgroups()->cgroup_version;
    if (!version)
        return 0;
    cg->version = version;
    int err =
        version == 2 ? vmrt__sb_cgv2_setup(cg, lim, plan) : vmrt__sb_cgv1_setup(cg, lim, plan);
    if (err) {
        vmrt__sb_cgroup_destroy(cg);
        vmrt__sb_cgroup_close_fds(plan);
    }
    return err;
}

/* A fresh leaf name for this process. */
void vmrt__sb_cgroup_name(char *buf, size_t len)
{
    static atomic_uint seq;
    snprintf(buf, len, "vmrt-%d-%u", (int)getpid(), atomic_fetch_add(&seq, 1));
}

int vmrt__sb_cgroup_usage(const sb_cgroup_t *cg, sb_cgroup_usage_t *u)
{
    memset(u, 0, sizeof *u);
    if (cg->version == 2)
        return vmrt__sb_cgv2_usage(cg, u);
    if (cg->version == 1)
        return vmrt__sb_cgv1_usage(cg, u);
    return 0;
}

/* The first created directory (v1 procs lists are the same in each). */
static const char *any_dir(const sb_cgroup_t *cg)
{
    for (int c = 0; c < SB_CG_COUNT; c++)
        if (cg->created[c])
            return cg->dir[c];
    return NULL;
}

/* A PROCESS-level sandbox has no pid namespace: a descendant that leaves
 * the guest's process group (setsid, daemonising) would survive the kill.
 * Where a cgroup v2 hierarchy is writable — even one without controllers,
 * as beside v1 controllers — the guest also joins an empty v2 cgroup whose
 * cgroup.kill ends the whole tree. Returns 0 (nothing done when no such
 * hierarchy) or -errno. */
int vmrt__sb_cgroup_track(sb_cgroup_t *cg, sb_plan_t *plan)
{
    if (cg->version == 2 || plan->n_cgroup_fds >= SB_MAX_CGROUPS)
        return 0; /* v2 limits: their cgroup already tracks the tree */
    const char *mnt = vmrt__sb_cgv2_mount();
    char parent[SB_PATH_MAX], name[64];
    const char *self = vmrt__sb_self_cgroup(2, 0);
    if (!mnt[0] || snprintf(parent, sizeof parent, "%s%s", mnt, strcmp(self, "/") ? self : "") >=
                       (int)sizeof parent)
        return 0;
    if (access(parent, W_OK) != 0)
        return 0;
    vmrt__sb_cgroup_name(name, sizeof name);
    if (snprintf(cg->track, sizeof cg->track, "%s/%s", parent, name) >= (int)sizeof cg->track ||
        mkdir(cg->track, 0755) != 0)
        return 0; /* e.g. a v2 leaf we may not nest under: keep the group kill */
    cg->track_created = true;
    return vmrt__sb_cgroup_join_v2(plan, cg->track);
}

/* The child joins the v2 cgroup dir: born in it with CLONE_INTO_CGROUP
 * (clone3.c says why), or — where clone3 is refused — by writing to its
 * cgroup.procs, which is opened here too. Returns 0 or -errno. */
int vmrt__sb_cgroup_join_v2(sb_plan_t *plan, const char *dir)
{
    if (plan->n_cgroup_fds >= SB_MAX_CGROUPS)
        return -E2BIG;
    char path[SB_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (!plan->has_cg2) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        plan->has_cg2 = true;
        plan->cg2_fd = dfd;
        plan->cg2_slot = plan->n_cgroup_fds;
    }
    plan->cgroup_fds[plan->n_cgroup_fds++] = fd;
    return 0;
}

/* Closes the files the child would have joined through. */
void vmrt__sb_cgroup_close_fds(sb_plan_t *plan)
{
    for (unsigned i = 0; i < plan->n_cgroup_fds; i++)
        close(plan->cgroup_fds[i]);
    plan->n_cgroup_fds = 0;
    if (plan->has_cg2)
        close(plan->cg2_fd);
    plan->has_cg2 = false;
}

/* Kills every process in the sandbox's cgroup. */
int vmrt__sb_cgroup_kill(const sb_cgroup_t *cg)
{
    if (cg->track_created && vmrt__sb_write_file(cg->track, "cgroup.kill", "1") == 0)
        return 0;
    const char *dir = any_dir(cg);
    if (!dir)
        return 0;
    if (cg->version == 2 && vmrt__sb_write_file(dir, "cgroup.kill", "1") == 0)
        return 0;
    /* v1: no cgroup.kill; kill what is listed until the list is empty (a
     * fork racing the loop shows up in the next round). */
    for (int round = 0; round < 100; round++) {
        char buf[4096];
        if (vmrt__sb_read_file(dir, "cgroup.procs", buf, sizeof buf) <= 0)
            return 0;
        for (char *s = buf; *s;) {
            char *end;
            long pid = strtol(s, &end, 10);
            if (end == s)
                break;
            if (pid > 0)
                kill((pid_t)pid, SIGKILL);
            s = end + (*end ? 1 : 0);
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return -EBUSY;
}

static void remove_dir(const char *dir)
{
    for (int tries = 0; tries < 200 && rmdir(dir) != 0 && errno == EBUSY; tries++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

void vmrt__sb_cgroup_destroy(sb_cgroup_t *cg)
{
    if (cg->track_created) {
        remove_dir(cg->track);
        cg->track_created = false;
    }
    for (int c = SB_CG_COUNT - 1; c >= 0; c--) {
        if (!cg->created[c])
            continue;
        for (int tries = 0; tries < 200 && rmdir(cg->dir[c]) != 0 && errno == EBUSY; tries++) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        cg->created[c] = false;
    }
}

/* Throttles reads and writes on block device maj:min to bps bytes/s in the
 * sandbox's io (v2: io.max) or blkio (v1: blkio.throttle.*_bps_device)
 * cgroup. Returns 0 or -errno. */
int vmrt__sb_cgroup_throttle(const sb_cgroup_t *cg, unsigned maj, unsigned min, uint64_t bps)
{
    char buf[96];
    if (!(cg->needed & (1u << SB_CG_IO)) || !cg->version)
        return -ENOTSUP;
    if (cg->version == 2) {
        snprintf(buf, sizeof buf, "%u:%u rbps=%" PRIu64 " wbps=%" PRIu64, maj, min, bps, bps);
        return vmrt__sb_write_file(cg->dir[0], "io.max", buf);
    }
    snprintf(buf, sizeof buf, "%u:%u %" PRIu64, maj, min, bps);
    int err = vmrt__sb_write_file(cg->dir[SB_CG_IO], "blkio.throttle.read_bps_device", buf);
    return err ? err
               : vmrt__sb_write_file(cg->dir[SB_CG_IO], "blkio.throttle.write_bps_device", buf);
}

/* The whole disk under path's file system, for throttling: partitions map
 * to their disk (the kernel throttles disks only). Returns 0, -ENODEV when
 * no block device backs the path (tmpfs, overlay, btrfs, network file
 * systems), or -errno. */
int vmrt__sb_disk_of(const char *path, unsigned *maj, unsigned *min)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -errno;
    unsigned M = major(st.st_dev), m = minor(st.st_dev);
    if (M == 0)
        return -ENODEV; /* anonymous device: no block device behind */
    char dir[64], buf[32];
    snprintf(dir, sizeof dir, "/sys/dev/block/%u:%u", M, m);
    if (access(dir, F_OK) != 0)
        return -ENODEV;
    if (vmrt__sb_read_file(dir, "partition", buf, sizeof buf) > 0) {
        snprintf(dir, sizeof dir, "/sys/dev/block/%u:%u/..", M, m);
        if (vmrt__sb_read_file(dir, "dev", buf, sizeof buf) <= 0 ||
            sscanf(buf, "%u:%u", &M, &m) != 2)
            return -ENODEV;
    }
    *maj = M;
    *min = m;
    return 0;
}
