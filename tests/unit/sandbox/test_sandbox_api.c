/* Sandbox API: defaults, validation errors that name the field, names,
 * report formats, level NONE. No host feature needed. */
#include "sb_helpers.h"

#include <jansson.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "sandbox/sandbox_internal.h"

VT_DEFINE_GLOBALS;

static void test_defaults(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    ASSERT_EQ(c.size, sizeof c);
    ASSERT_TRUE(c.enable_seccomp && c.enable_namespaces && c.enable_cgroups);
    ASSERT_EQ(c.isolation_level, VMRT_ISOLATION_PROCESS);
    ASSERT_EQ(c.stdout_fd, -1);
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    ASSERT_EQ(l.size, sizeof l);
    ASSERT_EQ(l.max_memory, 0);
}

static void test_bad_config(void **state)
{
    (void)state;
    vmrt_sandbox_t *sb = NULL;
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.size = sizeof c + 8;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "config"));
    vmrt_sandbox_config_init(&c);
    c.isolation_level = (vmrt_isolation_t)9;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "isolation"));
    vmrt_sandbox_config_init(&c);
    c.isolation_level = VMRT_ISOLATION_FULL;
    c.net = VMRT_NET_HOST;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "net"));
    ASSERT_NULL(sb);
}

static void test_unknown_syscall_named(void **state)
{
    (void)state;
    if (!vmrt_sandbox_host()->seccomp)
        VT_SKIP("seccomp not available (e.g. under qemu-user)");
    const char *deny[] = {"no_such_syscall", NULL};
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.filter.denied = deny;
    vmrt_sandbox_t *sb;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "no_such_syscall"));
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "--deny-syscall"));
    const char *allow[] = {"notasyscall", NULL};
    c.filter.denied = NULL;
    c.filter.allowed = allow;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "--allow-syscall"));
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "notasyscall"));
}

static void test_bad_profile_file(void **state)
{
    (void)state;
    if (!vmrt_sandbox_host()->seccomp)
        VT_SKIP("seccomp not available (e.g. under qemu-user)");
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.filter.profile = "/nonexistent/profile.json";
    vmrt_sandbox_t *sb;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -ENOENT);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "/nonexistent/profile.json"));
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "cannot open: No such file or directory"));
    ASSERT_NULL(strstr(vmrt_sandbox_error(), ":-1")); /* no line number for an open error */
    c.filter.profile = "/etc";
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "not a regular file"));
    /* An errno the filter cannot return (found by fuzz_seccomp_profile: it
     * failed in libseccomp with a message that named no file). */
    char path[64];
    snprintf(path, sizeof path, "/tmp/vmrt-test-profile-%d.json", (int)getpid());
    static const char *const bad[] = {
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}",
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 4096}",
        "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"getppid\"], "
        "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 70000}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        fputs(bad[i], f);
        fclose(f);
        c.filter.profile = path;
        ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
        ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), path));
        ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "not in 0..4095"));
    }
    unlink(path);
    vmrt_sandbox_config_init(&c);
    c.filter.default_action = VMRT_SYSCALL_ERRNO;
    c.filter.errno_value = -5;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "errno_value -5 not in 0..4095"));
}

static void test_host_detection(void **state)
{
    (void)state;
    const vmrt_sandbox_host_t *h = vmrt_sandbox_host();
    ASSERT_TRUE(h == vmrt_sandbox_host()); /* cached */
    ASSERT_IN_RANGE(h->cgroup_version, 0, 2);
    ASSERT_EQ(h->root, geteuid() == 0);
    if (h->seccomp) /* kill_process is how seccomp was detected */
        ASSERT_TRUE(h->seccomp_actions & (1u << VMRT_SYSCALL_KILL));
    else
        ASSERT_EQ(h->seccomp_actions, 0);
    if (h->cgroup_version == 2)
        ASSERT_TRUE(h->cgroup_root[0] == '/');
}

static void test_names(void **state)
{
    (void)state;
    vmrt_isolation_t l;
    ASSERT_OK(vmrt_isolation_parse("container", &l));
    ASSERT_EQ(l, VMRT_ISOLATION_CONTAINER);
    ASSERT_EQ(vmrt_isolation_parse("jail", &l), -EINVAL);
    ASSERT_STR_EQ(vmrt_isolation_name(VMRT_ISOLATION_FULL), "full");
    ASSERT_STR_EQ(vmrt_end_reason_name(VMRT_END_SECCOMP_VIOLATION), "seccomp_violation");
    ASSERT_STR_EQ(vmrt_end_reason_name(VMRT_END_OUT_OF_MEMORY), "out_of_memory");
    ASSERT_STR_EQ(vmrt_end_reason_name(VMRT_END_SETUP_FAILED), "setup_failed");
}

