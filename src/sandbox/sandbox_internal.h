/* Sandbox internals shared by the files of src/sandbox/.
 *
 * Design. vmrt_sandbox_new() turns the configuration into a *plan*: every
 * decision (clone flags, rlimits, mounts, cgroup files, the seccomp BPF
 * program) is made and every allocation is done in the parent. The child
 * (src/sandbox/child.c) then only executes the plan with raw system calls:
 * it never allocates, never takes a lock and never touches stdio, so it can
 * run as a CLONE_VM child that shares the parent's memory (no page-table
 * copy, the vfork trick) — [SB-CHILD-ASYNC-SAFE].
 *
 * The child talks to the parent over a SOCK_SEQPACKET socketpair whose child
 * end is close-on-exec: an error message names the failed step and errno; a
 * LISTENER message carries the seccomp user-notification fd (SCM_RIGHTS;
 * the child does not wait for the parent to take it); end-of-file means
 * execve succeeded.
 */
#ifndef VMRT_SANDBOX_INTERNAL_H
#define VMRT_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <signal.h>
#include <sys/resource.h>

#include <vmrt/sandbox.h>

#define SB_MAX_RLIMITS  8
#define SB_MAX_CGROUPS  8
#define SB_MAX_BINDS    32
#define SB_MAX_SYSDIRS  12
#define SB_PATH_MAX     512
#define SB_MAX_LANDLOCK 48

/* Exit codes a sandbox child uses when set-up fails before exec. */
enum { SB_CHILD_SETUP_EXIT = 125 };

/* The largest errno a filter can return (SECCOMP_RET_ERRNO keeps 12 bits;
 * libseccomp refuses more). */
#define SB_MAX_ERRNO 4095

/* A message from the child. */
typedef struct sb_msg {
    int kind; /* SB_MSG_* */
    int err;  /* errno of the failed step */
    char step[48];
} sb_msg_t;

enum { SB_MSG_ERROR = 1, SB_MSG_LISTENER = 2 };

/* One entry of the new root's system directories (/usr, /bin, ...). */
typedef struct sb_sysdir {
    char name[16];   /* "usr" */
    bool is_link;    /* replicate a symlink (merged /usr) */
    char target[64]; /* the link's target */
} sb_sysdir_t;

/* A host path bound into the new root. */
typedef struct sb_bind {
    const char *path; /* host path = path inside */
    bool writable;
    bool is_dir;
    int tree_fd; /* open_tree clone, taken in the child before the tmpfs is mounted */
} sb_bind_t;

/* The plan executed by the child. Filled by the parent, read-only in the child. */
typedef struct sb_plan {
    vmrt_isolation_t level;
    unsigned long clone_flags; /* namespaces to create */
    bool setsid;               /* own session and process group */
    bool no_new_privs;
    bool new_root;                /* tmpfs root + pivot_root */
    bool ro_root;                 /* FULL */
    bool hidepid;                 /* FULL */
    bool drop_caps;               /* FULL */
    bool lo_up;                   /* LOOPBACK */
    _Alignas(8) char tc_msg[256]; /* rtnetlink request: tbf qdisc on lo */
    unsigned tc_len;              /* 0 = no shaping */
    bool map_user;                /* write uid/gid maps (not root) */
    bool cgroupns_late;           /* unshare the cgroup ns after the attach */
    bool use_mknod;               /* root without user ns: mknod /dev nodes */
    char uid_map[32];             /* "0 <uid> 1" */
    char gid_map[32];
    pid_t parent_pid; /* for the die-with-parent race check */
    const char *hostname;
    const char *cwd;
    char root_opts[64]; /* tmpfs options of the new root */
    char tmp_opts[64];  /* ... and of /tmp under a read-only root */
    struct {
        int resource;
        struct rlimit rl;
    } rlimits[SB_MAX_RLIMITS];
    unsigned n_rlimits;
    int cgroup_fds[SB_MAX_CGROUPS]; /* cgroup.procs / tasks files, O_WRONLY */
    unsigned n_cgroup_fds;
    bool has_cg2;      /* a v2 cgroup to be born in (CLONE_INTO_CGROUP) */
    int cg2_fd;        /* ... its directory */
    unsigned cg2_slot; /* ... its cgroup.procs in cgroup_fds[] (the fallback) */
    bool cg2_born_in;  /* the clone used cg2_fd: the child skips that write */
    const sb_sysdir_t *sysdirs;
    unsigned n_sysdirs;
    sb_bind_t binds[SB_MAX_BINDS];
    unsigned n_binds;
    int landlock_abi;       /* FULL: 0 = no Landlock */
    struct sock_fprog prog; /* seccomp; len 0 = none */
    bool want_listener;     /* the filter has NOTIFY rules */
    int stdio[3];
    int chan;             /* child end of the socketpair */
    sigset_t parent_mask; /* restored before exec */
    char *const *argv;
    char *const *envp;
    const char *path_env; /* $PATH for the search */
    vmrt_sandbox_fn fn;   /* spawn: run this instead of exec */
    void *fn_arg;
} sb_plan_t;

/* cgroups (cgroup.c, cgroup_v1.c, cgroup_v2.c). */
typedef enum sb_ctrl {
    SB_CG_MEMORY,
    SB_CG_PIDS,
    SB_CG_CPU,
    SB_CG_CPUACCT,
    SB_CG_CPUSET,
    SB_CG_IO,
    SB_CG_COUNT
} sb_ctrl_t;

typedef struct sb_cgroup_usage {
    uint64_t cpu_ns, cpu_user_ns, cpu_sys_ns;
    uint64_t mem_peak;
    uint64_t oom_kills;
    uint64_t pids_max_events;
    uint64_t pids_peak;
    uint64_t io_read, io_write;
    bool mem_known, pids_known; /* mem_peak / pids_peak were read */
} sb_cgroup_usage_t;

