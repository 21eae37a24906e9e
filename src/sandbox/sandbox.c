/* SandboxedVm: configuration, the plan, and starting the guest.
 *
 * vmrt_sandbox_new() validates the configuration and turns it into the plan
 * that the child executes (sandbox_internal.h): namespaces, rlimits, cgroups,
 * the new root, the seccomp program. Every limit that the host cannot
 * enforce as asked is either refused (strict, or no fallback exists) or
 * downgraded to a weaker mechanism and noted in the report.
 *
 * Starting: clone() with the namespace flags, CLONE_PIDFD and — where the
 * child's code may share the parent's memory (not under ASan/TSan, not for
 * _spawn, not with a memory cgroup, not where the kernel or an emulator
 * refuses) — CLONE_VM, which
 * saves copying the page tables. All signals are blocked around clone so no
 * handler of the parent runs on the child's stack; the child restores the
 * mask just before exec. The parent then reads the channel until end-of-file
 * (exec done) or an error message (set-up failed: step + errno).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <limits.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_private.h"

#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SB_SHARE_VM 0
#else
#define SB_SHARE_VM 1
#endif

#define EXEC_STACK  (256u << 10)
#define SPAWN_STACK (8u << 20)

static _Thread_local char last_error[256];
/* The report of this thread's last failed vmrt_sandbox_new, and the stage
 * plan_all is in (its setup_step). */
static _Thread_local vmrt_sandbox_report_t failed_report;
static _Thread_local bool have_failed_report;
static _Thread_local const char *plan_step;

int vmrt__sb_fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return err;
}

const char *vmrt_sandbox_error(void)
{
    return last_error;
}

int vmrt_sandbox_failure_report(vmrt_sandbox_report_t *report)
{
    if (!have_failed_report)
        return VMRT_ESTATE;
    if (report)
        *report = failed_report;
    return 0;
}

/* Keeps the report of a failed vmrt_sandbox_new (see the header). */
static void record_failure(const vmrt_sandbox_report_t *so_far, vmrt_isolation_t level, int err)
{
    vmrt_sandbox_report_t *r = &failed_report;
    if (so_far)
        *r = *so_far;
    else
        memset(r, 0, sizeof *r);
    r->reason = VMRT_END_SETUP_FAILED;
    r->level = (unsigned)level <= VMRT_ISOLATION_FULL ? level : VMRT_ISOLATION_NONE;
    r->syscall_nr = -1;
    r->pid = 0; /* no guest */
    snprintf(r->setup_step, sizeof r->setup_step, "%s", plan_step ? plan_step : "config");
    r->setup_errno = err == VMRT_EUNSUPPORTED ? EOPNOTSUPP : err < 0 && err > -4096 ? -err : EINVAL;
    if (r->n_notes == VMRT_SANDBOX_MAX_NOTES)
        r->n_notes--; /* the error's text replaces the last note */
    vmrt__sb_note(r, "%s", last_error[0] ? last_error : vmrt_strerror(err));
    have_failed_report = true;
}

void vmrt__sb_note(vmrt_sandbox_report_t *r, const char *fmt, ...)
{
    if (r->n_notes >= VMRT_SANDBOX_MAX_NOTES)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->n_notes++], sizeof r->notes[0], fmt, ap);
    va_end(ap);
}

void vmrt_sandbox_config_init(vmrt_sandbox_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->enable_seccomp = true;
    cfg->enable_namespaces = true;
    cfg->enable_cgroups = true;
    cfg->isolation_level = VMRT_ISOLATION_PROCESS;
    cfg->stdin_fd = cfg->stdout_fd = cfg->stderr_fd = -1;
}

void vmrt_limits_init(vmrt_limits_t *lim)
{
    memset(lim, 0, sizeof *lim);
    lim->size = sizeof *lim;
}

