/* cgroup v1 backend: one directory per controller hierarchy (controllers
 * may be co-mounted, e.g. "cpu,cpuacct": the directory is then shared).
 * Files: memory.limit_in_bytes (+ memsw when swap accounting exists),
 * memory.max_usage_in_bytes, memory.oom_control's oom_kill; pids.max,
 * pids.events; cpu.cfs_quota_us; cpuacct.usage/stat; cpuset.cpus/mems;
 * blkio.throttle.io_service_bytes_recursive.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox_internal.h"

static int write_u64(const char *dir, const char *file, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return vmrt__sb_write_file(dir, file, buf);
}

/* cpuset needs cpus and mems before a task may join. */
static int setup_cpuset(const char *dir, const char *parent, uint32_t vcpus)
{
    char mems[256], cpus[32];
    if (vmrt__sb_read_file(parent, "cpuset.mems", mems, sizeof mems) < 0)
        return -errno;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n > 0 && vcpus > (uint32_t)n)
        return -EINVAL;
    snprintf(cpus, sizeof cpus, vcpus > 1 ? "0-%u" : "0", vcpus - 1);
    int err = vmrt__sb_write_file(dir, "cpuset.mems", mems);
    return err ? err : vmrt__sb_write_file(dir, "cpuset.cpus", cpus);
}

/* Writes the limits of controller c; on failure *what names the limit and
 * the file. */
static int apply_limits(sb_ctrl_t c, const char *dir, const char *parent, const vmrt_limits_t *lim,
                        const char **what)
{
    char path[SB_PATH_MAX + 64];
    switch (c) {
    case SB_CG_MEMORY: {
        *what = "max_memory (memory.limit_in_bytes)";
        int err = write_u64(dir, "memory.limit_in_bytes", lim->max_memory);
        snprintf(path, sizeof path, "%s/memory.memsw.limit_in_bytes", dir);
        if (!err && access(path, W_OK) == 0) {
            *what = "max_memory (memory.memsw.limit_in_bytes)";
            err = write_u64(dir, "memory.memsw.limit_in_bytes", lim->max_memory);
        }
        return err;
    }
    case SB_CG_PIDS:
        *what = "max_processes (pids.max)";
        return write_u64(dir, "pids.max", lim->max_processes);
    case SB_CG_CPU: {
        *what = "cpu_quota (cpu.cfs_period_us)";
        int err = write_u64(dir, "cpu.cfs_period_us", 100000);
        *what = "cpu_quota (cpu.cfs_quota_us)";
        return err ? err
                   : write_u64(dir, "cpu.cfs_quota_us", (uint64_t)(lim->cpu_quota * 100000.0));
    }
    case SB_CG_CPUSET:
        *what = "vcpus (cpuset.cpus/mems)";
        return setup_cpuset(dir, parent, lim->vcpus);
    case SB_CG_CPUACCT:
    case SB_CG_IO:
    case SB_CG_COUNT:
    default:
        return 0;
    }
}

int vmrt__sb_cgv1_setup(sb_cgroup_t *cg, const vmrt_limits_t *lim, sb_plan_t *plan)
{
    char name[64];
    vmrt__sb_cgroup_name(name, sizeof name);
    for (int c = 0; c < SB_CG_COUNT; c++) {
        if (!(cg->needed & (1u << c)))
            continue;
        const char *mnt = vmrt__sb_cgv1_mount((sb_ctrl_t)c);
        if (!mnt[0])
            return vmrt__sb_fail(VMRT_EUNSUPPORTED, "cgroup v1 controller %d not mounted", c);
        char parent[SB_PATH_MAX];
        const char *self = vmrt__sb_self_cgroup(1, (sb_ctrl_t)c);
        snprintf(parent, sizeof parent, "%s%s", mnt, strcmp(self, "/") ? self : "");
        if (snprintf(cg->dir[c], sizeof cg->dir[c], "%s/%s", parent, name) >=
            (int)sizeof cg->dir[c])
            return vmrt__sb_fail(-ENAMETOOLONG, "cgroup: path too long under %s", parent);
        bool shared = false;
        for (int o = 0; o < c; o++)
            shared |= cg->created[o] && !strcmp(cg->dir[o], cg->dir[c]);
        if (!shared) {
            if (mkdir(cg->dir[c], 0755) != 0)
                return vmrt__sb_fail(-errno, "cgroup: mkdir %s", cg->dir[c]);
            cg->created[c] = true;
        }
        const char *what = "limits";
        int err = apply_limits((sb_ctrl_t)c, cg->dir[c], parent, lim, &what);
        if (err)
            return vmrt__sb_fail(err, "cgroup: %s in %s: %s", what, cg->dir[c], strerror(-err));
        if (shared)
            continue;
        char path[SB_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/cgroup.procs", cg->dir[c]);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
            return vmrt__sb_fail(-errno, "cgroup: open %s", path);
        plan->cgroup_fds[plan->n_cgroup_fds++] = fd;
    }
    return 0;
}

static void sum_blkio(const char *text, uint64_t *rd, uint64_t *wr)
{
    char op[16];
    unsigned long long v;
    for (const char *s = text; *s; s++) {
        if (sscanf(s, "%*u:%*u %15s %llu", op, &v) == 2) {
            if (!strcmp(op, "Read"))
                *rd += v;
            else if (!strcmp(op, "Write"))
                *wr += v;
        }
        s = strchr(s, '\n');
        if (!s)
            break;
    }
}

int vmrt__sb_cgv1_usage(const sb_cgroup_t *cg, sb_cgroup_usage_t *u)
{
    char buf[4096];
    if (cg->needed & (1u << SB_CG_MEMORY)) {
        const char *d = cg->dir[SB_CG_MEMORY];
        u->mem_known = vmrt__sb_read_u64_ok(d, "memory.max_usage_in_bytes", &u->mem_peak);
        if (vmrt__sb_read_file(d, "memory.oom_control", buf, sizeof buf) > 0)
            u->oom_kills = vmrt__sb_keyed_u64(buf, "oom_kill");
    }
    if (cg->needed & (1u << SB_CG_PIDS)) {
        const char *d = cg->dir[SB_CG_PIDS];
        if (vmrt__sb_read_file(d, "pids.events", buf, sizeof buf) > 0)
            u->pids_max_events = vmrt__sb_keyed_u64(buf, "max");
        u->pids_known = vmrt__sb_read_u64_ok(d, "pids.peak", &u->pids_peak);
    }
    if (cg->needed & (1u << SB_CG_CPUACCT)) {
        const char *d = cg->dir[SB_CG_CPUACCT];
        u->cpu_ns = vmrt__sb_read_u64(d, "cpuacct.usage");
        long hz = sysconf(_SC_CLK_TCK);
        if (hz > 0 && vmrt__sb_read_file(d, "cpuacct.stat", buf, sizeof buf) > 0) {
            u->cpu_user_ns = vmrt__sb_keyed_u64(buf, "user") * (1000000000ull / (uint64_t)hz);
            u->cpu_sys_ns = vmrt__sb_keyed_u64(buf, "system") * (1000000000ull / (uint64_t)hz);
        }
    }
    if ((cg->needed & (1u << SB_CG_IO)) &&
        vmrt__sb_read_file(cg->dir[SB_CG_IO], "blkio.throttle.io_service_bytes_recursive", buf,
                           sizeof buf) > 0)
        sum_blkio(buf, &u->io_read, &u->io_write);
    return 0;
}
