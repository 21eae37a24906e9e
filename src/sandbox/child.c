/* The sandbox child: executes the plan made by the parent, then execs.
 *
 * [SB-CHILD-ASYNC-SAFE] This code may run as a CLONE_VM child on a small
 * stack of its own while the parent's memory is shared: it must not
 * allocate, lock, use stdio, or write to anything but its stack and the
 * kernel. Every step is a system call whose failure is reported to the
 * parent (step name + errno) over the channel, after which the child exits
 * with SB_CHILD_SETUP_EXIT.
 *
 * Order (each step needs the privileges the next one drops):
 *   user-namespace maps → cgroup attach (then the cgroup namespace, rooted
 *   at the new cgroup) → session → die-with-parent → new root → hostname →
 *   loopback → rlimits → stdio and fds → cwd → no_new_privs → Landlock →
 *   capabilities → seccomp (last: it may forbid the calls above) → exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_internal.h"

extern char **environ;

/* Reports a failed step to the parent and exits. Never returns. */
__attribute__((noreturn)) static void fail(const sb_plan_t *p, const char *step, int err)
{
    sb_msg_t m;
    memset(&m, 0, sizeof m);
    m.kind = SB_MSG_ERROR;
    m.err = err ? err : EINVAL;
    strncpy(m.step, step, sizeof m.step - 1);
    (void)!send(p->chan, &m, sizeof m, MSG_NOSIGNAL);
    _exit(SB_CHILD_SETUP_EXIT);
}

/* Closes every fd above 2 (exec: marks them close-on-exec, one call).
 * spawn: closes for real, except the channel which it still needs. */
static int close_fds(const sb_plan_t *p)
{
    if (!p->fn)
        return (int)syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) ? errno : 0;
    unsigned chan = (unsigned)p->chan;
    if (chan > 3 && syscall(SYS_close_range, 3u, chan - 1, 0u) != 0)
        return errno;
    return syscall(SYS_close_range, chan + 1, ~0u, 0u) ? errno : 0;
}

/* Hands the seccomp listener to the parent (SCM_RIGHTS) without waiting:
 * a forbidden syscall made before the parent took the fd blocks until it
 * does, since the fd in flight keeps the listener open. */
static void hand_over_listener(const sb_plan_t *p, int fd)
{
    sb_msg_t m;
    memset(&m, 0, sizeof m);
    m.kind = SB_MSG_LISTENER;
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {&m, sizeof m};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(p->chan, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof m)
        fail(p, "seccomp-listener-send", errno);
    close(fd);
}

static void install_seccomp(const sb_plan_t *p)
{
    unsigned flags = p->want_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0;
    long fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &p->prog);
    if (fd < 0)
        fail(p, "seccomp", errno);
    if (p->want_listener)
        hand_over_listener(p, (int)fd);
}

/* execvpe without allocation: returns the errno to report. */
static int exec_search(const sb_plan_t *p)
{
    char *const *envp = p->envp ? p->envp : environ;
    const char *file = p->argv[0];
    if (strchr(file, '/')) {
        execve(file, p->argv, envp);
        return errno;
    }
    const char *path = p->path_env ? p->path_env : "/usr/local/bin:/usr/bin:/bin";
    size_t flen = strlen(file);
    int last = ENOENT;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t dlen = end ? (size_t)(end - path) : strlen(path);
        char buf[SB_PATH_MAX];
        if (dlen + flen + 2 <= sizeof buf) {
            memcpy(buf, dlen ? path : ".", dlen ? dlen : 1);
            size_t n = dlen ? dlen : 1;
            buf[n] = '/';
            memcpy(buf + n + 1, file, flen + 1);
            execve(buf, p->argv, envp);
            if (errno == EACCES)
                last = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR)
                return errno;
        }
        path += dlen + (end ? 1 : 0);
    }
    return last;
}

/* Namespaces, cgroups, session: the steps that need full privileges. */
static void setup_identity(const sb_plan_t *p)
{
    if (p->map_user && vmrt__sb_child_userns_map(p) != 0)
        fail(p, "userns-map", errno);
    for (unsigned i = 0; i < p->n_cgroup_fds; i++) {
        if (p->cg2_born_in && i == p->cg2_slot)
            continue; /* CLONE_INTO_CGROUP put us there */
        if (write(p->cgroup_fds[i], "0", 1) != 1)
            fail(p, "cgroup-attach", errno);
        close(p->cgroup_fds[i]);
    }
    /* After the attach, so the namespace's root is the sandbox's cgroup. */
    if (p->cgroupns_late && unshare(CLONE_NEWCGROUP) != 0)
        fail(p, "cgroup-namespace", errno);
    if (p->setsid && setsid() < 0)
        fail(p, "setsid", errno);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        fail(p, "die-with-parent", errno);
    /* The parent may have died before PDEATHSIG was armed. */
    if (!(p->clone_flags & CLONE_NEWPID) && getppid() != p->parent_pid)
        _exit(SB_CHILD_SETUP_EXIT);
}

static void setup_environment(const sb_plan_t *p)
{
    const char *step = NULL;
    if (p->new_root && vmrt__sb_child_fs(p, &step) != 0)
        fail(p, step, errno);
    if ((p->clone_flags & CLONE_NEWUTS) && p->hostname &&
        sethostname(p->hostname, strlen(p->hostname)) != 0)
        fail(p, "sethostname", errno);
    if (p->lo_up && vmrt__sb_child_lo_up() != 0)
        fail(p, "loopback-up", errno);
    if (p->tc_len && vmrt__sb_child_shape(p) != 0)
        fail(p, "bandwidth-qdisc", errno);
    for (unsigned i = 0; i < p->n_rlimits; i++)
        if (setrlimit(p->rlimits[i].resource, &p->rlimits[i].rl) != 0)
            fail(p, "setrlimit", errno);
    for (int i = 0; i < 3; i++)
        if (p->stdio[i] >= 0 && p->stdio[i] != i && dup2(p->stdio[i], i) != i)
            fail(p, "stdio", errno);
    int err = close_fds(p);
    if (err)
        fail(p, "close-fds", err);
    if (p->cwd && chdir(p->cwd) != 0)
        fail(p, "chdir", errno);
    else if (!p->cwd && p->new_root && chdir("/") != 0)
        fail(p, "chdir", errno);
}

static void drop_privileges(const sb_plan_t *p)
{
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        fail(p, "no-new-privs", errno);
    if (p->landlock_abi > 0 && vmrt__sb_child_landlock(p) != 0)
        fail(p, "landlock", errno);
    if (p->drop_caps && vmrt__sb_child_drop_caps() != 0)
        fail(p, "drop-capabilities", errno);
    if (p->prog.len)
        install_seccomp(p);
}

int vmrt__sb_child_main(void *arg)
{
    const sb_plan_t *p = arg;
    setup_identity(p);
    setup_environment(p);
    drop_privileges(p);
    if (sigprocmask(SIG_SETMASK, &p->parent_mask, NULL) != 0)
        fail(p, "sigmask", errno);
    if (p->fn) {
        close(p->chan);
        _exit(p->fn(p->fn_arg) & 0xff);
    }
    fail(p, "execve", exec_search(p));
}