/* A downgrade: an error under strict, else a note. */
static int downgrade(vmrt_sandbox_t *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int downgrade(vmrt_sandbox_t *sb, const char *fmt, ...)
{
    char buf[112];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (sb->cfg.strict)
        return vmrt__sb_fail(VMRT_EUNSUPPORTED, "strict: %s", buf);
    vmrt__sb_note(&sb->report, "%s", buf);
    return 0;
}

static void add_rlimit(sb_plan_t *p, int resource, uint64_t soft, uint64_t hard)
{
    p->rlimits[p->n_rlimits].resource = resource;
    p->rlimits[p->n_rlimits].rl.rlim_cur = soft;
    p->rlimits[p->n_rlimits].rl.rlim_max = hard;
    p->n_rlimits++;
}

static bool cg_has(const vmrt_sandbox_t *sb, sb_ctrl_t c)
{
    return sb->cg.version && (sb->cg.needed & (1u << c));
}

/* rlimits, and the fallbacks for limits whose cgroup is missing. */
static int plan_limits(vmrt_sandbox_t *sb)
{
    const vmrt_limits_t *l = &sb->lim;
    sb_plan_t *p = &sb->plan;
    int err = 0;
    if (l->max_cpu_time_ns) {
        uint64_t s = (l->max_cpu_time_ns + 999999999u) / 1000000000u;
        add_rlimit(p, RLIMIT_CPU, s, s + 1);
        if (!cg_has(sb, SB_CG_CPUACCT))
            err = downgrade(sb, "max_cpu_time: per process (RLIMIT_CPU), no cgroup for the tree");
    }
    if (l->max_open_files)
        add_rlimit(p, RLIMIT_NOFILE, l->max_open_files, l->max_open_files);
    if (l->max_file_size)
        add_rlimit(p, RLIMIT_FSIZE, l->max_file_size, l->max_file_size);
    if (!err && l->max_memory && !cg_has(sb, SB_CG_MEMORY)) {
        add_rlimit(p, RLIMIT_AS, l->max_memory, l->max_memory);
        err = downgrade(sb, "max_memory: address space per process (RLIMIT_AS), no memory cgroup");
    }
    if (!err && l->max_processes && !cg_has(sb, SB_CG_PIDS)) {
        if (!vmrt__sb_host()->root) {
            add_rlimit(p, RLIMIT_NPROC, l->max_processes, l->max_processes);
            err = downgrade(sb, "max_processes: per user (RLIMIT_NPROC), no pids cgroup");
        } else {
            err = downgrade(sb, "max_processes: not enforced (root, no pids cgroup)");
        }
    }
    if (!err && l->cpu_quota > 0 && !cg_has(sb, SB_CG_CPU))
        err = downgrade(sb, "cpu_quota: not enforced (no cpu cgroup)");
    if (!err && l->vcpus && !cg_has(sb, SB_CG_CPUSET))
        err = downgrade(sb, "vcpus: not enforced (no cpuset cgroup)");
    if (!err && l->max_disk_io)
        err = downgrade(sb, "max_disk_io: budget from %s, checked every %u ms",
                        cg_has(sb, SB_CG_IO) ? "blkio/io.stat + /proc/PID/io" : "/proc/PID/io",
                        SB_POLL_MS);
    return err;
}

/* max_disk_bw: throttles reads and writes on the block devices of the
 * sandbox's writable paths — without a new root (PROCESS) the working directory and
 * $TMPDIR or /tmp (the guest sees the host's file systems; other devices
 * are not throttled), in a container the --rw paths (its root and /tmp are
 * tmpfs, i.e. memory, bounded by the memory limit). A path on no block
 * device, a device that refuses throttling, and v1's unthrottled buffered
 * writeback are downgrades. */
static int plan_disk_bw(vmrt_sandbox_t *sb)
{
    uint64_t bps = sb->lim.max_disk_bw;
    if (!bps)
        return 0;
    if (!cg_has(sb, SB_CG_IO))
        return downgrade(sb, "max_disk_bw: not enforced (no io/blkio cgroup)");
    const char *paths[SB_MAX_BINDS + 2];
    unsigned n = 0;
    char cwd[SB_PATH_MAX];
    if (!sb->plan.new_root) {
        paths[n++] = sb->cfg.cwd ? sb->cfg.cwd : getcwd(cwd, sizeof cwd) ? cwd : ".";
        const char *tmp = getenv("TMPDIR");
        paths[n++] = tmp && tmp[0] == '/' ? tmp : "/tmp";
    } else {
        for (const char *const *rw = sb->cfg.rw_paths; rw && *rw && n < SB_MAX_BINDS; rw++)
            paths[n++] = *rw;
    }
    dev_t done[SB_MAX_BINDS + 2];
    unsigned n_done = 0;
    int err = 0;
    for (unsigned i = 0; i < n && !err; i++) {
        unsigned maj, min;
        int e = vmrt__sb_disk_of(paths[i], &maj, &min);
        if (e == -ENODEV) {
            err = downgrade(sb, "max_disk_bw: %s is on no block device: not throttled", paths[i]);
            continue;
        }
        if (e)
            return vmrt__sb_fail(e, "max_disk_bw: %s: %s", paths[i], strerror(-e));
        bool seen = false;
        for (unsigned k = 0; k < n_done; k++)
            seen |= done[k] == makedev(maj, min);
        if (seen)
            continue;
        e = vmrt__sb_cgroup_throttle(&sb->cg, maj, min, bps);
        if (e == -EINVAL || e == -ENODEV || e == -EOPNOTSUPP)
            err = downgrade(sb, "max_disk_bw: device %u:%u refuses throttling (%s)", maj, min,
                            paths[i]);
        else if (e)
            return vmrt__sb_fail(e, "max_disk_bw: throttling %u:%u: %s", maj, min, strerror(-e));
        else
            done[n_done++] = makedev(maj, min);
    }
    if (!err && n == 0)
        vmrt__sb_note(&sb->report, "max_disk_bw: no writable path on disk (tmpfs root and /tmp)");
    if (!err && n_done && sb->cg.version == 1)
        err = downgrade(sb, "max_disk_bw: cgroup v1 throttles reads and direct writes only, "
                            "not buffered writeback");
    return err;
}

/* Is path (absolute) dir itself or beneath it? */
static bool path_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

/* Why a bind of `path` (its canonical form `real`) is refused, or NULL;
 * `buf` holds the text. The sandbox mounts its own /proc (of its pid
 * namespace, hidepid at FULL) and /dev, and no /sys: a bind there, of the
 * whole root, or of a proc or sysfs mounted elsewhere would hand the guest
 * the host's instead (host processes visible, hidepid bypassed). */
static const char *bind_refusal(const char *path, const char *real, char *buf, size_t len)
{
    for (const char *s = path; (s = strchr(s, '/')) != NULL; s++)
        if (!strncmp(s, "/./", 3) || !strcmp(s, "/.") || !strncmp(s, "/../", 4) ||
            !strcmp(s, "/..") || !strncmp(s, "//", 2))
            return "not a canonical path (no '.', '..' or '//' components)";
    if (!strcmp(path, "/") || !strcmp(real, "/"))
        return "would cover the sandbox's whole root (bind the directories the guest needs)";
    static const char *const own[] = {"/proc", "/dev", "/sys"};
    /* /dev/shm is a plain directory of the sandbox's /dev: sharing the
     * host's (a tmpfs) is allowed. */
    bool shm = path_under(path, "/dev/shm") && path_under(real, "/dev/shm");
    for (size_t i = 0; i < sizeof own / sizeof own[0] && !shm; i++)
        if (path_under(path, own[i]) || path_under(real, own[i])) {
            snprintf(buf, len, "would put the host's %s where the sandbox has %s (not allowed)",
                     own[i], i == 2 ? "none" : "its own");
            return buf;
        }
    struct statfs sf;
    if (statfs(real, &sf) == 0 && (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC ||
                                   sf.f_type == DEVPTS_SUPER_MAGIC || sf.f_type == MQUEUE_MAGIC))
        return "is on the host's proc, sysfs, devpts or mqueue (not allowed)";
    return NULL;
}

static int plan_binds(vmrt_sandbox_t *sb, const char *const *list, bool writable)
{
    sb_plan_t *p = &sb->plan;
    const char *opt = writable ? "--rw" : "--ro";
    for (; list && *list; list++) {
        if ((*list)[0] != '/')
            return vmrt__sb_fail(-EINVAL, "%s %s: path must be absolute", opt, *list);
        if (p->n_binds == SB_MAX_BINDS)
            return vmrt__sb_fail(-E2BIG, "too many --ro/--rw paths (max %d)", SB_MAX_BINDS);
        struct stat st;
        if (stat(*list, &st) != 0)
            return vmrt__sb_fail(-errno, "%s %s: %s", opt, *list, strerror(errno));
        char real[PATH_MAX];
        if (!realpath(*list, real))
            return vmrt__sb_fail(-errno, "%s %s: %s", opt, *list, strerror(errno));
        size_t len = strlen(*list);
        char trimmed[SB_PATH_MAX];
        if (len >= sizeof trimmed)
            return vmrt__sb_fail(-ENAMETOOLONG, "%s %s: path too long", opt, *list);
        memcpy(trimmed, *list, len + 1);
        while (len > 1 && trimmed[len - 1] == '/')
            trimmed[--len] = '\0';
        char why_buf[96];
        const char *why = bind_refusal(trimmed, real, why_buf, sizeof why_buf);
        if (why)
            return vmrt__sb_fail(-EINVAL, "%s %s: %s", opt, *list, why);
        sb_bind_t *b = &p->binds[p->n_binds];
        if (!(b->path = strdup(trimmed)))
            return -ENOMEM;
        b->writable = writable;
        b->is_dir = S_ISDIR(st.st_mode);
        p->n_binds++;
    }
    return 0;
}

static int plan_container(vmrt_sandbox_t *sb)
{
    const vmrt_sandbox_host_t *h = vmrt__sb_host();
    sb_plan_t *p = &sb->plan;
    bool full = sb->cfg.isolation_level == VMRT_ISOLATION_FULL;
    if (!h->root && !h->user_namespaces)
        return vmrt__sb_fail(VMRT_EUNSUPPORTED, "namespaces: not root and no user namespaces");
    p->clone_flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (sb->cfg.net != VMRT_NET_HOST)
        p->clone_flags |= CLONE_NEWNET;
    /* A user namespace also for root (mapping root to root): the guest's
     * capabilities then stop at its own namespaces, and the host's mounts
     * copied into the new mount namespace become locked, which makes
     * detaching the old root cheap (no RCU grace period: ~1 ms here). */
    if (h->user_namespaces) {
        p->clone_flags |= CLONE_NEWUSER;
        p->map_user = true;
        snprintf(p->uid_map, sizeof p->uid_map, "0 %u 1", (unsigned)geteuid());
        snprintf(p->gid_map, sizeof p->gid_map, "0 %u 1", (unsigned)getegid());
    }
    if (p->n_cgroup_fds)
        p->cgroupns_late = true;
    else
        p->clone_flags |= CLONE_NEWCGROUP;
    p->lo_up = sb->cfg.net == VMRT_NET_LOOPBACK;
    p->new_root = true;
    p->use_mknod = h->root && !p->map_user;
    p->hostname = sb->cfg.hostname ? sb->cfg.hostname : "vmrt";
    p->sysdirs = vmrt__sb_sysdirs(&p->n_sysdirs);
    /* tmpfs pages count against the memory cgroup: half the memory limit
     * lets a full disk show as ENOSPC rather than as an OOM kill. */
    uint64_t size = sb->lim.max_memory ? sb->lim.max_memory / 2 : 256ull << 20;
    snprintf(p->root_opts, sizeof p->root_opts, "mode=0755,size=%" PRIu64, size);
    snprintf(p->tmp_opts, sizeof p->tmp_opts, "mode=1777,size=%" PRIu64, size);
    int err = 0;
    if (!full)
        return 0;
    p->ro_root = p->hidepid = p->drop_caps = true;
    p->landlock_abi = h->landlock_abi;
    if (!p->landlock_abi)
        err = downgrade(sb, "landlock: not available on this kernel");
    return err;
}

/* FULL means the strict profile: anything weaker — no filter, another
 * profile (a file cannot be proved stricter), syscalls allowed on top, a
 * default action that lets unlisted syscalls run — is a downgrade. */
static int full_filter_downgrade(vmrt_sandbox_t *sb)
{
    const vmrt_syscall_filter_t *f = &sb->cfg.filter;
    if (sb->cfg.isolation_level != VMRT_ISOLATION_FULL)
        return 0;
    if (!sb->cfg.enable_seccomp)
        return downgrade(sb, "isolation full: seccomp disabled (full means the strict profile)");
    if (f->profile && strcmp(f->profile, "strict") != 0)
        return downgrade(sb, "isolation full: seccomp profile '%.40s' instead of strict",
                         f->profile);
    if (f->allowed && f->allowed[0])
        return downgrade(sb,
                         "isolation full: syscalls allowed on top of the strict profile "
                         "(%.32s%s)",
                         f->allowed[0], f->allowed[1] ? ", ..." : "");
    if (f->default_action == VMRT_SYSCALL_ALLOW || f->default_action == VMRT_SYSCALL_LOG)
        return downgrade(sb, "isolation full: default action %s instead of kill",
                         f->default_action == VMRT_SYSCALL_ALLOW ? "allow" : "log");
    return 0;
}

static int plan_seccomp(vmrt_sandbox_t *sb)
{
    const vmrt_sandbox_host_t *h = vmrt__sb_host();
    int err = full_filter_downgrade(sb);
    if (err || !sb->cfg.enable_seccomp)
        return err;
    if (!h->seccomp)
        return downgrade(sb, "seccomp: not available on this host");
    err = vmrt__sb_filter_build(&sb->cfg.filter, sb->cfg.isolation_level, &sb->filter);
    if (err)
        return err;
    sb->plan.prog.len = sb->filter.len;
    sb->plan.prog.filter = sb->filter.insns;
    sb->plan.want_listener = sb->filter.has_notify;
    if (sb->filter.len && !h->seccomp_notify)
        vmrt__sb_note(&sb->report, "seccomp: kills report no syscall name (no user notification)");
    return 0;
}

static int plan_network(vmrt_sandbox_t *sb)
{
    vmrt_sandbox_config_t *c = &sb->cfg;
    if (c->net > VMRT_NET_HOST)
        return vmrt__sb_fail(-EINVAL, "net: bad mode %d", (int)c->net);
    if (c->net == VMRT_NET_DEFAULT)
        c->net = c->isolation_level >= VMRT_ISOLATION_CONTAINER ? VMRT_NET_NONE : VMRT_NET_HOST;
    if (c->isolation_level == VMRT_ISOLATION_FULL && c->net != VMRT_NET_NONE)
        return vmrt__sb_fail(-EINVAL, "net: isolation full has no network");
    if (c->isolation_level == VMRT_ISOLATION_PROCESS && c->net != VMRT_NET_HOST)
        return vmrt__sb_fail(-EINVAL, "net: none/loopback need isolation container");
    if (!sb->lim.max_network_bandwidth)
        return 0;
    if (c->net == VMRT_NET_NONE) {
        vmrt__sb_note(&sb->report, "max_network_bandwidth: no network, nothing to shape");
        return 0;
    }
    if (c->net == VMRT_NET_HOST && c->isolation_level == VMRT_ISOLATION_NONE)
        return vmrt__sb_fail(VMRT_EUNSUPPORTED,
                             "max_network_bandwidth: isolation none has no cgroup to police");
    if (c->net == VMRT_NET_HOST)
        return 0; /* policed on the cgroup: plan_host_bw, once it exists */
    int len = vmrt__sb_net_shaper_msg(sb->lim.max_network_bandwidth, sb->plan.tc_msg,
                                      sizeof sb->plan.tc_msg);
    if (len < 0)
        return vmrt__sb_fail(len, "max_network_bandwidth: cannot build the qdisc request");
    sb->plan.tc_len = (unsigned)len;
    return 0;
}

/* max_network_bandwidth with the host's network: the sandbox owns no
 * interface there, so an eBPF token bucket on the cgroup v2 the guest is
 * born in polices its sockets ([SB-NETBW] in netbw.c). Needs a writable
 * cgroup v2 hierarchy (an empty one beside v1 controllers will do) and
 * CAP_BPF; without them a reported downgrade (an error under strict). */
static int plan_host_bw(vmrt_sandbox_t *sb)
{
    if (!sb->plan.has_cg2)
        return downgrade(sb, "max_network_bandwidth: not enforced on the host's network (no "
                             "writable cgroup v2 hierarchy; --net loopback can shape)");
    int err = vmrt__sb_netbw_attach(&sb->netbw, sb->plan.cg2_fd, sb->lim.max_network_bandwidth);
    if (err)
        return downgrade(sb,
                         "max_network_bandwidth: not enforced on the host's network (cgroup "
                         "BPF: %s)",
                         strerror(-err));
    return 0;
}

static int plan_all(vmrt_sandbox_t *sb)
{
    vmrt_sandbox_config_t *c = &sb->cfg;
    sb_plan_t *p = &sb->plan;
    p->level = c->isolation_level;
    p->stdio[0] = c->stdin_fd;
    p->stdio[1] = c->stdout_fd;
    p->stdio[2] = c->stderr_fd;
    p->cwd = c->cwd;
    plan_step = "config";
    int err = plan_network(sb);
    if (!err) /* checked at every level: a bad path is an error wherever it is dropped */
        err = plan_binds(sb, c->ro_paths, false);
    if (!err)
        err = plan_binds(sb, c->rw_paths, true);
    if (!err && p->n_binds &&
        (c->isolation_level < VMRT_ISOLATION_CONTAINER || !c->enable_namespaces))
        err = downgrade(sb, "ro/rw paths (%.32s%s): not applied at isolation %s (no new root)",
                        p->binds[0].path, p->n_binds > 1 ? ", ..." : "",
                        c->enable_namespaces ? vmrt_isolation_name(c->isolation_level)
                                             : "container without namespaces");
    if (err)
        return err;
    plan_step = "limits";
    if (c->isolation_level == VMRT_ISOLATION_NONE) {
        const vmrt_limits_t *l = &sb->lim;
        const struct {
            bool set;
            const char *name;
        } lims[] = {{l->max_memory, "max_memory"},
                    {l->max_cpu_time_ns, "max_cpu_time"},
                    {l->max_disk_io, "max_disk_io"},
                    {l->max_disk_bw, "max_disk_bw"},
                    {l->max_processes, "max_processes"},
                    {l->max_open_files, "max_open_files"},
                    {l->max_file_size, "max_file_size"},
                    {l->vcpus, "vcpus"},
                    {l->cpu_quota > 0, "cpu_quota"},
                    {l->max_network_bandwidth && c->net == VMRT_NET_HOST, "max_network_bandwidth"}};
        char names[64] = "";
        size_t len = 0;
        for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
            if (!lims[i].set)
                continue;
            if (len + strlen(lims[i].name) + 2 > 56) {
                strcat(names, ", ...");
                break;
            }
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                                    lims[i].name);
        }
        if (names[0])
            err = downgrade(sb, "isolation none: not enforced: %s", names);
        return err;
    }
    p->setsid = p->no_new_privs = true;
    plan_step = "cgroup";
    if (c->enable_cgroups) {
        err = vmrt__sb_cgroup_create(&sb->cg, &sb->lim, p);
        if (err)
            return err;
    }
    bool host_bw = c->net == VMRT_NET_HOST && sb->lim.max_network_bandwidth;
    if (c->enable_cgroups && (c->isolation_level == VMRT_ISOLATION_PROCESS || host_bw)) {
        err = vmrt__sb_cgroup_track(&sb->cg, p);
        if (err)
            return vmrt__sb_fail(err, "cgroup: cannot track the process tree");
    }
    if (host_bw) {
        plan_step = "net-bw";
        err = plan_host_bw(sb);
        if (err)
            return err;
    }
    plan_step = "limits";
    err = plan_limits(sb);
    if (!err && c->isolation_level >= VMRT_ISOLATION_CONTAINER) {
        plan_step = "namespaces";
        if (c->enable_namespaces)
            err = plan_container(sb);
        else
            err = downgrade(sb, "namespaces disabled: runs as isolation process");
    }
    if (!err) {
        plan_step = "disk-bw";
        err = plan_disk_bw(sb); /* after plan_container: the --rw paths are checked */
    }
    if (!err) {
        plan_step = "seccomp";
        err = plan_seccomp(sb);
    }
    return err;
}

