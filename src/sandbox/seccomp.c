/* Syscall filter: profile + allowed/denied lists → a BPF program (libseccomp).
 *
 * Rules are first collected in a table (rule_set_t) so that later sources
 * override earlier ones per syscall — profile, then `allowed`, then `denied`
 * — which libseccomp itself cannot express (it refuses conflicting rules).
 * The table is then emitted into a libseccomp context for the native ABI
 * only (non-native ABIs — x32 numbers, int 0x80 — hit the bad-arch action,
 * which kills the process), with SCMP_FLTATR_CTL_OPTIMIZE=2 (binary tree),
 * and exported as raw BPF that the child installs with one seccomp(2) call.
 *
 * KILL and seccomp_violation. A "kill" rule is emitted as SCMP_ACT_NOTIFY
 * where the host supports user notification: the offending syscall blocks,
 * the supervisor receives its number and architecture on the listener fd,
 * kills the whole sandbox and reports the syscall by name. Because NOTIFY
 * cannot be a filter's default action, a KILL default becomes explicit
 * NOTIFY rules for every syscall libseccomp knows and KILL_PROCESS for the
 * rest (reported as a violation without a name). Without user notification
 * KILL is SCMP_ACT_KILL_PROCESS (SIGSYS, no name; the report notes it).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox_internal.h"
#ifndef VMRT_SB_GENERATOR
#include "sandbox/seccomp_blobs.h" /* generated: VMRT_SB_HAVE_BLOBS, sb_blobs[] */
#endif
#ifndef VMRT_SB_HAVE_BLOBS
#define VMRT_SB_HAVE_BLOBS 0
#endif

#define MAX_NR 1024

typedef struct rule {
    int nr;
    uint32_t action; /* libseccomp action, or ACT_KILL_MARK */
    unsigned n_args;
    struct scmp_arg_cmp args[6];
    bool dead; /* overridden */
} rule_t;

typedef struct rule_set {
    rule_t *v;
    size_t n, cap;
    uint32_t def; /* default action */
    bool notify;  /* host supports NOTIFY */
} rule_set_t;

#define ACT_KILL_MARK SB_ACT_KILL

#define NS_FLAGS                                                                                   \
    (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |     \
     CLONE_NEWCGROUP | CLONE_NEWTIME)

static int add(rule_set_t *rs, int nr, uint32_t action, unsigned n_args,
               const struct scmp_arg_cmp *args)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 256;
        rule_t *v = realloc(rs->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    rule_t *r = &rs->v[rs->n++];
    memset(r, 0, sizeof *r);
    r->nr = nr;
    r->action = action;
    r->n_args = n_args;
    if (n_args)
        memcpy(r->args, args, n_args * sizeof *args);
    return 0;
}

/* Replaces every rule of nr by one unconditional rule. */
static int override(rule_set_t *rs, int nr, uint32_t action)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].nr == nr)
            rs->v[i].dead = true;
    return add(rs, nr, action, 0, NULL);
}

static bool has_rule(const rule_set_t *rs, int nr)
{
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].nr == nr && !rs->v[i].dead)
            return true;
    return false;
}

/* "openat" or "257" → number of the native ABI; -1 if unknown. */
static int resolve(const char *name)
{
    char *end;
    long v = strtol(name, &end, 10);
    if (*name && !*end)
        return v >= 0 && v < MAX_NR ? (int)v : -1;
    int nr = seccomp_syscall_resolve_name(name);
    return nr == __NR_SCMP_ERROR || nr < 0 ? -1 : nr;
}

static uint32_t map_action(vmrt_syscall_action_t a, int err)
{
    switch (a) {
    case VMRT_SYSCALL_ALLOW:
        return SCMP_ACT_ALLOW;
    case VMRT_SYSCALL_ERRNO:
        return SCMP_ACT_ERRNO((uint32_t)(err ? err : EPERM));
    case VMRT_SYSCALL_TRAP:
        return SCMP_ACT_TRAP;
    case VMRT_SYSCALL_LOG:
        return SCMP_ACT_LOG;
    case VMRT_SYSCALL_KILL:
    case VMRT_SYSCALL_DEFAULT:
    default:
        return ACT_KILL_MARK;
    }
}