static void test_report_formats(void **state)
{
    (void)state;
    vmrt_sandbox_report_t r;
    memset(&r, 0, sizeof r);
    r.reason = VMRT_END_SECCOMP_VIOLATION;
    r.signal = 9;
    r.syscall_nr = 321;
    snprintf(r.syscall_name, sizeof r.syscall_name, "bpf");
    r.level = VMRT_ISOLATION_CONTAINER;
    r.peak_memory = 12345;
    r.peak_memory_known = true; /* processes: not measured */
    r.n_notes = 1;
    snprintf(r.notes[0], sizeof r.notes[0], "a downgrade");
    char *s = vmrt_sandbox_report_json(&r);
    ASSERT_NOT_NULL(s);
    json_error_t e;
    json_t *o = json_loads(s, 0, &e);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "reason")), "seccomp_violation");
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "syscall")), "bpf");
    ASSERT_EQ(json_integer_value(json_object_get(o, "syscall_nr")), 321);
    ASSERT_EQ(json_integer_value(json_object_get(o, "peak_memory_bytes")), 12345);
    ASSERT_TRUE(json_is_null(json_object_get(o, "processes")));
    ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(o, "notes"), 0)), "a downgrade");
    json_decref(o);
    free(s);
    char buf[2048] = "";
    FILE *f = fmemopen(buf, sizeof buf, "w");
    ASSERT_OK(vmrt_sandbox_report_print(&r, f));
    fclose(f);
    ASSERT_NOT_NULL(strstr(buf, "reason: seccomp_violation\n"));
    ASSERT_NOT_NULL(strstr(buf, "syscall: bpf (321)\n"));
    ASSERT_NOT_NULL(strstr(buf, "note: a downgrade\n"));
    ASSERT_NOT_NULL(strstr(buf, "peak_memory: 12345 bytes\n"));
    ASSERT_NOT_NULL(strstr(buf, "processes: unknown ("));
}

static int ret_arg(void *arg)
{
    return (int)(intptr_t)arg;
}

static void test_none_spawn_inline(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.isolation_level = VMRT_ISOLATION_NONE;
    vmrt_sandbox_t *sb;
    ASSERT_OK(vmrt_sandbox_new(&sb, &c, NULL));
    vmrt_sandbox_report_t r;
    ASSERT_EQ(vmrt_sandbox_wait(sb, &r), VMRT_ESTATE); /* nothing started */
    ASSERT_OK(vmrt_sandbox_spawn(sb, ret_arg, (void *)(intptr_t)7));
    ASSERT_EQ(vmrt_sandbox_pid(sb), -1); /* ran in this thread */
    ASSERT_OK(vmrt_sandbox_wait(sb, &r));
    ASSERT_EQ(r.reason, VMRT_END_EXITED);
    ASSERT_EQ(r.exit_code, 7);
    vmrt_sandbox_free(sb);
}

static void test_none_limits_downgrade_or_strict(void **state)
{
    (void)state;
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.isolation_level = VMRT_ISOLATION_NONE;
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_memory = 1 << 20;
    vmrt_sandbox_t *sb;
    ASSERT_OK(vmrt_sandbox_new(&sb, &c, &l));
    vmrt_sandbox_report_t r;
    ASSERT_OK(vmrt_sandbox_spawn(sb, ret_arg, NULL));
    ASSERT_OK(vmrt_sandbox_wait(sb, &r));
    ASSERT_EQ(r.n_notes, 1); /* the downgrade is reported */
    ASSERT_NOT_NULL(strstr(r.notes[0], "none"));
    vmrt_sandbox_free(sb);
    c.strict = true;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, &l), VMRT_EUNSUPPORTED);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "strict"));
}

/* vmrt_sandbox_new failures have a report: setup_failed, the stage, errno,
 * the level and the message as the last note. */
static void test_failure_report(void **state)
{
    (void)state;
    vmrt_sandbox_report_t r;
    vmrt_sandbox_t *sb = NULL;
    vmrt_sandbox_config_t c;
    vmrt_sandbox_config_init(&c);
    c.enable_seccomp = false;
    ASSERT_OK(vmrt_sandbox_new(&sb, &c, NULL));
    ASSERT_EQ(vmrt_sandbox_failure_report(&r), VMRT_ESTATE); /* nothing failed */
    vmrt_sandbox_free(sb);

    const char *ro[] = {"/nonexistent-vmrt", NULL};
    c.isolation_level = VMRT_ISOLATION_CONTAINER;
    c.ro_paths = ro;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -ENOENT);
    ASSERT_OK(vmrt_sandbox_failure_report(&r));
    ASSERT_EQ(r.reason, VMRT_END_SETUP_FAILED);
    ASSERT_STR_EQ(r.setup_step, "config");
    ASSERT_EQ(r.setup_errno, ENOENT);
    ASSERT_EQ(r.level, VMRT_ISOLATION_CONTAINER);
    ASSERT_TRUE(r.n_notes >= 1);
    ASSERT_NOT_NULL(strstr(r.notes[r.n_notes - 1], "/nonexistent-vmrt"));

    vmrt_sandbox_config_init(&c);
    c.isolation_level = VMRT_ISOLATION_NONE;
    c.strict = true;
    vmrt_limits_t l;
    vmrt_limits_init(&l);
    l.max_memory = 10 << 20;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, &l), VMRT_EUNSUPPORTED);
    ASSERT_OK(vmrt_sandbox_failure_report(&r));
    ASSERT_STR_EQ(r.setup_step, "limits");
    ASSERT_EQ(r.setup_errno, EOPNOTSUPP);

    vmrt_sandbox_config_init(&c);
    vmrt_limits_init(&l);
    l.vcpus = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN) + 1;
    l.cpu_quota = l.vcpus;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, &l), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "vcpus"));
    ASSERT_OK(vmrt_sandbox_failure_report(&r));
    ASSERT_STR_EQ(r.setup_step, "config");
    vmrt_limits_init(&l);
    l.cpu_quota = 0.001;
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, &l), -EINVAL);
    ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "cpu_quota"));

    if (!vmrt_sandbox_host()->seccomp) /* qemu-user: no filter is built at all */
        return;
    vmrt_sandbox_config_init(&c);
    c.filter.profile = "/etc/passwd";
    ASSERT_EQ(vmrt_sandbox_new(&sb, &c, NULL), -EINVAL);
    ASSERT_OK(vmrt_sandbox_failure_report(&r));
    ASSERT_STR_EQ(r.setup_step, "seccomp");
    ASSERT_EQ(r.setup_errno, EINVAL);
}