/* Copies a versioned struct: fields beyond the caller's size keep defaults. */
static int copy_versioned(void *dst, size_t dst_size, const void *src, size_t src_size)
{
    if (src_size < sizeof(size_t) || src_size > dst_size)
        return -EINVAL;
    memcpy(dst, src, src_size);
    *(size_t *)dst = dst_size;
    return 0;
}

int vmrt_sandbox_new(vmrt_sandbox_t **out, const vmrt_sandbox_config_t *cfg,
                     const vmrt_limits_t *limits)
{
    last_error[0] = '\0';
    have_failed_report = false;
    plan_step = "config";
    vmrt_sandbox_t *sb = calloc(1, sizeof *sb);
    if (!sb) {
        record_failure(NULL, VMRT_ISOLATION_NONE, -ENOMEM);
        return -ENOMEM;
    }
    vmrt_sandbox_config_init(&sb->cfg);
    vmrt_limits_init(&sb->lim);
    sb->pid = sb->pidfd = sb->listener = sb->chan = -1;
    sb->netbw.map_fd = -1;
    int err = 0;
    if (cfg && copy_versioned(&sb->cfg, sizeof sb->cfg, cfg, cfg->size))
        err = vmrt__sb_fail(-EINVAL, "config: bad size (call vmrt_sandbox_config_init)");
    if (!err && limits && copy_versioned(&sb->lim, sizeof sb->lim, limits, limits->size))
        err = vmrt__sb_fail(-EINVAL, "limits: bad size (call vmrt_limits_init)");
    if (!err && (unsigned)sb->cfg.isolation_level > VMRT_ISOLATION_FULL)
        err = vmrt__sb_fail(-EINVAL, "isolation: bad level %d", (int)sb->cfg.isolation_level);
    if (!err && (sb->lim.cpu_quota < 0 || sb->lim.cpu_quota != sb->lim.cpu_quota))
        err = vmrt__sb_fail(-EINVAL, "cpu_quota: must be positive");
    /* The kernel refuses a CFS quota under 1 ms per period (100 ms here). */
    if (!err && sb->lim.cpu_quota > 0 && sb->lim.cpu_quota * 100000.0 < 1000.0)
        err = vmrt__sb_fail(-EINVAL, "cpu_quota: %g CPU is below the kernel's minimum of 0.01",
                            sb->lim.cpu_quota);
    long online = !err && sb->lim.vcpus ? sysconf(_SC_NPROCESSORS_ONLN) : 0; /* reads sysfs */
    if (online > 0 && sb->lim.vcpus > (unsigned long)online)
        err = vmrt__sb_fail(-EINVAL, "vcpus: %u CPUs asked, this host has %ld online",
                            (unsigned)sb->lim.vcpus, online);
    sb->report.level = sb->cfg.isolation_level;
    sb->report.syscall_nr = -1;
    if (!err)
        err = plan_all(sb);
    if (err) {
        record_failure(&sb->report, sb->cfg.isolation_level, err);
        vmrt_sandbox_free(sb);
        return err;
    }
    *out = sb;
    return 0;
}