/* Conditional rules shared by both built-in profiles. */
static int add_conditionals(rule_set_t *rs, bool strict)
{
    int nr, err = 0;
    if ((nr = resolve("clone")) >= 0) /* fork and threads, never namespaces */
        err = add(rs, nr, SCMP_ACT_ALLOW, 1,
                  (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_MASKED_EQ, NS_FLAGS, 0)});
    /* Under strict the default kills without a name: name these. */
    for (unsigned long bit = 1; strict && !err && nr >= 0 && bit; bit <<= 1)
        if (bit & NS_FLAGS)
            err = add(rs, nr, ACT_KILL_MARK, 1,
                      (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_MASKED_EQ, bit, bit)});
    if (!err && (nr = resolve("clone3")) >= 0)
        err = add(rs, nr, SCMP_ACT_ERRNO(ENOSYS), 0, NULL);
    if (!err && (nr = resolve("ioctl")) >= 0) {
        static const unsigned long bad[] = {TIOCSTI, TIOCLINUX};
        for (int i = 0; !err && i < 2; i++)
            err = add(rs, nr, ACT_KILL_MARK, 1,
                      (struct scmp_arg_cmp[]){SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, bad[i])});
        /* Allow everything else; libseccomp takes one comparison per
         * argument, so "neither" is spelled as ranges around the two. */
        if (!err)
            err = add(rs, nr, SCMP_ACT_ALLOW, 1,
                      (struct scmp_arg_cmp[]){SCMP_A1_32(SCMP_CMP_LT, TIOCSTI)});
        if (!err)
            err = add(rs, nr, SCMP_ACT_ALLOW, 1,
                      (struct scmp_arg_cmp[]){SCMP_A1_32(SCMP_CMP_GT, TIOCLINUX)});
        for (unsigned long v = TIOCSTI + 1; !err && v < TIOCLINUX; v++)
            err =
                add(rs, nr, SCMP_ACT_ALLOW, 1, (struct scmp_arg_cmp[]){SCMP_A1_32(SCMP_CMP_EQ, v)});
    }
    if (!err && (nr = resolve("socket")) >= 0) {
        if (strict) {
            static const int fams[] = {AF_UNIX, AF_INET, AF_INET6};
            for (int i = 0; !err && i < 3; i++)
                err = add(rs, nr, SCMP_ACT_ALLOW, 1,
                          (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_EQ, (uint64_t)fams[i])});
            /* every other family: kill and report by name */
            for (uint64_t f = 0; !err && f < AF_INET6; f++)
                if (f != AF_UNIX && f != AF_INET)
                    err = add(rs, nr, ACT_KILL_MARK, 1,
                              (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_EQ, f)});
            if (!err)
                err = add(rs, nr, ACT_KILL_MARK, 1,
                          (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_GT, AF_INET6)});
        } else {
            err = add(rs, nr, SCMP_ACT_ALLOW, 1,
                      (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_NE, AF_VSOCK)});
            if (!err)
                err = add(rs, nr, ACT_KILL_MARK, 1,
                          (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_EQ, AF_VSOCK)});
        }
    }
    if (!err && !strict && (nr = resolve("personality")) >= 0) {
        static const uint64_t ok[] = {0, 8, 0x20000, 0x20008, 0xffffffff};
        for (int i = 0; !err && i < 5; i++)
            err = add(rs, nr, SCMP_ACT_ALLOW, 1,
                      (struct scmp_arg_cmp[]){SCMP_A0(SCMP_CMP_EQ, ok[i])});
    }
    return err;
}

static bool in_list(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (!strcmp(*list, name))
            return true;
    return false;
}

static bool conditional(const char *name)
{
    static const char *const names[] = {"clone", "clone3", "ioctl", "socket", "personality", NULL};
    return in_list(names, name);
}

static int profile_default(rule_set_t *rs)
{
    const char *const *denied = vmrt__sb_profile_default_denied();
    rs->def = SCMP_ACT_ERRNO(ENOSYS);
    int err = 0;
    for (int nr = 0; !err && nr < MAX_NR; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!name)
            continue;
        if (!in_list(denied, name))
            err = add(rs, nr, SCMP_ACT_ALLOW, 0, NULL);
        else if (!conditional(name))
            err = add(rs, nr, ACT_KILL_MARK, 0, NULL);
        free(name);
    }
    return err ? err : add_conditionals(rs, false);
}

