/* Landlock at FULL: after pivot_root, the sandbox may read and execute
 * beneath "/", and write only beneath /tmp, /dev and its --rw paths.
 * Everything the host's Landlock ABI can restrict is handled (so new access
 * rights are denied by default). The ABI is probed by the parent
 * (vmrt__sb_landlock_abi); the child only makes system calls
 * [SB-CHILD-ASYNC-SAFE].
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_internal.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ull << 14) /* ABI 3; older kernel headers */
#endif

#define LL_READ                                                                                    \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* Landlock ABI version of the running kernel, 0 if unavailable. */
int vmrt__sb_landlock_abi(void)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    return v < 0 ? 0 : (int)v;
}

static uint64_t handled_fs(int abi)
{
    uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
    if (abi >= 2)
        all |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        all |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        all |= 1ull << 15; /* LANDLOCK_ACCESS_FS_IOCTL_DEV */
    return all;
}

static int allow(int ruleset, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct landlock_path_beneath_attr attr = {.allowed_access = access, .parent_fd = fd};
    long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
    int saved = errno;
    close(fd);
    errno = saved;
    return r == 0 ? 0 : -1;
}

int vmrt__sb_child_landlock(const sb_plan_t *p)
{
    uint64_t all = handled_fs(p->landlock_abi);
    struct landlock_ruleset_attr ra;
    memset(&ra, 0, sizeof ra);
    ra.handled_access_fs = all;
    int rs = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra.handled_access_fs, 0);
    if (rs < 0)
        return -1;
    int r = allow(rs, "/", LL_READ);
    /* Directory-only rights may not be granted on a file (EINVAL): /dev/null
     * etc. get the file rights only. */
    uint64_t file_rw = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE;
    if (p->landlock_abi >= 3)
        file_rw |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (!r)
        r = allow(rs, "/tmp", all);
    if (!r)
        r = allow(rs, "/dev", file_rw | LL_READ);
    for (unsigned i = 0; !r && i < p->n_binds; i++)
        if (p->binds[i].writable)
            r = allow(rs, p->binds[i].path, p->binds[i].is_dir ? all : file_rw);
    if (!r && syscall(SYS_landlock_restrict_self, rs, 0) != 0)
        r = -1;
    int saved = errno;
    close(rs);
    errno = saved;
    return r;
}