/* --- starting --------------------------------------------------------- */

static pid_t do_clone(vmrt_sandbox_t *sb, void *stack_top, bool share_vm)
{
    sb_plan_t *p = &sb->plan;
    unsigned long flags = p->clone_flags | SIGCHLD;
    int pidfd = -1;
    pid_t pid = -1;
    if (p->has_cg2) {
        p->cg2_born_in = true;
        pid = vmrt__sb_clone_into(p->clone_flags, p->cg2_fd, sb->stack, sb->stack_size, share_vm,
                                  vmrt__sb_child_main, p, &pidfd);
        if (pid >= 0) {
            sb->pidfd = pidfd;
            return pid;
        }
        p->cg2_born_in = false; /* no clone3 (old kernel, filtered): join by writing */
    }
    if (share_vm)
        pid = clone(vmrt__sb_child_main, stack_top, (int)(flags | CLONE_VM | CLONE_PIDFD),
                    &sb->plan, &pidfd);
    if (pid < 0)
        pid = clone(vmrt__sb_child_main, stack_top, (int)(flags | CLONE_PIDFD), &sb->plan, &pidfd);
    if (pid < 0 && errno == EINVAL) { /* no CLONE_PIDFD (old kernel, emulator) */
        pid = clone(vmrt__sb_child_main, stack_top, (int)flags, &sb->plan);
        pidfd = -1;
    }
    sb->pidfd = pidfd;
    return pid;
}

