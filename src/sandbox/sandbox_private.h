/* The sandbox object, shared by sandbox.c (set-up, start) and supervisor.c
 * (wait, kill, report). */
#ifndef VMRT_SANDBOX_PRIVATE_H
#define VMRT_SANDBOX_PRIVATE_H

#include <sys/resource.h>

#include "netbw.h"
#include "sandbox_internal.h"

/* How often the supervisor samples cgroup and /proc counters (CPU time over
 * the tree, disk-I/O budget, pids and OOM events) while the guest runs. */
#define SB_POLL_MS 10

struct vmrt_sandbox {
    vmrt_sandbox_config_t cfg;
    vmrt_limits_t lim;
    sb_plan_t plan;
    sb_cgroup_t cg;
    sb_filter_t filter;
    sb_netbw_t netbw;             /* max_network_bandwidth on the host's network */
    vmrt_sandbox_report_t report; /* notes from set-up; filled by _wait */
    pid_t pid;                    /* guest, -1 before start */
    int pidfd;                    /* -1 where CLONE_PIDFD is unavailable */
    int listener;                 /* seccomp user-notification fd, -1 if none */
    int chan;                     /* parent end of the socketpair */
    void *stack;                  /* child stack during start */
    size_t stack_size;
    uint64_t start_ns;
    vmrt_end_reason_t forced; /* the supervisor's reason for a kill */
    bool reaped;
    bool finished; /* report complete */
    int status;    /* wait status once reaped */
    struct rusage ru;
    uint64_t proc_io_read, proc_io_write; /* last /proc/PID/io sample */
    bool ran_inline;                      /* NONE + spawn */
    int inline_ret;
};

void vmrt__sb_take_notification(vmrt_sandbox_t *sb);
void vmrt__sb_kill_tree(vmrt_sandbox_t *sb);
void vmrt__sb_reap(vmrt_sandbox_t *sb);

#endif