typedef struct sb_cgroup {
    int version;                        /* 1 or 2; 0 = none */
    unsigned needed;                    /* bit per sb_ctrl_t */
    char dir[SB_CG_COUNT][SB_PATH_MAX]; /* v1: per controller; v2: dir[0] */
    bool created[SB_CG_COUNT];
    char track[SB_PATH_MAX]; /* v2 cgroup that only tracks the tree (cgroup.kill) */
    bool track_created;
} sb_cgroup_t;

int vmrt__sb_cgroup_create(sb_cgroup_t *cg, const vmrt_limits_t *lim, sb_plan_t *plan);
int vmrt__sb_cgroup_usage(const sb_cgroup_t *cg, sb_cgroup_usage_t *u);
int vmrt__sb_cgroup_kill(const sb_cgroup_t *cg);
int vmrt__sb_cgroup_track(sb_cgroup_t *cg, sb_plan_t *plan);
void vmrt__sb_cgroup_destroy(sb_cgroup_t *cg);
int vmrt__sb_cgroup_throttle(const sb_cgroup_t *cg, unsigned maj, unsigned min, uint64_t bps);
int vmrt__sb_disk_of(const char *path, unsigned *maj, unsigned *min);
/* Backends. */
int vmrt__sb_cgv1_setup(sb_cgroup_t *cg, const vmrt_limits_t *lim, sb_plan_t *plan);
int vmrt__sb_cgv1_usage(const sb_cgroup_t *cg, sb_cgroup_usage_t *u);
int vmrt__sb_cgv2_setup(sb_cgroup_t *cg, const vmrt_limits_t *lim, sb_plan_t *plan);
int vmrt__sb_cgv2_usage(const sb_cgroup_t *cg, sb_cgroup_usage_t *u);
void vmrt__sb_cgroup_name(char *buf, size_t len);
/* File helpers. */
int vmrt__sb_write_file(const char *dir, const char *file, const char *text);
int vmrt__sb_read_file(const char *dir, const char *file, char *buf, size_t len);
uint64_t vmrt__sb_read_u64(const char *dir, const char *file);
/* The same; false when the file is missing or holds no number. */
bool vmrt__sb_read_u64_ok(const char *dir, const char *file, uint64_t *out);
uint64_t vmrt__sb_keyed_u64(const char *text, const char *key);
/* v1 controller mount point and v2 root; "" when absent. */
const char *vmrt__sb_cgv1_mount(sb_ctrl_t c);
const char *vmrt__sb_cgv2_mount(void);
const char *vmrt__sb_self_cgroup(int version, sb_ctrl_t c);

/* Seccomp (seccomp.c, seccomp_profiles.c). */
typedef struct sb_filter {
    struct sock_filter *insns;
    unsigned short len;
    bool has_notify;
} sb_filter_t;

int vmrt__sb_filter_build(const vmrt_syscall_filter_t *f, vmrt_isolation_t level, sb_filter_t *out);
int vmrt__sb_filter_compile(const vmrt_syscall_filter_t *f, vmrt_isolation_t level, bool notify,
                            sb_filter_t *out);
void vmrt__sb_filter_free(sb_filter_t *f);
const char *const *vmrt__sb_profile_default_denied(void);
const char *const *vmrt__sb_profile_strict_allowed(void);
/* Marker action "kill and report": NOTIFY or KILL_PROCESS when emitted. */
#define SB_ACT_KILL 0xfffe0000u
struct scmp_arg_cmp;
/* Docker/OCI profile (oci.c): adds its rules through vmrt__sb_oci_add. */
int vmrt__sb_oci_rules(const char *path, void *rules, uint32_t *def);
int vmrt__sb_oci_add(void *rules, const char *name, uint32_t action, unsigned n,
                     const struct scmp_arg_cmp *args);

/* File system (fs.c): the system directory plan, and the child's steps. */
const sb_sysdir_t *vmrt__sb_sysdirs(unsigned *n);
int vmrt__sb_child_fs(const sb_plan_t *p, const char **step);
/* Network (net.c), Landlock (landlock.c), privileges (privs.c): child side. */
int vmrt__sb_child_lo_up(void);
int vmrt__sb_net_shaper_msg(uint64_t rate, void *buf, size_t len);
int vmrt__sb_child_shape(const sb_plan_t *p);
int vmrt__sb_landlock_abi(void);
int vmrt__sb_child_landlock(const sb_plan_t *p);
int vmrt__sb_child_drop_caps(void);
int vmrt__sb_child_userns_map(const sb_plan_t *p);

/* Detection (detect.c): _host() leaves cgroup_version and cgroup_root
 * unset (0, "") — only _host_cgroups() scans the cgroup hierarchies. */
const vmrt_sandbox_host_t *vmrt__sb_host(void);
const vmrt_sandbox_host_t *vmrt__sb_host_cgroups(void);

/* Errors with detail (sandbox.c). */
int vmrt__sb_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vmrt__sb_note(vmrt_sandbox_report_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* clone3 into a cgroup v2 (clone3.c): pid, or -1 with errno. */
pid_t vmrt__sb_clone_into(unsigned long flags, int cgroup_fd, void *stack, size_t stack_size,
                          bool share_vm, int (*fn)(void *), void *arg, int *pidfd);
/* Registers a v2 cgroup directory the child joins (cgroup.c). */
int vmrt__sb_cgroup_join_v2(sb_plan_t *plan, const char *dir);
void vmrt__sb_cgroup_close_fds(sb_plan_t *plan);

/* Child entry (child.c). */
int vmrt__sb_child_main(void *plan);

#endif