/* One message from the child, with the fd it carries (SCM_RIGHTS) in *fd. */
static ssize_t recv_msg(int chan, sb_msg_t *m, int *fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {m, sizeof *m};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof *fd);
    if (n != (ssize_t)sizeof *m) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        memset(m, 0, sizeof *m);
    }
    return n;
}

/* Reads the child's messages until exec (EOF). Returns 0 or -errno. */
static int await_exec(vmrt_sandbox_t *sb)
{
    int err = 0;
    for (;;) {
        if (sb->listener >= 0) {
            struct pollfd pf[2] = {{sb->chan, POLLIN, 0}, {sb->listener, POLLIN, 0}};
            if (poll(pf, 2, -1) < 0 && errno != EINTR)
                return -errno;
            if (pf[1].revents & POLLIN)
                vmrt__sb_take_notification(sb);
            if (!(pf[0].revents & (POLLIN | POLLHUP)))
                continue;
        }
        sb_msg_t m;
        memset(&m, 0, sizeof m);
        int fd = -1;
        ssize_t n = recv_msg(sb->chan, &m, &fd);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return err;
        if (m.kind == SB_MSG_ERROR) {
            sb->report.reason = VMRT_END_SETUP_FAILED;
            snprintf(sb->report.setup_step, sizeof sb->report.setup_step, "%s", m.step);
            sb->report.setup_errno = m.err;
            vmrt__sb_fail(-m.err, "set-up step %s: %s", m.step, strerror(m.err));
            err = -m.err;
        } else if (m.kind == SB_MSG_LISTENER && fd >= 0 && sb->listener < 0) {
            sb->listener = fd;
        } else if (m.kind == SB_MSG_LISTENER) {
            /* Without the listener, forbidden calls would fail with ENOSYS
             * instead of ending the sandbox: refuse to go on. */
            if (fd >= 0)
                close(fd);
            fd = -1;
            kill(sb->pid, SIGKILL);
            sb->report.reason = VMRT_END_SETUP_FAILED;
            snprintf(sb->report.setup_step, sizeof sb->report.setup_step, "seccomp-listener");
            sb->report.setup_errno = EBADF;
            err = vmrt__sb_fail(-EBADF, "seccomp listener: not received");
        }
        if (fd >= 0 && fd != sb->listener)
            close(fd); /* an fd the message should not carry */
    }
}

