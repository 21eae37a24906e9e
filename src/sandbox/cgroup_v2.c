/* cgroup v2 backend: one directory. The controllers are enabled in our
 * cgroup's cgroup.subtree_control first (this fails when our cgroup holds
 * processes and is not the root — the no-internal-process rule; the error
 * then says so). Files: memory.max, memory.swap.max, memory.peak,
 * memory.events; pids.max, pids.events, pids.peak; cpu.max, cpu.stat;
 * cpuset.cpus; io.stat; cgroup.kill.
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

static int enable_controllers(const char *parent, unsigned needed)
{
    static const char *const names[SB_CG_COUNT] = {"+memory", "+pids",   "+cpu",
                                                   NULL,      "+cpuset", "+io"};
    for (int c = 0; c < SB_CG_COUNT; c++) {
        if (!(needed & (1u << c)) || !names[c])
            continue;
        int err = vmrt__sb_write_file(parent, "cgroup.subtree_control", names[c]);
        if (err)
            return vmrt__sb_fail(err, "cgroup v2: cannot enable %s in %s", names[c] + 1, parent);
    }
    return 0;
}

/* Writes the limits; on failure *what names the limit and the file. */
static int apply_limits(const char *dir, const vmrt_limits_t *lim, const char **what)
{
    char buf[64];
    int err = 0;
    if (lim->max_memory) {
        *what = "max_memory (memory.max)";
        err = write_u64(dir, "memory.max", lim->max_memory);
        if (!err && vmrt__sb_write_file(dir, "memory.swap.max", "0") == -ENOENT)
            err = 0;
    }
    if (!err && lim->max_processes) {
        *what = "max_processes (pids.max)";
        err = write_u64(dir, "pids.max", lim->max_processes);
    }
    if (!err && lim->cpu_quota > 0) {
        *what = "cpu_quota (cpu.max)";
        snprintf(buf, sizeof buf, "%" PRIu64 " 100000", (uint64_t)(lim->cpu_quota * 100000.0));
        err = vmrt__sb_write_file(dir, "cpu.max", buf);
    }
    if (!err && lim->vcpus) {
        *what = "vcpus (cpuset.cpus)";
        snprintf(buf, sizeof buf, lim->vcpus > 1 ? "0-%u" : "0", lim->vcpus - 1);
        err = vmrt__sb_write_file(dir, "cpuset.cpus", buf);
    }
    return err;
}

int vmrt__sb_cgv2_setup(sb_cgroup_t *cg, const vmrt_limits_t *lim, sb_plan_t *plan)
{
    const char *parent = vmrt__sb_host_cgroups()->cgroup_root;
    int err = enable_controllers(parent, cg->needed);
    if (err)
        return err;
    char name[64];
    vmrt__sb_cgroup_name(name, sizeof name);
    if (snprintf(cg->dir[0], sizeof cg->dir[0], "%s/%s", parent, name) >= (int)sizeof cg->dir[0])
        return vmrt__sb_fail(-ENAMETOOLONG, "cgroup: path too long under %s", parent);
    if (mkdir(cg->dir[0], 0755) != 0)
        return vmrt__sb_fail(-errno, "cgroup: mkdir %s", cg->dir[0]);
    cg->created[0] = true;
    const char *what = "limits";
    err = apply_limits(cg->dir[0], lim, &what);
    if (err)
        return vmrt__sb_fail(err, "cgroup: %s in %s: %s", what, cg->dir[0], strerror(-err));
    err = vmrt__sb_cgroup_join_v2(plan, cg->dir[0]);
    return err ? vmrt__sb_fail(err, "cgroup: open %s/cgroup.procs", cg->dir[0]) : 0;
}

static void sum_io(const char *text, uint64_t *rd, uint64_t *wr)
{
    for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
        const char *r = strstr(s, "rbytes="), *w = strstr(s, "wbytes=");
        const char *eol = strchr(s, '\n');
        if (r && (!eol || r < eol))
            *rd += strtoull(r + 7, NULL, 10);
        if (w && (!eol || w < eol))
            *wr += strtoull(w + 7, NULL, 10);
    }
}

int vmrt__sb_cgv2_usage(const sb_cgroup_t *cg, sb_cgroup_usage_t *u)
{
    const char *d = cg->dir[0];
    char buf[4096];
    if (vmrt__sb_read_file(d, "cpu.stat", buf, sizeof buf) > 0) {
        u->cpu_ns = vmrt__sb_keyed_u64(buf, "usage_usec") * 1000;
        u->cpu_user_ns = vmrt__sb_keyed_u64(buf, "user_usec") * 1000;
        u->cpu_sys_ns = vmrt__sb_keyed_u64(buf, "system_usec") * 1000;
    }
    u->mem_known = vmrt__sb_read_u64_ok(d, "memory.peak", &u->mem_peak);
    if (vmrt__sb_read_file(d, "memory.events", buf, sizeof buf) > 0)
        u->oom_kills = vmrt__sb_keyed_u64(buf, "oom_kill");
    if (vmrt__sb_read_file(d, "pids.events", buf, sizeof buf) > 0)
        u->pids_max_events = vmrt__sb_keyed_u64(buf, "max");
    u->pids_known = vmrt__sb_read_u64_ok(d, "pids.peak", &u->pids_peak);
    if (vmrt__sb_read_file(d, "io.stat", buf, sizeof buf) > 0)
        sum_io(buf, &u->io_read, &u->io_write);
    return 0;
}
