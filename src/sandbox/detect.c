/* Host detection, once per process, in two parts. The cheap part (a dozen
 * system calls): user namespaces, the Landlock ABI and the seccomp actions.
 * The cgroup part, only when a sandbox needs a cgroup (a limit, the tracking
 * cgroup of the process level, --net host bandwidth) or the caller asks for
 * the whole picture (vmrt_sandbox_host): which hierarchy can enforce limits
 * (v2 with controllers, else v1 controllers, else none — hosts such as this
 * project's CI have v1 controllers beside an empty v2 hierarchy), the mount
 * points of the cgroup hierarchies and this process's cgroup paths, which
 * cgroup.c joins into sandbox cgroup directories. Reading and parsing
 * /proc/self/mountinfo is most of the cost of detection, and a container
 * without limits needs none of it.
 */
#include <errno.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_internal.h"

static const char *const ctrl_names[SB_CG_COUNT] = {"memory",  "pids",   "cpu",
                                                    "cpuacct", "cpuset", "blkio"};

static struct {
    vmrt_sandbox_host_t host;
    char v1_mount[SB_CG_COUNT][128];
    char v1_path[SB_CG_COUNT][256];
    char v2_mount[128];
    char v2_path[256];
} det;
static pthread_once_t det_once = PTHREAD_ONCE_INIT;
static pthread_once_t cg_once = PTHREAD_ONCE_INIT;

/* dst = a + b, or "" when it does not fit. */
static void join(char *dst, size_t len, const char *a, const char *b)
{
    if (!strcmp(b, "/"))
        b = ""; /* the root cgroup: no trailing slash (no "//" in paths built on it) */
    if (snprintf(dst, len, "%s%s", a, b) >= (int)len)
        dst[0] = '\0';
}

static bool has_option(const char *opts, const char *name)
{
    size_t n = strlen(name);
    for (const char *s = opts; (s = strstr(s, name)) != NULL; s += n)
        if ((s == opts || s[-1] == ',') && (s[n] == ',' || s[n] == '\0' || s[n] == '\n'))
            return true;
    return false;
}

static void scan_mountinfo(void)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        char mnt[256], fstype[32], src[64], opts[256];
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %255s", mnt) != 1 ||
            sscanf(dash + 3, "%31s %63s %255s", fstype, src, opts) != 3)
            continue;
        if (!strcmp(fstype, "cgroup2") && !det.v2_mount[0])
            join(det.v2_mount, sizeof det.v2_mount, mnt, "");
        if (strcmp(fstype, "cgroup") != 0)
            continue;
        for (int c = 0; c < SB_CG_COUNT; c++)
            if (has_option(opts, ctrl_names[c]) && !det.v1_mount[c][0])
                join(det.v1_mount[c], sizeof det.v1_mount[c], mnt, "");
    }
    fclose(f);
}

static void scan_self_cgroup(void)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f)
        return;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *ctrls = c1 + 1, *path = c2 + 1;
        if (!strcmp(line, "0") && !*ctrls)
            join(det.v2_path, sizeof det.v2_path, path, "");
        for (int c = 0; c < SB_CG_COUNT; c++)
            if (has_option(ctrls, ctrl_names[c]))
                join(det.v1_path[c], sizeof det.v1_path[c], path, "");
    }
    fclose(f);
}

static bool v2_has(const char *ctrl)
{
    char buf[256], dir[512];
    join(dir, sizeof dir, det.v2_mount, det.v2_path);
    if (vmrt__sb_read_file(dir, "cgroup.controllers", buf, sizeof buf) < 0)
        return false;
    return has_option(buf, ctrl) || strstr(buf, ctrl) != NULL;
}

static bool userns_allowed(void)
{
    char buf[32];
    if (geteuid() != 0 &&
        vmrt__sb_read_file("/proc/sys/kernel", "unprivileged_userns_clone", buf, sizeof buf) >= 0 &&
        atoi(buf) == 0)
        return false;
    if (vmrt__sb_read_file("/proc/sys/user", "max_user_namespaces", buf, sizeof buf) >= 0 &&
        atoi(buf) == 0)
        return false;
    return true;
}