static int start(vmrt_sandbox_t *sb)
{
    if (sb->pid >= 0 || sb->report.reason != VMRT_END_RUNNING)
        return vmrt__sb_fail(VMRT_ESTATE, "sandbox already started");
    sb_plan_t *p = &sb->plan;
    /* Never share our memory with a child that joins a memory-limited
     * cgroup: the memcg OOM killer kills every process that shares the
     * victim's mm — the supervisor (and the VM embedding it) with a guest
     * that runs out of memory before its execve replaced the mm. Such a
     * child is a fork-like copy (page tables copied: no measurable cost
     * for vmrt exec, docs/benchmarks.md). */
    bool share_vm = SB_SHARE_VM && !p->fn && !cg_has(sb, SB_CG_MEMORY);
    sb->stack_size = p->fn ? SPAWN_STACK : EXEC_STACK;
    sb->stack = mmap(NULL, sb->stack_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (sb->stack == MAP_FAILED) {
        sb->stack = NULL;
        return -errno;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return -errno;
    sb->chan = sv[0];
    p->chan = sv[1];
    p->parent_pid = getpid();
    p->path_env = getenv("PATH");
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &p->parent_mask);
    sb->report.wall_ns = 0;
    sb->start_ns = vmrt_now_ns();
    pid_t pid = do_clone(sb, (char *)sb->stack + sb->stack_size, share_vm);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &p->parent_mask, NULL);
    close(sv[1]);
    if (pid < 0) {
        sb->report.reason = VMRT_END_SETUP_FAILED;
        snprintf(sb->report.setup_step, sizeof sb->report.setup_step, "clone");
        sb->report.setup_errno = clone_errno;
        return vmrt__sb_fail(-clone_errno, "clone: %s", strerror(clone_errno));
    }
    sb->pid = pid;
    sb->report.pid = pid;
    int err = await_exec(sb);
    munmap(sb->stack, sb->stack_size);
    sb->stack = NULL;
    if (err)
        vmrt__sb_reap(sb);
    return err;
}

