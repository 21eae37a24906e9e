/* Privileges in the child: user-namespace maps and dropping capabilities.
 * Child-side code: [SB-CHILD-ASYNC-SAFE].
 *
 * Capabilities (FULL): the bounding set is emptied first (needs CAP_SETPCAP,
 * so before capset), then effective/permitted/inheritable are cleared and
 * the ambient set too. With an empty bounding set even uid 0 gains nothing
 * at execve, so no securebits are needed; no_new_privs is set earlier.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_internal.h"

static int write_proc(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)len ? 0 : -1;
}

/* Maps root inside to the caller's uid/gid outside (a single mapping, which
 * an unprivileged process may write for itself). */
int vmrt__sb_child_userns_map(const sb_plan_t *p)
{
    if (write_proc("/proc/self/uid_map", p->uid_map) != 0)
        return -1;
    if (write_proc("/proc/self/setgroups", "deny") != 0 && errno != ENOENT)
        return -1;
    return write_proc("/proc/self/gid_map", p->gid_map);
}

int vmrt__sb_child_drop_caps(void)
{
    for (unsigned long cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
            if (errno == EINVAL)
                break; /* past CAP_LAST_CAP */
            return -1;
        }
    }
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0)
        return -1;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return -1;
    return 0;
}
