/* vmrt — SandboxedVm: run a command or a function under resource limits, a
 * seccomp syscall filter, namespaces, cgroups and Landlock, at one of four
 * isolation levels, and report why and how it ended.
 *
 * Usage:
 *     vmrt_sandbox_config_t cfg;  vmrt_sandbox_config_init(&cfg);
 *     vmrt_limits_t lim;          vmrt_limits_init(&lim);
 *     cfg.isolation_level = VMRT_ISOLATION_CONTAINER;
 *     lim.max_memory = 64 << 20;
 *     vmrt_sandbox_t *sb;
 *     vmrt_sandbox_new(&sb, &cfg, &lim);
 *     vmrt_sandbox_exec(sb, argv, NULL);        // or vmrt_sandbox_spawn(sb, fn, arg)
 *     vmrt_sandbox_report_t r;
 *     vmrt_sandbox_wait(sb, &r);                // supervises: limits, seccomp violations
 *     vmrt_sandbox_report_print(&r, stdout);
 *     vmrt_sandbox_free(sb);
 *
 * Every limit is enforced, or refused with an error, or downgraded to a
 * weaker mechanism that the report lists (config.strict turns downgrades into
 * errors). docs/sandbox.md describes the levels, limits, profiles and report.
 *
 * Threads: a sandbox object is used by one thread at a time; different
 * sandboxes are independent. The sandbox layer knows nothing of coroutines or
 * the GC heap.
 */
#ifndef VMRT_SANDBOX_H
#define VMRT_SANDBOX_H

#include <stdio.h>
#include <sys/types.h>

#include <vmrt/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The spec's IsolationLevel. */
typedef enum vmrt_isolation {
    VMRT_ISOLATION_NONE = 0,  /* in-process: only in-process caps apply (see docs) */
    VMRT_ISOLATION_PROCESS,   /* child process, rlimits, no_new_privs, seccomp, ... */
    VMRT_ISOLATION_CONTAINER, /* + namespaces, new root, cgroups, network mode */
    VMRT_ISOLATION_FULL,      /* + strict profile, Landlock, no caps, no net, ro root */
} vmrt_isolation_t;

/* What a seccomp rule (or the filter's default) does. */
typedef enum vmrt_syscall_action {
    VMRT_SYSCALL_DEFAULT = 0, /* as the profile says */
    VMRT_SYSCALL_ALLOW,
    VMRT_SYSCALL_ERRNO, /* fail with errno_value */
    VMRT_SYSCALL_KILL,  /* kill the whole sandbox, report seccomp_violation + name */
    VMRT_SYSCALL_TRAP,  /* SIGSYS to the calling thread */
    VMRT_SYSCALL_LOG,   /* allow and log to the kernel audit log */
} vmrt_syscall_action_t;

/* The spec's SyscallFilter. Arrays are NULL-terminated lists of syscall names
 * ("openat") or decimal numbers ("257") of the native ABI. Non-native ABIs
 * (x32, i386 on x86-64) are always rejected (the process is killed). */
typedef struct vmrt_syscall_filter {
    const char *profile;        /* NULL or "default", "strict", "none", or a Docker/OCI JSON file */
    const char *const *allowed; /* allowed on top of the profile (overrides its rules) */
    const char *const *denied;  /* denied on top of the profile, with deny_action */
    vmrt_syscall_action_t default_action; /* for syscalls no rule names; DEFAULT = profile's */
    vmrt_syscall_action_t deny_action;    /* for `denied`; DEFAULT = KILL */
    int errno_value;                      /* for ERRNO actions; 0 = EPERM */
} vmrt_syscall_filter_t;

/* Network of a sandbox with a network namespace. */
typedef enum vmrt_net_mode {
    VMRT_NET_DEFAULT = 0, /* HOST at NONE/PROCESS, NONE at CONTAINER/FULL */
    VMRT_NET_NONE,        /* own namespace, no interface up */
    VMRT_NET_LOOPBACK,    /* own namespace, lo up */
    VMRT_NET_HOST,        /* the host's network (no namespace) */
} vmrt_net_mode_t;

/* The spec's SandboxConfig. Fill with vmrt_sandbox_config_init() first. */
typedef struct vmrt_sandbox_config {
    size_t size;                        /* set by _init(): the ABI version */
    bool enable_seccomp;                /* default true */
    bool enable_namespaces;             /* default true (used at CONTAINER and FULL) */
    bool enable_cgroups;                /* default true (used where a limit needs them) */
    vmrt_isolation_t isolation_level;   /* default PROCESS */
    vmrt_syscall_filter_t filter;       /* profile default: "default" ("strict" at FULL) */
    vmrt_net_mode_t net;                /* network mode */
    const char *const *ro_paths;        /* host paths bound read-only (same path inside) */
    const char *const *rw_paths;        /* host paths bound read-write */
    const char *hostname;               /* UTS name inside; NULL = "vmrt" */
    const char *cwd;                    /* working directory inside; NULL = "/" or inherit */
    bool strict;                        /* a downgrade is an error */
    int stdin_fd, stdout_fd, stderr_fd; /* -1 = inherit */
} vmrt_sandbox_config_t;

