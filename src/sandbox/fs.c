/* The new root of a CONTAINER/FULL sandbox.
 *
 * Layout: a tmpfs holding read-only recursive binds of the host's system
 * directories (/usr, /bin, /lib*, /sbin, /etc — symlinks such as merged-/usr
 * /bin -> usr/bin are replicated, not bound), the --ro/--rw paths at their
 * host paths, a private /tmp, a fresh /proc (hidepid at FULL; /proc/sys and
 * /proc/sysrq-trigger read-only) and a minimal /dev (null zero full random
 * urandom tty + fd links). Then pivot_root(".", ".") and a lazy unmount of
 * the old root, which needs no directory for it.
 *
 * The tmpfs is staged on /tmp inside the private mount namespace. User paths
 * are cloned with open_tree() *before* that mount, so paths under the host's
 * /tmp stay reachable; system directories are bound by path afterwards.
 * Read-only is applied with mount_setattr(AT_RECURSIVE), which also covers
 * submounts (a plain MS_REMOUNT|MS_RDONLY does not).
 *
 * The system-directory list is read once per process (vmrt__sb_sysdirs) so
 * the child does no lstat/readlink. Child-side code: [SB-CHILD-ASYNC-SAFE].
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox_internal.h"

#define STAGE "/tmp"

static const char *const sysdir_names[] = {"usr",   "bin",   "sbin",   "lib",
                                           "lib64", "lib32", "libx32", "etc"};
static sb_sysdir_t sysdirs[SB_MAX_SYSDIRS];
static unsigned n_sysdirs;
static pthread_once_t sysdirs_once = PTHREAD_ONCE_INIT;

static void scan_sysdirs(void)
{
    for (size_t i = 0; i < sizeof sysdir_names / sizeof sysdir_names[0]; i++) {
        char path[32];
        snprintf(path, sizeof path, "/%s", sysdir_names[i]);
        struct stat st;
        if (lstat(path, &st) != 0)
            continue;
        sb_sysdir_t *d = &sysdirs[n_sysdirs];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", sysdir_names[i]);
        if (S_ISLNK(st.st_mode)) {
            ssize_t n = readlink(path, d->target, sizeof d->target - 1);
            if (n <= 0 || (size_t)n >= sizeof d->target - 1)
                continue;
            d->target[n] = '\0';
            d->is_link = true;
        } else if (!S_ISDIR(st.st_mode)) {
            continue;
        }
        n_sysdirs++;
    }
}

/* The host's system directories, scanned once. Any thread. */
const sb_sysdir_t *vmrt__sb_sysdirs(unsigned *n)
{
    pthread_once(&sysdirs_once, scan_sysdirs);
    *n = n_sysdirs;
    return sysdirs;
}

/* --- child side ------------------------------------------------------- */

static int set_attr(int dfd, const char *path, unsigned flags, uint64_t attr)
{
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_set = attr;
    return mount_setattr(dfd, path, flags, &a, sizeof a);
}

