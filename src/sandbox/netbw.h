/* Network bandwidth for a sandbox on the host's network: a token bucket in
 * eBPF on the sandbox's cgroup v2 directory (netbw.c). Internal. */
#ifndef VMRT_SANDBOX_NETBW_H
#define VMRT_SANDBOX_NETBW_H

#include <stdint.h>

typedef struct sb_netbw {
    int map_fd; /* per-direction state and counters; -1 when not attached */
} sb_netbw_t;

/* What passed and what was refused, per direction (0 egress, 1 ingress). */
typedef struct sb_netbw_stats {
    uint64_t bytes[2];
    uint64_t dropped[2]; /* packets */
} sb_netbw_stats_t;

/* Attaches an egress and an ingress program to the cgroup v2 directory
 * cgroup_fd that let through at most rate bytes per second each way (plus a
 * burst of vmrt__sb_netbw_burst(rate) bytes). Egress refusals carry congestion
 * notification, so TCP slows down instead of timing out. Returns 0,
 * -EPERM/-EACCES (no CAP_BPF / CAP_SYS_ADMIN), -EINVAL/-ENOSYS (kernel
 * without cgroup BPF) or another -errno; on error nothing stays attached.
 * The programs live as long as the cgroup directory. */
uint64_t vmrt__sb_netbw_burst(uint64_t rate); /* max(250 ms of rate, 256 KiB) */
int vmrt__sb_netbw_attach(sb_netbw_t *nb, int cgroup_fd, uint64_t rate);
int vmrt__sb_netbw_stats(const sb_netbw_t *nb, sb_netbw_stats_t *out);
void vmrt__sb_netbw_close(sb_netbw_t *nb);

#endif
