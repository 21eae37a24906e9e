/* The supervisor: waits for the guest while enforcing what the kernel does
 * not enforce by itself, kills the whole tree on a limit, and builds the
 * report.
 *
 * It sleeps in poll() on the pidfd (exit) and the seccomp listener
 * (a forbidden syscall), with a timeout that is the earliest of the wall-time
 * deadline and, when a limit needs sampling, SB_POLL_MS: CPU time over the
 * tree (cgroup cpuacct/cpu.stat), the disk-I/O budget (blkio/io.stat and
 * /proc/PID/io), pids.events "max" (a fork refused by the pids limit ends the
 * sandbox: process_limit) and the memory cgroup's oom_kill counter.
 *
 * The tree dies as one: PID 1 of a pid namespace takes every process of the
 * namespace with it; cgroup.kill (v2, also the empty tracking cgroup of a
 * PROCESS sandbox) or a kill loop over cgroup.procs (v1) catches the rest;
 * the process group (the guest is a session leader) is killed as well.
 *
 * The first reason wins: a seccomp violation, then a limit, then what the
 * wait status says (SIGXCPU → cpu_time_limit, SIGXFSZ → file_size_limit,
 * an exit status of 128+SIGXFSZ with a file size limit → file_size_limit,
 * SIGSYS under a filter → seccomp_violation without a name, an oom_kill
 * count with a failed exit → out_of_memory).
 */
#include <errno.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox_private.h"

static void force(vmrt_sandbox_t *sb, vmrt_end_reason_t reason)
{
    if (sb->forced == VMRT_END_RUNNING)
        sb->forced = reason;
    vmrt__sb_kill_tree(sb);
}

void vmrt__sb_kill_tree(vmrt_sandbox_t *sb)
{
    if (sb->pid <= 0 || sb->reaped)
        return;
    if (sb->cg.version || sb->cg.track_created)
        vmrt__sb_cgroup_kill(&sb->cg);
    if (sb->plan.setsid)
        kill(-sb->pid, SIGKILL);
    kill(sb->pid, SIGKILL); /* with a pid namespace: the whole namespace */
}

void vmrt__sb_reap(vmrt_sandbox_t *sb)
{
    if (sb->pid <= 0 || sb->reaped)
        return;
    while (wait4(sb->pid, &sb->status, 0, &sb->ru) < 0 && errno == EINTR)
        ;
    sb->reaped = true;
}

/* One notification from the seccomp listener: a forbidden syscall. */
void vmrt__sb_take_notification(vmrt_sandbox_t *sb)
{
    struct seccomp_notif *req;
    struct seccomp_notif_resp *resp;
    if (seccomp_notify_alloc(&req, &resp) != 0)
        return;
    if (seccomp_notify_receive(sb->listener, req) == 0 && sb->forced == VMRT_END_RUNNING) {
        sb->report.syscall_nr = req->data.nr;
        char *name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
        snprintf(sb->report.syscall_name, sizeof sb->report.syscall_name, "%s",
                 name ? name : "unknown");
        free(name);
        force(sb, VMRT_END_SECCOMP_VIOLATION);
    }
    seccomp_notify_free(req, resp);
}

static void sample_proc_io(vmrt_sandbox_t *sb)
{
    char dir[32], buf[512];
    snprintf(dir, sizeof dir, "/proc/%d", (int)sb->pid);
    if (vmrt__sb_read_file(dir, "io", buf, sizeof buf) <= 0)
        return;
    const char *r = strstr(buf, "\nread_bytes:"), *w = strstr(buf, "\nwrite_bytes:");
    if (r)
        sb->proc_io_read = strtoull(r + 12, NULL, 10);
    if (w)
        sb->proc_io_write = strtoull(w + 13, NULL, 10);
}

static void io_totals(const vmrt_sandbox_t *sb, const sb_cgroup_usage_t *u, uint64_t *rd,
                      uint64_t *wr)
{
    *rd = u->io_read > sb->proc_io_read ? u->io_read : sb->proc_io_read;
    *wr = u->io_write > sb->proc_io_write ? u->io_write : sb->proc_io_write;
}