/* Binds host /src at rel (relative to the stage) read-only. */
static int bind_ro(const char *src, const char *rel)
{
    if (mkdir(rel, 0755) != 0 && errno != EEXIST)
        return -1;
    if (mount(src, rel, NULL, MS_BIND | MS_REC, NULL) != 0)
        return -1;
    return set_attr(AT_FDCWD, rel, AT_RECURSIVE,
                    MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
}

/* mkdir -p of a relative path (no allocation). Creates the last component as
 * a directory when is_dir, else as an empty file. */
static int make_mountpoint(const char *rel, bool is_dir)
{
    char buf[SB_PATH_MAX];
    size_t len = strlen(rel);
    if (len >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, rel, len + 1);
    /* Already there — e.g. a file or directory of a read-only system
     * directory (--ro /etc/passwd), where nothing can be created. */
    struct stat st;
    if (stat(buf, &st) == 0 && (S_ISDIR(st.st_mode) == is_dir))
        return 0;
    for (char *s = buf + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *s = '/';
    }
    if (is_dir)
        return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
    int fd = open(buf, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return errno == EISDIR ? 0 : -1;
    close(fd);
    return 0;
}

static int setup_dev(const sb_plan_t *p)
{
    static const struct {
        const char *name;
        unsigned maj, min;
    } nodes[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                 {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
    static const char *const links[][2] = {{"/proc/self/fd", "dev/fd"},
                                           {"/proc/self/fd/0", "dev/stdin"},
                                           {"/proc/self/fd/1", "dev/stdout"},
                                           {"/proc/self/fd/2", "dev/stderr"}};
    if (mkdir("dev", 0755) != 0 ||
        mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") != 0)
        return -1;
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        char rel[32] = "dev/", host[32] = "/dev/";
        strcat(rel, nodes[i].name);
        strcat(host, nodes[i].name);
        if (p->use_mknod) {
            if (mknod(rel, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) != 0)
                return -1;
        } else if (mknod(rel, S_IFREG | 0666, 0) != 0 ||
                   mount(host, rel, NULL, MS_BIND, NULL) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
        if (symlink(links[i][0], links[i][1]) != 0)
            return -1;
    return mkdir("dev/shm", 01777);
}

static int setup_proc(const sb_plan_t *p)
{
    static const char *const ro[] = {"proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus"};
    if (mkdir("proc", 0555) != 0 || mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                          p->hidepid ? "hidepid=invisible" : NULL) != 0)
        return -1;
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        if (mount(ro[i], ro[i], NULL, MS_BIND | MS_REC, NULL) != 0) {
            if (errno == ENOENT)
                continue;
            return -1;
        }
        if (set_attr(AT_FDCWD, ro[i], AT_RECURSIVE, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID) != 0)
            return -1;
    }
    return 0;
}

#define STEP(name, expr)                                                                           \
    do {                                                                                           \
        if ((expr) != 0) {                                                                         \
            *step = (name);                                                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static int place_binds(const sb_plan_t *p, const int *tree, const char **step)
{
    for (unsigned i = 0; i < p->n_binds; i++) {
        const sb_bind_t *b = &p->binds[i];
        const char *rel = b->path + 1; /* paths are absolute */
        uint64_t attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        if (!b->writable)
            attr |= MOUNT_ATTR_RDONLY;
        STEP("bind-mountpoint", make_mountpoint(rel, b->is_dir));
        STEP("bind-attr", set_attr(tree[i], "", AT_EMPTY_PATH | AT_RECURSIVE, attr));
        STEP("bind-move", move_mount(tree[i], "", AT_FDCWD, rel, MOVE_MOUNT_F_EMPTY_PATH));
        close(tree[i]);
    }
    return 0;
}

/* Builds the new root and pivots into it. On failure sets *step and errno. */
int vmrt__sb_child_fs(const sb_plan_t *p, const char **step)
{
    int tree[SB_MAX_BINDS];
    STEP("mount-private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
    for (unsigned i = 0; i < p->n_binds; i++) {
        tree[i] = open_tree(AT_FDCWD, p->binds[i].path,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        STEP("bind-open", tree[i] < 0);
    }
    mode_t old_umask = umask(0);
    STEP("root-tmpfs", mount("tmpfs", STAGE, "tmpfs", MS_NOSUID | MS_NODEV, p->root_opts));
    STEP("root-chdir", chdir(STAGE));
    for (unsigned i = 0; i < p->n_sysdirs; i++) {
        const sb_sysdir_t *d = &p->sysdirs[i];
        char host[32] = "/";
        strcat(host, d->name);
        if (d->is_link)
            STEP("root-symlink", symlink(d->target, d->name));
        else
            STEP("root-bind", bind_ro(host, d->name));
    }
    STEP("proc", setup_proc(p));
    STEP("dev", setup_dev(p));
    STEP("tmp", mkdir("tmp", 01777));
    if (p->ro_root) {
        STEP("tmp", mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, p->tmp_opts));
    }
    if (place_binds(p, tree, step) != 0)
        return -1;
    umask(old_umask);
    STEP("pivot-root", (int)syscall(SYS_pivot_root, ".", "."));
    STEP("umount-old-root", umount2(".", MNT_DETACH));
    STEP("root-chdir", chdir("/"));
    if (p->ro_root)
        STEP("root-readonly", set_attr(AT_FDCWD, "/", 0, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID));
    return 0;
}