/* The spec's ResourceLimits. 0 = unlimited. Fill with vmrt_limits_init(). */
typedef struct vmrt_limits {
    size_t size;                    /* set by _init(): the ABI version */
    uint64_t max_memory;            /* bytes (cgroup; RLIMIT_AS as downgrade) */
    uint64_t max_cpu_time_ns;       /* CPU time over the whole tree */
    uint64_t max_disk_io;           /* bytes read+written to storage (budget) */
    uint64_t max_network_bandwidth; /* bytes per second */
    uint64_t max_processes;         /* processes/threads alive at once */
    uint64_t max_open_files;        /* RLIMIT_NOFILE */
    uint64_t max_file_size;         /* RLIMIT_FSIZE, bytes */
    uint64_t max_wall_time_ns;      /* wall-clock timeout */
    uint32_t vcpus;                 /* cpuset: first N host CPUs */
    double cpu_quota;               /* CPUs worth of time (1.5 = 150 ms per 100 ms) */
    uint64_t max_disk_bw;           /* bytes per second read and each written, on the
                                       block devices of the writable paths (io.max /
                                       blkio.throttle) */
} vmrt_limits_t;

/* Why the guest ended. */
typedef enum vmrt_end_reason {
    VMRT_END_RUNNING = 0, /* not ended (yet) */
    VMRT_END_EXITED,
    VMRT_END_SIGNALED,
    VMRT_END_OUT_OF_MEMORY,
    VMRT_END_SECCOMP_VIOLATION,
    VMRT_END_CPU_TIME_LIMIT,
    VMRT_END_WALL_TIME_LIMIT,
    VMRT_END_DISK_IO_LIMIT,
    VMRT_END_PROCESS_LIMIT,
    VMRT_END_FILE_SIZE_LIMIT,
    VMRT_END_SETUP_FAILED,
    VMRT_END_KILLED, /* vmrt_sandbox_kill() */
} vmrt_end_reason_t;

#define VMRT_SANDBOX_MAX_NOTES 8

/* The end report: why it ended and what it used. */
typedef struct vmrt_sandbox_report {
    vmrt_end_reason_t reason;
    int exit_code;           /* EXITED */
    int signal;              /* the terminating signal, 0 if none */
    int syscall_nr;          /* SECCOMP_VIOLATION; -1 if unknown */
    char syscall_name[32];   /* SECCOMP_VIOLATION; "" if unknown */
    char setup_step[48];     /* SETUP_FAILED: the step that failed */
    int setup_errno;         /* SETUP_FAILED: its errno */
    vmrt_isolation_t level;  /* the level it ran at */
    pid_t pid;               /* the guest's pid in the caller's namespace */
    uint64_t cpu_user_ns;    /* CPU time, user, whole tree where known */
    uint64_t cpu_sys_ns;     /* CPU time, system */
    uint64_t wall_ns;        /* start to end */
    uint64_t peak_memory;    /* cgroup peak, bytes (peak_memory_known) */
    uint64_t max_rss;        /* largest RSS of a process, bytes */
    uint64_t io_read_bytes;  /* storage bytes read */
    uint64_t io_write_bytes; /* storage bytes written */
    uint64_t processes;      /* most processes alive at once (pids cgroup; processes_known) */
    uint64_t ctx_switches;   /* voluntary + involuntary */
    /* Network traffic, counted where max_network_bandwidth is enforced on the
     * host's network (eBPF on the sandbox's cgroup); 0 otherwise. */
    uint64_t net_out_bytes, net_in_bytes;
    uint64_t net_refused_packets; /* packets over the rate, dropped */
    unsigned n_notes;             /* downgrades and remarks */
    char notes[VMRT_SANDBOX_MAX_NOTES][112];
    /* Whether peak_memory and processes were measured: they need a memory /
     * pids cgroup (a memory or process limit creates one). When false the
     * field is 0, the text report says "unknown" and the JSON has null. */
    bool peak_memory_known, processes_known;
} vmrt_sandbox_report_t;