/* The rtnetlink request for --max-net-bw with --net loopback, parsed back:
 * RTM_NEWQDISC for ifindex 1 (lo of a fresh namespace), root, kind "tbf",
 * nested options with the rate (RATE64 beside it from 2^32 bytes/s up) and
 * the burst; a buffer too small is -ENOBUFS, not an overrun. */
static void test_shaper_msg(void **state)
{
    (void)state;
    static const uint64_t rates[] = {1000, 2u << 20, UINT32_MAX - 1ull, 10ull << 30};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        _Alignas(8) char buf[256];
        int len = vmrt__sb_net_shaper_msg(rates[i], buf, sizeof buf);
        ASSERT_TRUE(len > 0 && len <= (int)sizeof buf);
        struct nlmsghdr *h = (struct nlmsghdr *)buf;
        ASSERT_EQ(h->nlmsg_len, (unsigned)len);
        ASSERT_EQ(h->nlmsg_type, RTM_NEWQDISC);
        ASSERT_EQ(h->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
        struct tcmsg *tc = NLMSG_DATA(h);
        ASSERT_EQ(tc->tcm_ifindex, 1);
        ASSERT_EQ(tc->tcm_parent, TC_H_ROOT);
        int rest = len - (int)NLMSG_LENGTH(sizeof *tc);
        bool kind = false, parms = false, burst = false, rate64 = false;
        for (struct rtattr *a = (struct rtattr *)((char *)tc + NLMSG_ALIGN(sizeof *tc));
             RTA_OK(a, rest); a = RTA_NEXT(a, rest)) {
            if (a->rta_type == TCA_KIND) {
                kind = !strcmp(RTA_DATA(a), "tbf");
                continue;
            }
            ASSERT_EQ(a->rta_type, TCA_OPTIONS | NLA_F_NESTED);
            int n = (int)RTA_PAYLOAD(a);
            for (struct rtattr *o = RTA_DATA(a); RTA_OK(o, n); o = RTA_NEXT(o, n)) {
                if (o->rta_type == TCA_TBF_PARMS) {
                    struct tc_tbf_qopt q;
                    memcpy(&q, RTA_DATA(o), sizeof q);
                    ASSERT_EQ(q.rate.rate, rates[i] >= UINT32_MAX ? UINT32_MAX : rates[i]);
                    parms = true;
                } else if (o->rta_type == TCA_TBF_BURST) {
                    uint32_t b;
                    memcpy(&b, RTA_DATA(o), sizeof b);
                    ASSERT_EQ(b, rates[i] / 10 > (256u << 10) ? rates[i] / 10 : 256u << 10);
                    burst = true;
                } else if (o->rta_type == TCA_TBF_RATE64) {
                    uint64_t r;
                    memcpy(&r, RTA_DATA(o), sizeof r);
                    ASSERT_EQ(r, rates[i]);
                    rate64 = true;
                }
            }
            ASSERT_EQ(n, 0);
        }
        ASSERT_EQ(rest, 0);
        ASSERT_TRUE(kind && parms && burst);
        ASSERT_EQ(rate64, rates[i] >= UINT32_MAX);
    }
    char small[40];
    ASSERT_EQ(vmrt__sb_net_shaper_msg(1000, small, sizeof small), -ENOBUFS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_unknown_syscall_named),
        cmocka_unit_test(test_bad_profile_file),
        cmocka_unit_test(test_host_detection),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_report_formats),
        cmocka_unit_test(test_none_spawn_inline),
        cmocka_unit_test(test_none_limits_downgrade_or_strict),
        cmocka_unit_test(test_failure_report),
        cmocka_unit_test(test_shaper_msg),
    };
    VT_RUN("sandbox_api", tests);
}