static bool writable_cgroup(const vmrt_sandbox_host_t *h)
{
    char dir[512];
    if (h->cgroup_version == 2)
        return access(h->cgroup_root, W_OK) == 0;
    int c = det.v1_mount[SB_CG_MEMORY][0] ? SB_CG_MEMORY : SB_CG_PIDS;
    join(dir, sizeof dir, det.v1_mount[c], det.v1_path[c]);
    return dir[0] && access(dir, W_OK) == 0;
}

static void detect(void)
{
    vmrt_sandbox_host_t *h = &det.host;
    h->root = geteuid() == 0;
    h->user_namespaces = userns_allowed();
    h->landlock_abi = vmrt__sb_landlock_abi();
    unsigned act = SECCOMP_RET_KILL_PROCESS;
    h->seccomp = syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0;
    act = SECCOMP_RET_USER_NOTIF;
    h->seccomp_notify = h->seccomp && syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0;
    static const struct {
        vmrt_syscall_action_t action;
        unsigned ret;
    } acts[] = {{VMRT_SYSCALL_ALLOW, SECCOMP_RET_ALLOW},
                {VMRT_SYSCALL_ERRNO, SECCOMP_RET_ERRNO},
                {VMRT_SYSCALL_TRAP, SECCOMP_RET_TRAP},
                {VMRT_SYSCALL_LOG, SECCOMP_RET_LOG}};
    if (h->seccomp)
        h->seccomp_actions |= 1u << VMRT_SYSCALL_KILL; /* probed above */
    for (size_t i = 0; h->seccomp && i < sizeof acts / sizeof acts[0]; i++) {
        act = acts[i].ret;
        if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &act) == 0)
            h->seccomp_actions |= 1u << acts[i].action;
    }
}

static void detect_cgroups(void)
{
    vmrt_sandbox_host_t *h = &det.host;
    scan_mountinfo();
    scan_self_cgroup();
    if (det.v2_mount[0] && v2_has("memory") && v2_has("pids")) {
        h->cgroup_version = 2;
        join(h->cgroup_root, sizeof h->cgroup_root, det.v2_mount, det.v2_path);
    } else if (det.v1_mount[SB_CG_MEMORY][0] || det.v1_mount[SB_CG_PIDS][0]) {
        h->cgroup_version = 1;
    }
    /* Creating cgroups needs write access to our cgroup (root, or a
     * delegated v2 subtree). */
    if (h->cgroup_version && !writable_cgroup(h))
        h->cgroup_version = 0;
}

/* The cheap part: every field but cgroup_version and cgroup_root. */
const vmrt_sandbox_host_t *vmrt__sb_host(void)
{
    pthread_once(&det_once, detect);
    return &det.host;
}

/* Everything, the cgroup fields included. */
const vmrt_sandbox_host_t *vmrt__sb_host_cgroups(void)
{
    pthread_once(&det_once, detect);
    pthread_once(&cg_once, detect_cgroups);
    return &det.host;
}

const vmrt_sandbox_host_t *vmrt_sandbox_host(void)
{
    return vmrt__sb_host_cgroups();
}

const char *vmrt__sb_cgv1_mount(sb_ctrl_t c)
{
    vmrt__sb_host_cgroups();
    return det.v1_mount[c];
}

const char *vmrt__sb_cgv2_mount(void)
{
    vmrt__sb_host_cgroups();
    return det.v2_mount;
}

/* This process's cgroup path: v2, or v1 for the named controller. */
const char *vmrt__sb_self_cgroup(int version, sb_ctrl_t c)
{
    vmrt__sb_host_cgroups();
    return version == 2 ? det.v2_path : det.v1_path[c];
}