static int profile_strict(rule_set_t *rs)
{
    rs->def = ACT_KILL_MARK;
    int err = 0;
    for (const char *const *n = vmrt__sb_profile_strict_allowed(); !err && *n; n++) {
        int nr = resolve(*n);
        if (nr >= 0 && !conditional(*n))
            err = add(rs, nr, SCMP_ACT_ALLOW, 0, NULL);
    }
    return err ? err : add_conditionals(rs, true);
}

static int apply_list(rule_set_t *rs, const char *const *list, uint32_t action, const char *what)
{
    for (; list && *list; list++) {
        int nr = resolve(*list);
        if (nr < 0)
            return vmrt__sb_fail(-EINVAL, "%s: unknown syscall '%s'", what, *list);
        int err = override(rs, nr, action);
        if (err)
            return err;
    }
    return 0;
}

/* Expands a KILL default into NOTIFY rules for every known syscall. */
static int expand_kill_default(rule_set_t *rs)
{
    for (int nr = 0; nr < MAX_NR; nr++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (!name)
            continue;
        free(name);
        if (!has_rule(rs, nr) && add(rs, nr, ACT_KILL_MARK, 0, NULL) != 0)
            return -ENOMEM;
    }
    return 0;
}

/* file: the profile file the rules came from, NULL for a built-in one. */
static int emit(rule_set_t *rs, scmp_filter_ctx ctx, bool *has_notify, const char *file)
{
    uint32_t kill = rs->notify ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
    for (size_t i = 0; i < rs->n; i++) {
        const rule_t *r = &rs->v[i];
        uint32_t act = r->action == ACT_KILL_MARK ? kill : r->action;
        /* A rule with the default action changes nothing (libseccomp refuses it). */
        if (r->dead || act == rs->def)
            continue;
        *has_notify |= act == SCMP_ACT_NOTIFY;
        int err = seccomp_rule_add_exact_array(ctx, act, r->nr, r->n_args, r->args);
        if (err && err != -EEXIST) {
            char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, r->nr);
            if (file) /* the file is what is invalid, whatever errno libseccomp chose */
                err = vmrt__sb_fail(err == -ENOMEM ? err : -EINVAL,
                                    "seccomp profile %s: rule for %s refused by libseccomp (%s)",
                                    file, name ? name : "?", strerror(-err));
            else
                err = vmrt__sb_fail(err, "seccomp: rule for %s: %s", name ? name : "?",
                                    strerror(-err));
            free(name);
            return err;
        }
    }
    return 0;
}

