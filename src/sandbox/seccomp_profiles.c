/* Built-in seccomp profiles: their lists of syscall names.
 *
 * default — everything the kernel offers except this deny list, which holds
 *   what Docker's default profile leaves out (kernel modules, kexec, reboot,
 *   clock setting, swap, quotas, accounting, ptrace/process_vm_*, kcmp, NUMA
 *   policy, obsolete calls, mount family, namespaces, keyring, bpf,
 *   perf_event_open, userfaultfd, open_by_handle_at) plus what the issue
 *   adds: io_uring, the new mount API and more. Conditional rules live in
 *   seccomp.c: clone without namespace flags, ioctl without TIOCSTI and
 *   TIOCLINUX (compared on the low 32 bits), socket without AF_VSOCK,
 *   personality(default values), clone3 → ENOSYS (it cannot be inspected;
 *   libc falls back to clone). Syscalls unknown to libseccomp get ENOSYS.
 *
 * strict — an allowlist for computation and basic file and socket I/O;
 *   anything else kills the sandbox (reported with the syscall's name).
 */
#include <stddef.h>

#include "sandbox_internal.h"

static const char *const default_denied[] = {
    /* kernel modules, kexec, reboot */
    "create_module", "init_module", "finit_module", "delete_module", "query_module",
    "get_kernel_syms", "kexec_load", "kexec_file_load", "reboot",
    /* time, swap, quotas, accounting, syslog */
    "clock_settime", "clock_adjtime", "settimeofday", "stime", "adjtimex", "swapon", "swapoff",
    "quotactl", "quotactl_fd", "acct", "syslog", "lookup_dcookie", "nfsservctl",
    /* other processes */
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    /* NUMA */
    "mbind", "set_mempolicy", "migrate_pages", "move_pages", "get_mempolicy",
    "set_mempolicy_home_node",
    /* I/O ports, obsolete and unused calls */
    "iopl", "ioperm", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl", "vhangup",
    "afs_syscall", "tuxcall", "security", "putpmsg", "getpmsg", "vserver", "bdflush",
    /* mounts and namespaces */
    "mount", "umount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsconfig",
    "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "name_to_handle_at",
    "open_by_handle_at", "sethostname", "setdomainname",
    /* keyring, bpf, perf, userfaultfd, io_uring, fanotify */
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "fanotify_init",
    /* handled by conditional rules in seccomp.c */
    "clone", "clone3", "ioctl", "socket", "personality", NULL};

static const char *const strict_allowed[] = {
    /* memory */
    "brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise", "mincore", "membarrier",
    /* files */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "lseek", "_llseek", "open", "openat", "openat2", "creat", "close", "close_range",
    "stat", "lstat", "fstat", "newfstatat", "fstatat64", "statx", "statfs", "fstatfs", "access",
    "faccessat", "faccessat2", "getdents", "getdents64", "getcwd", "chdir", "fchdir", "mkdir",
    "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link", "linkat",
    "symlink", "symlinkat", "readlink", "readlinkat", "chmod", "fchmod", "fchmodat", "umask",
    "truncate", "ftruncate", "fsync", "fdatasync", "flock", "fcntl", "dup", "dup2", "dup3", "pipe",
    "pipe2", "sendfile", "copy_file_range", "splice", "tee", "fadvise64", "fallocate", "utimensat",
    "futimesat", "memfd_create", "readahead", "sync_file_range",
    /* waiting and events */
    "poll", "ppoll", "select", "pselect6", "_newselect", "epoll_create", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    "timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd", "signalfd4", "futex",
    "futex_waitv", "set_robust_list", "get_robust_list", "nanosleep", "clock_nanosleep", "pause",
    /* signals */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "rt_sigqueueinfo", "sigaltstack", "kill", "tgkill", "tkill", "alarm",
    "setitimer", "getitimer", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
    "timer_delete", "restart_syscall",
    /* processes and threads */
    "clone", "clone3", "fork", "vfork", "execve", "execveat", "exit", "exit_group", "wait4",
    "waitid", "set_tid_address", "rseq", "arch_prctl", "set_thread_area", "get_thread_area",
    "prctl", "sched_yield", "sched_getaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpgid", "getpgid",
    "getpgrp", "getsid", "setsid", "capget",
    /* identity and time */
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getresuid", "getresgid", "getrlimit", "ugetrlimit", "prlimit64", "getrusage", "times", "uname",
    "sysinfo", "clock_gettime", "clock_getres", "gettimeofday", "time", "getrandom", "getcpu",
    /* sockets */
    "socket", "socketpair", "connect", "accept", "accept4", "bind", "listen", "sendto", "recvfrom",
    "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown", "getsockname", "getpeername",
    "setsockopt", "getsockopt", "ioctl", NULL};

const char *const *vmrt__sb_profile_default_denied(void)
{
    return default_denied;
}

const char *const *vmrt__sb_profile_strict_allowed(void)
{
    return strict_allowed;
}