/* Host capabilities, detected once. */
typedef struct vmrt_sandbox_host {
    int cgroup_version;       /* 2, 1 or 0 (none usable) */
    bool user_namespaces;     /* unprivileged user namespaces allowed, or root */
    int landlock_abi;         /* 0 = unavailable */
    bool seccomp;             /* seccomp filters available */
    bool seccomp_notify;      /* user notification available */
    unsigned seccomp_actions; /* bit per VMRT_SYSCALL_* action the kernel offers */
    bool root;                /* euid 0 */
    char cgroup_root[128];    /* v2: our cgroup's directory; v1: "" */
} vmrt_sandbox_host_t;

typedef struct vmrt_sandbox vmrt_sandbox_t;
typedef int (*vmrt_sandbox_fn)(void *arg);

/* Fill with defaults. Always call before setting fields. */
VMRT_API void vmrt_sandbox_config_init(vmrt_sandbox_config_t *cfg);
VMRT_API void vmrt_limits_init(vmrt_limits_t *lim);

/* Creates a sandbox: validates the configuration, detects the host, resolves
 * the syscall filter and prepares cgroups. cfg/limits may be NULL (defaults).
 * Errors: -EINVAL (bad value; vmrt_sandbox_error() says which),
 * VMRT_EUNSUPPORTED (needed and not on this host, or a downgrade under
 * strict), -ENOMEM, -errno of a host operation. */
VMRT_API int vmrt_sandbox_new(vmrt_sandbox_t **out, const vmrt_sandbox_config_t *cfg,
                              const vmrt_limits_t *limits);

/* Runs argv[0] (searched in PATH when it has no '/') with envp (NULL =
 * inherit) in the sandbox. Returns 0 once the command is executing, or a
 * negative error; a failure inside the sandbox's set-up returns -errno and
 * the report says which step. One _exec or _spawn per sandbox. At level NONE
 * this is a plain child process with the in-process caps only. */
VMRT_API int vmrt_sandbox_exec(vmrt_sandbox_t *sb, char *const argv[], char *const envp[]);

/* Runs fn(arg) in a forked child inside the sandbox; the child exits with
 * fn's return value. At level NONE fn runs in the calling thread (the
 * limits that apply in-process only) and _wait reports its return value. */
VMRT_API int vmrt_sandbox_spawn(vmrt_sandbox_t *sb, vmrt_sandbox_fn fn, void *arg);

/* Supervises the guest until it ends (limits, seccomp violations, timeouts),
 * kills what is left of its process tree, and fills *report (may be NULL).
 * Returns 0, or VMRT_ESTATE if nothing was started. */
VMRT_API int vmrt_sandbox_wait(vmrt_sandbox_t *sb, vmrt_sandbox_report_t *report);

/* Kills the whole process tree (SIGKILL); _wait then reports KILLED. */
VMRT_API int vmrt_sandbox_kill(vmrt_sandbox_t *sb);

/* The guest's pid (caller's namespace), or -1. */
VMRT_API pid_t vmrt_sandbox_pid(const vmrt_sandbox_t *sb);

/* Releases the sandbox (kills a guest still running, removes cgroups). */
VMRT_API void vmrt_sandbox_free(vmrt_sandbox_t *sb);

/* Detail of the last error of this thread's sandbox call ("--memory: ..."). */
VMRT_API const char *vmrt_sandbox_error(void);

/* After vmrt_sandbox_new failed on this thread: the report of that failure —
 * reason SETUP_FAILED, setup_step the stage that failed ("config", "cgroup",
 * "limits", "namespaces", "disk-bw", "seccomp", "net-bw"), setup_errno its
 * errno (EOPNOTSUPP for VMRT_EUNSUPPORTED), the isolation level, the notes
 * made so far and, as the last note, vmrt_sandbox_error()'s text. Returns 0,
 * or VMRT_ESTATE if this thread's last vmrt_sandbox_new did not fail. */
VMRT_API int vmrt_sandbox_failure_report(vmrt_sandbox_report_t *report);

/* Host detection (cached). */
VMRT_API const vmrt_sandbox_host_t *vmrt_sandbox_host(void);

/* Names: "container", "seccomp_violation", ... ; parse returns -EINVAL. */
VMRT_API const char *vmrt_isolation_name(vmrt_isolation_t level);
VMRT_API int vmrt_isolation_parse(const char *name, vmrt_isolation_t *out);
VMRT_API const char *vmrt_end_reason_name(vmrt_end_reason_t reason);

/* Report as text (one "key: value" line each) or as a JSON object (a
 * malloc'ed string the caller frees; NULL on -ENOMEM). */
VMRT_API int vmrt_sandbox_report_print(const vmrt_sandbox_report_t *r, FILE *out);
VMRT_API char *vmrt_sandbox_report_json(const vmrt_sandbox_report_t *r);

#ifdef __cplusplus
}
#endif
#endif