static int export_bpf(scmp_filter_ctx ctx, sb_filter_t *out)
{
    int fd = memfd_create("vmrt-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    int err = seccomp_export_bpf(ctx, fd);
    off_t size = err ? 0 : lseek(fd, 0, SEEK_END);
    if (!err && (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
                 size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS))
        err = -E2BIG;
    if (!err && !(out->insns = malloc((size_t)size)))
        err = -ENOMEM;
    if (!err && pread(fd, out->insns, (size_t)size, 0) != size)
        err = -EIO;
    if (!err)
        out->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
    close(fd);
    return err;
}

static int build_rules(const vmrt_syscall_filter_t *f, vmrt_isolation_t level, rule_set_t *rs)
{
    if (f->errno_value < 0 || f->errno_value > SB_MAX_ERRNO)
        return vmrt__sb_fail(-EINVAL, "filter: errno_value %d not in 0..%d", f->errno_value,
                             SB_MAX_ERRNO);
    const char *profile = f->profile;
    if (!profile)
        profile = level == VMRT_ISOLATION_FULL ? "strict" : "default";
    int err;
    if (!strcmp(profile, "default"))
        err = profile_default(rs);
    else if (!strcmp(profile, "strict"))
        err = profile_strict(rs);
    else if (!strcmp(profile, "none")) {
        rs->def = SCMP_ACT_ALLOW;
        err = 0;
    } else
        err = vmrt__sb_oci_rules(profile, rs, &rs->def);
    if (!err && f->default_action != VMRT_SYSCALL_DEFAULT)
        rs->def = map_action(f->default_action, f->errno_value);
    if (!err)
        err = apply_list(rs, f->allowed, SCMP_ACT_ALLOW, "allowed syscalls (--allow-syscall)");
    if (!err)
        err = apply_list(rs, f->denied, map_action(f->deny_action, f->errno_value),
                         "denied syscalls (--deny-syscall)");
    if (!err && rs->def == ACT_KILL_MARK && rs->notify)
        err = expand_kill_default(rs);
    if (!err && rs->def == ACT_KILL_MARK)
        rs->def = SCMP_ACT_KILL_PROCESS;
    return err;
}

/* Builds the BPF program with libseccomp; `notify` says whether kill rules
 * may use user notification. */
int vmrt__sb_filter_compile(const vmrt_syscall_filter_t *f, vmrt_isolation_t level, bool notify,
                            sb_filter_t *out)
{
    memset(out, 0, sizeof *out);
    rule_set_t rs = {.notify = notify};
    int err = build_rules(f, level, &rs);
    if (!err && rs.def == SCMP_ACT_ALLOW && rs.n == 0) {
        free(rs.v);
        return 0;
    }
    scmp_filter_ctx ctx = err ? NULL : seccomp_init(rs.def);
    if (!err && !ctx)
        err = vmrt__sb_fail(-EINVAL, "seccomp: cannot initialise the filter");
    if (!err)
        err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (!err)
        err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0); /* the child sets it */
    if (!err)
        err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
    if (!err)
        err = emit(&rs, ctx, &out->has_notify,
                   f->profile && strcmp(f->profile, "default") && strcmp(f->profile, "strict") &&
                           strcmp(f->profile, "none")
                       ? f->profile
                       : NULL);
    if (!err)
        err = export_bpf(ctx, out);
    if (ctx)
        seccomp_release(ctx);
    free(rs.v);
    if (err)
        vmrt__sb_filter_free(out);
    return err;
}

/* A built-in profile with nothing added, on a host with user notification,
 * is the program generated at build time (gen_bpf.c): compiling it with
 * libseccomp costs milliseconds on every start-up. */
static bool from_blob(const vmrt_syscall_filter_t *f, vmrt_isolation_t level, sb_filter_t *out)
{
#if VMRT_SB_HAVE_BLOBS
    const char *profile = f->profile                     ? f->profile
                          : level == VMRT_ISOLATION_FULL ? "strict"
                                                         : "default";
    if ((f->allowed && *f->allowed) || (f->denied && *f->denied) ||
        f->default_action != VMRT_SYSCALL_DEFAULT || !vmrt__sb_host()->seccomp_notify)
        return false;
    for (size_t i = 0; i < sizeof sb_blobs / sizeof sb_blobs[0]; i++) {
        if (strcmp(profile, sb_blobs[i].profile) != 0)
            continue;
        size_t bytes = sb_blobs[i].len * sizeof(struct sock_filter);
        if (!(out->insns = malloc(bytes)))
            return false;
        memcpy(out->insns, sb_blobs[i].insns, bytes);
        out->len = sb_blobs[i].len;
        out->has_notify = sb_blobs[i].has_notify;
        return true;
    }
#else
    (void)f;
    (void)level;
    (void)out;
#endif
    return false;
}

/* The filter for f at level. out->len == 0 when no filter is needed
 * (profile "none" with nothing added). Errors: -EINVAL (bad name or file:
 * see vmrt_sandbox_error), -ENOMEM, libseccomp's -errno. */
int vmrt__sb_filter_build(const vmrt_syscall_filter_t *f, vmrt_isolation_t level, sb_filter_t *out)
{
    memset(out, 0, sizeof *out);
    if (from_blob(f, level, out))
        return 0;
    return vmrt__sb_filter_compile(f, level, vmrt__sb_host()->seccomp_notify, out);
}

void vmrt__sb_filter_free(sb_filter_t *f)
{
    free(f->insns);
    memset(f, 0, sizeof *f);
}

/* --- Docker/OCI profiles (jansson) ------------------------------------ */

int vmrt__sb_oci_add(void *rs, const char *name, uint32_t action, unsigned n,
                     const struct scmp_arg_cmp *args)
{
    int nr = resolve(name);
    if (nr < 0)
        return 0; /* profiles name syscalls of every architecture */
    return add(rs, nr, action, n, args);
}