static void check_limits(vmrt_sandbox_t *sb)
{
    const vmrt_limits_t *l = &sb->lim;
    sb_cgroup_usage_t u;
    vmrt__sb_cgroup_usage(&sb->cg, &u);
    if (l->max_disk_io)
        sample_proc_io(sb);
    uint64_t rd, wr;
    io_totals(sb, &u, &rd, &wr);
    if (u.oom_kills)
        force(sb, VMRT_END_OUT_OF_MEMORY);
    else if (l->max_cpu_time_ns && u.cpu_ns >= l->max_cpu_time_ns)
        force(sb, VMRT_END_CPU_TIME_LIMIT);
    else if (l->max_disk_io && rd + wr > l->max_disk_io)
        force(sb, VMRT_END_DISK_IO_LIMIT);
    else if (l->max_processes && u.pids_max_events)
        force(sb, VMRT_END_PROCESS_LIMIT);
}

static bool child_exited(const vmrt_sandbox_t *sb)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_PID, (id_t)sb->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid;
}

static void supervise(vmrt_sandbox_t *sb)
{
    uint64_t deadline = sb->lim.max_wall_time_ns ? sb->start_ns + sb->lim.max_wall_time_ns : 0;
    bool periodic = sb->cg.version || sb->lim.max_disk_io;
    for (;;) {
        int timeout = -1;
        if (deadline) {
            uint64_t now = vmrt_now_ns();
            if (now >= deadline) {
                force(sb, VMRT_END_WALL_TIME_LIMIT);
                deadline = 0;
            } else {
                timeout = (int)((deadline - now + 999999) / 1000000);
            }
        }
        if (periodic && (timeout < 0 || timeout > SB_POLL_MS))
            timeout = SB_POLL_MS;
        if (sb->pidfd < 0 && (timeout < 0 || timeout > 10))
            timeout = 10;
        struct pollfd pf[2];
        nfds_t n = 0;
        if (sb->pidfd >= 0)
            pf[n++] = (struct pollfd){sb->pidfd, POLLIN, 0};
        if (sb->listener >= 0)
            pf[n++] = (struct pollfd){sb->listener, POLLIN, 0};
        if (poll(pf, n, timeout) < 0 && errno != EINTR)
            break;
        if (sb->listener >= 0 && (pf[n - 1].revents & POLLIN))
            vmrt__sb_take_notification(sb);
        else if (sb->listener >= 0 && (pf[n - 1].revents & (POLLHUP | POLLERR))) {
            close(sb->listener); /* no task left under the filter */
            sb->listener = -1;
        }
        bool exited = sb->pidfd >= 0 ? (pf[0].revents & POLLIN) != 0 : child_exited(sb);
        if (exited)
            break;
        if (periodic)
            check_limits(sb);
    }
}

static vmrt_end_reason_t status_reason(const vmrt_sandbox_t *sb, const sb_cgroup_usage_t *u)
{
    int st = sb->status;
    bool failed = !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    if (u->oom_kills && failed)
        return VMRT_END_OUT_OF_MEMORY;
    if (u->pids_max_events && failed)
        return VMRT_END_PROCESS_LIMIT; /* a refused fork made it fail */
    /* A shell reports a child killed by SIGXFSZ as 128+SIGXFSZ: with a file
     * size limit set that is the limit (noted in the report as inferred). */
    if (WIFEXITED(st) && sb->lim.max_file_size && WEXITSTATUS(st) == 128 + SIGXFSZ)
        return VMRT_END_FILE_SIZE_LIMIT;
    if (WIFEXITED(st))
        return VMRT_END_EXITED;
    switch (WTERMSIG(st)) {
    case SIGXCPU:
        return VMRT_END_CPU_TIME_LIMIT;
    case SIGXFSZ:
        return VMRT_END_FILE_SIZE_LIMIT;
    case SIGSYS:
        return sb->filter.len ? VMRT_END_SECCOMP_VIOLATION : VMRT_END_SIGNALED;
    case SIGKILL:
        if (sb->lim.max_cpu_time_ns &&
            (uint64_t)(sb->ru.ru_utime.tv_sec + sb->ru.ru_stime.tv_sec) * 1000000000ull >=
                sb->lim.max_cpu_time_ns)
            return VMRT_END_CPU_TIME_LIMIT; /* RLIMIT_CPU hard limit */
        return VMRT_END_SIGNALED;
    default:
        return VMRT_END_SIGNALED;
    }
}

static uint64_t tv_ns(struct timeval tv)
{
    return (uint64_t)tv.tv_sec * 1000000000ull + (uint64_t)tv.tv_usec * 1000ull;
}