int vmrt_sandbox_exec(vmrt_sandbox_t *sb, char *const argv[], char *const envp[])
{
    if (!argv || !argv[0])
        return vmrt__sb_fail(-EINVAL, "exec: empty command");
    sb->plan.argv = argv;
    sb->plan.envp = envp;
    sb->plan.fn = NULL;
    return start(sb);
}

int vmrt_sandbox_spawn(vmrt_sandbox_t *sb, vmrt_sandbox_fn fn, void *arg)
{
    if (!fn)
        return vmrt__sb_fail(-EINVAL, "spawn: no function");
    if (sb->cfg.isolation_level == VMRT_ISOLATION_NONE) {
        if (sb->report.reason != VMRT_END_RUNNING || sb->ran_inline)
            return VMRT_ESTATE;
        sb->start_ns = vmrt_now_ns();
        sb->inline_ret = fn(arg);
        sb->ran_inline = true;
        return 0;
    }
    sb->plan.fn = fn;
    sb->plan.fn_arg = arg;
    return start(sb);
}

pid_t vmrt_sandbox_pid(const vmrt_sandbox_t *sb)
{
    return sb->pid;
}

void vmrt_sandbox_free(vmrt_sandbox_t *sb)
{
    if (!sb)
        return;
    if (sb->pid > 0) {
        vmrt__sb_kill_tree(sb);
        vmrt__sb_reap(sb);
    }
    vmrt__sb_netbw_close(&sb->netbw);
    vmrt__sb_cgroup_destroy(&sb->cg);
    vmrt__sb_cgroup_close_fds(&sb->plan);
    for (unsigned i = 0; i < sb->plan.n_binds; i++)
        free((char *)sb->plan.binds[i].path);
    vmrt__sb_filter_free(&sb->filter);
    if (sb->stack)
        munmap(sb->stack, sb->stack_size);
    if (sb->chan >= 0)
        close(sb->chan);
    if (sb->pidfd >= 0)
        close(sb->pidfd);
    if (sb->listener >= 0)
        close(sb->listener);
    free(sb);
}
