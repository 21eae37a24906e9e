/* Docker/OCI seccomp profile files (JSON, via jansson).
 *
 * Read: defaultAction, defaultErrnoRet, and syscalls[] entries with
 * names (or name), action, errnoRet, args (index, value, valueTwo, op) and
 * includes/excludes. An entry whose includes name capabilities is skipped
 * (the sandbox grants none beyond what it has; skipping an allow rule is the
 * stricter choice); includes.arches must name the native architecture.
 * "architectures"/"archMap" are ignored: only the native ABI is ever allowed.
 * Kill actions (and SCMP_ACT_NOTIFY) become the sandbox's kill-and-report.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <seccomp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox_internal.h"

static int parse_action(const char *s, json_int_t errno_ret, uint32_t *out)
{
    if (!s)
        return -EINVAL;
    if (errno_ret < 0 || errno_ret > SB_MAX_ERRNO)
        return -ERANGE;
    if (!strcmp(s, "SCMP_ACT_ALLOW"))
        *out = SCMP_ACT_ALLOW;
    else if (!strcmp(s, "SCMP_ACT_ERRNO"))
        *out = SCMP_ACT_ERRNO((uint32_t)(errno_ret ? errno_ret : EPERM));
    else if (!strcmp(s, "SCMP_ACT_KILL") || !strcmp(s, "SCMP_ACT_KILL_PROCESS") ||
             !strcmp(s, "SCMP_ACT_KILL_THREAD") || !strcmp(s, "SCMP_ACT_NOTIFY"))
        *out = SB_ACT_KILL;
    else if (!strcmp(s, "SCMP_ACT_TRAP"))
        *out = SCMP_ACT_TRAP;
    else if (!strcmp(s, "SCMP_ACT_LOG"))
        *out = SCMP_ACT_LOG;
    else if (!strcmp(s, "SCMP_ACT_TRACE"))
        *out = SCMP_ACT_ERRNO(ENOSYS); /* no tracer: as if absent */
    else
        return -EINVAL;
    return 0;
}

static int parse_op(const char *s, enum scmp_compare *out)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
               {"SCMP_CMP_LT", SCMP_CMP_LT},
               {"SCMP_CMP_LE", SCMP_CMP_LE},
               {"SCMP_CMP_EQ", SCMP_CMP_EQ},
               {"SCMP_CMP_GE", SCMP_CMP_GE},
               {"SCMP_CMP_GT", SCMP_CMP_GT},
               {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
    for (size_t i = 0; s && i < sizeof ops / sizeof ops[0]; i++)
        if (!strcmp(s, ops[i].name)) {
            *out = ops[i].op;
            return 0;
        }
    return -EINVAL;
}

static bool native_arch_named(json_t *arches)
{
#if defined(__x86_64__)
    static const char *const mine[] = {"amd64", "x86_64", "SCMP_ARCH_X86_64"};
#else
    static const char *const mine[] = {"arm64", "aarch64", "SCMP_ARCH_AARCH64"};
#endif
    size_t i;
    json_t *a;
    json_array_foreach(arches, i, a)
    {
        for (size_t k = 0; k < 3; k++)
            if (json_is_string(a) && !strcmp(json_string_value(a), mine[k]))
                return true;
    }
    return false;
}

static bool entry_applies(json_t *e)
{
    json_t *inc = json_object_get(e, "includes"), *exc = json_object_get(e, "excludes");
    json_t *caps = json_object_get(inc, "caps"), *arches = json_object_get(inc, "arches");
    if (json_array_size(caps) > 0)
        return false;
    if (json_array_size(arches) > 0 && !native_arch_named(arches))
        return false;
    json_t *xarches = json_object_get(exc, "arches");
    return !(json_array_size(xarches) > 0 && native_arch_named(xarches));
}

static int parse_args(json_t *args, struct scmp_arg_cmp *out, unsigned *n)
{
    size_t i;
    json_t *a;
    *n = 0;
    if (json_array_size(args) > 6)
        return -EINVAL;
    json_array_foreach(args, i, a)
    {
        enum scmp_compare op;
        json_t *idx = json_object_get(a, "index");
        if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5 ||
            parse_op(json_string_value(json_object_get(a, "op")), &op) != 0)
            return -EINVAL;
        struct scmp_arg_cmp c = {
            .arg = (unsigned)json_integer_value(idx),
            .op = op,
            .datum_a = (uint64_t)json_integer_value(json_object_get(a, "value")),
            .datum_b = (uint64_t)json_integer_value(json_object_get(a, "valueTwo"))};
        /* MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order). */
        out[(*n)++] = c;
    }
    return 0;
}

static int add_entry(void *rules, json_t *e, const char *path, size_t idx)
{
    if (!entry_applies(e))
        return 0;
    uint32_t action;
    json_int_t eret = json_integer_value(json_object_get(e, "errnoRet"));
    int perr = parse_action(json_string_value(json_object_get(e, "action")), eret, &action);
    if (perr == -ERANGE)
        return vmrt__sb_fail(-EINVAL, "%s: syscalls[%zu]: errnoRet %lld not in 0..%d", path, idx,
                             (long long)eret, SB_MAX_ERRNO);
    if (perr != 0)
        return vmrt__sb_fail(-EINVAL, "%s: syscalls[%zu]: bad action", path, idx);
    struct scmp_arg_cmp args[6];
    unsigned n;
    if (parse_args(json_object_get(e, "args"), args, &n) != 0)
        return vmrt__sb_fail(-EINVAL, "%s: syscalls[%zu]: bad args", path, idx);
    json_t *names = json_object_get(e, "names");
    json_t *one = json_object_get(e, "name");
    size_t i;
    json_t *nm;
    int err = 0;
    if (json_is_string(one))
        err = vmrt__sb_oci_add(rules, json_string_value(one), action, n, args);
    json_array_foreach(names, i, nm)
    {
        if (!err && json_is_string(nm))
            err = vmrt__sb_oci_add(rules, json_string_value(nm), action, n, args);
    }
    return err;
}

/* Loads the profile at path into rules (seccomp.c's rule set) and its
 * default action into *def. Errors: -EINVAL with detail, -ENOMEM. */
int vmrt__sb_oci_rules(const char *path, void *rules, uint32_t *def)
{
    json_error_t jerr;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vmrt__sb_fail(-errno, "seccomp profile %s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vmrt__sb_fail(-EINVAL, "seccomp profile %s: not a regular file", path);
    }
    json_t *root = json_loadfd(fd, 0, &jerr);
    close(fd);
    if (!root && jerr.line < 1)
        return vmrt__sb_fail(-EINVAL, "seccomp profile %s: %s", path, jerr.text);
    if (!root)
        return vmrt__sb_fail(-EINVAL, "seccomp profile %s:%d: %s", path, jerr.line, jerr.text);
    int err = 0;
    json_int_t def_errno = json_integer_value(json_object_get(root, "defaultErrnoRet"));
    int perr = json_is_object(root)
                   ? parse_action(json_string_value(json_object_get(root, "defaultAction")),
                                  def_errno, def)
                   : -EINVAL;
    if (perr == -ERANGE)
        err = vmrt__sb_fail(-EINVAL, "seccomp profile %s: defaultErrnoRet %lld not in 0..%d", path,
                            (long long)def_errno, SB_MAX_ERRNO);
    else if (perr)
        err = vmrt__sb_fail(-EINVAL, "seccomp profile %s: missing or bad defaultAction", path);
    json_t *list = json_object_get(root, "syscalls");
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e)
    {
        if (!err)
            err = add_entry(rules, e, path, i);
    }
    json_decref(root);
    return err;
}