static void fill_usage(vmrt_sandbox_t *sb, const sb_cgroup_usage_t *u)
{
    vmrt_sandbox_report_t *r = &sb->report;
    r->cpu_user_ns = tv_ns(sb->ru.ru_utime);
    r->cpu_sys_ns = tv_ns(sb->ru.ru_stime);
    if (u->cpu_user_ns + u->cpu_sys_ns > r->cpu_user_ns + r->cpu_sys_ns) {
        r->cpu_user_ns = u->cpu_user_ns;
        r->cpu_sys_ns = u->cpu_sys_ns;
    }
    r->peak_memory = u->mem_peak;
    r->peak_memory_known = u->mem_known;
    r->max_rss = (uint64_t)sb->ru.ru_maxrss * 1024u;
    io_totals(sb, u, &r->io_read_bytes, &r->io_write_bytes);
    if (r->io_read_bytes < (uint64_t)sb->ru.ru_inblock * 512u)
        r->io_read_bytes = (uint64_t)sb->ru.ru_inblock * 512u;
    if (r->io_write_bytes < (uint64_t)sb->ru.ru_oublock * 512u)
        r->io_write_bytes = (uint64_t)sb->ru.ru_oublock * 512u;
    r->processes = u->pids_peak;
    r->processes_known = u->pids_known;
    r->ctx_switches = (uint64_t)(sb->ru.ru_nvcsw + sb->ru.ru_nivcsw);
}

static void finish(vmrt_sandbox_t *sb)
{
    vmrt_sandbox_report_t *r = &sb->report;
    sb_cgroup_usage_t u;
    if (sb->lim.max_disk_io)
        sample_proc_io(sb);
    vmrt__sb_kill_tree(sb);
    vmrt__sb_reap(sb);
    vmrt__sb_cgroup_usage(&sb->cg, &u);
    r->wall_ns = vmrt_now_ns() - sb->start_ns;
    fill_usage(sb, &u);
    if (r->reason != VMRT_END_SETUP_FAILED)
        r->reason = sb->forced != VMRT_END_RUNNING ? sb->forced : status_reason(sb, &u);
    if (WIFSIGNALED(sb->status)) {
        r->signal = WTERMSIG(sb->status);
    } else if (WIFEXITED(sb->status) && r->reason != VMRT_END_SETUP_FAILED) {
        /* (after a set-up failure the status is our own code, not the guest's) */
        r->exit_code = WEXITSTATUS(sb->status);
        if (r->reason == VMRT_END_FILE_SIZE_LIMIT)
            vmrt__sb_note(r,
                          "file_size_limit: inferred from exit status %d (128+SIGXFSZ: a child "
                          "killed by the limit)",
                          r->exit_code);
    }
    sb_netbw_stats_t nb;
    if (vmrt__sb_netbw_stats(&sb->netbw, &nb) == 0) {
        r->net_out_bytes = nb.bytes[0];
        r->net_in_bytes = nb.bytes[1];
        r->net_refused_packets = nb.dropped[0] + nb.dropped[1];
    }
    vmrt__sb_netbw_close(&sb->netbw);
    vmrt__sb_cgroup_destroy(&sb->cg);
    if (sb->listener >= 0)
        close(sb->listener);
    sb->listener = -1;
    sb->finished = true;
}

int vmrt_sandbox_wait(vmrt_sandbox_t *sb, vmrt_sandbox_report_t *report)
{
    if (sb->ran_inline && !sb->finished) {
        sb->report.reason = VMRT_END_EXITED;
        sb->report.exit_code = sb->inline_ret;
        sb->report.wall_ns = vmrt_now_ns() - sb->start_ns;
        sb->finished = true;
    }
    if (sb->pid < 0 && !sb->finished) {
        if (sb->report.reason != VMRT_END_SETUP_FAILED)
            return VMRT_ESTATE;
        sb->finished = true; /* clone itself failed */
    }
    if (!sb->finished) {
        if (!sb->reaped)
            supervise(sb);
        finish(sb);
    }
    if (report)
        *report = sb->report;
    return 0;
}

int vmrt_sandbox_kill(vmrt_sandbox_t *sb)
{
    if (sb->pid < 0 || sb->reaped)
        return VMRT_ESTATE;
    force(sb, VMRT_END_KILLED);
    return 0;
}
