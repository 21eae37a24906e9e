/* Isolation level FULL: strict profile, Landlock, no capabilities, no
 * network, read-only root, hidepid. */
#include "sb_helpers.h"

#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>

VT_DEFINE_GLOBALS;

static int check_full(void *arg)
{
    (void)arg;
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0 || d[0].effective || d[0].permitted || d[1].effective)
        return 10; /* capabilities dropped */
    if (mkdir("/newdir", 0700) == 0 || errno != EROFS)
        return 11; /* read-only root */
    int fd = open("/tmp/ok", O_CREAT | O_WRONLY, 0600);
    if (fd < 0)
        return 12; /* writable /tmp */
    close(fd);
    /* Landlock: /proc/self/comm is writable by DAC but outside the rules. */
    if (open("/proc/self/comm", O_WRONLY) >= 0 || errno != EACCES)
        return 13;
    char buf[4096];
    fd = open("/proc/self/mountinfo", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (n <= 0)
        return 14;
    buf[n] = '\0';
    if (!strstr(buf, "hidepid=invisible") && !strstr(buf, "hidepid=2"))
        return 15;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(22), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) == 0)
        return 16; /* no network */
    return 0;
}

static void test_full_properties(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_FULL, true);
    if (!vmrt_sandbox_host()->landlock_abi)
        VT_SKIP("Landlock not enabled on this kernel");
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_FULL);
    c.strict = true;
    sbt_run_t run;
    sbt_run(&c, NULL, NULL, check_full, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
}

static int call_mknod(void *arg)
{
    (void)arg;
    syscall(SYS_mknodat, AT_FDCWD, "/tmp/node", 0600, 0);
    return 0;
}

static void test_full_uses_strict_profile(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_FULL, true);
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_FULL);
    sbt_run_t run;
    sbt_run(&c, NULL, NULL, call_mknod, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_SECCOMP_VIOLATION);
    ASSERT_STR_EQ(run.r.syscall_name, "mknodat");
}

static void test_full_exec_shell(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_FULL, true);
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_FULL);
    char *argv[] = {"/bin/sh", "-c", "echo a > /tmp/f && cat /tmp/f && ls /proc | grep -c '^[0-9]'",
                    NULL};
    sbt_run_t run;
    sbt_run(&c, NULL, argv, NULL, NULL, &run);
    SBT_ASSERT_REASON(&run, VMRT_END_EXITED);
    ASSERT_EQ(run.r.exit_code, 0);
    ASSERT_TRUE(!strncmp(run.out, "a\n", 2));
}

static bool has_note(const vmrt_sandbox_report_t *r, const char *text)
{
    for (unsigned i = 0; i < r->n_notes; i++)
        if (strstr(r->notes[i], text))
            return true;
    return false;
}

/* Full means the strict profile: a weaker filter is a reported downgrade
 * (a note; an error under strict), never silent. */
static void test_full_weaker_filter_reported(void **state)
{
    (void)state;
    SBT_REQUIRE(VMRT_ISOLATION_FULL, true);
    const char *allow[] = {"mknodat", NULL};
    for (int k = 0; k < 4; k++) {
        for (int strict = 0; strict < 2; strict++) {
            vmrt_sandbox_config_t c;
            sbt_config(&c, VMRT_ISOLATION_FULL);
            c.strict = strict;
            if (k == 0)
                c.enable_seccomp = false;
            else if (k == 1)
                c.filter.profile = "default";
            else if (k == 2)
                c.filter.allowed = allow;
            else
                c.filter.default_action = VMRT_SYSCALL_ALLOW;
            vmrt_sandbox_t *sb = NULL;
            int err = vmrt_sandbox_new(&sb, &c, NULL);
            if (strict) {
                ASSERT_EQ(err, VMRT_EUNSUPPORTED);
                ASSERT_NOT_NULL(strstr(vmrt_sandbox_error(), "isolation full"));
                continue;
            }
            ASSERT_OK(err);
            char *argv[] = {"/bin/true", NULL};
            ASSERT_OK(vmrt_sandbox_exec(sb, argv, NULL));
            vmrt_sandbox_report_t r;
            ASSERT_OK(vmrt_sandbox_wait(sb, &r));
            vmrt_sandbox_free(sb);
            ASSERT_EQ(r.reason, VMRT_END_EXITED);
            ASSERT_TRUE(has_note(&r, "isolation full"));
        }
    }
    /* The strict profile itself, with more denied, is no downgrade. */
    const char *deny[] = {"getppid", NULL};
    vmrt_sandbox_config_t c;
    sbt_config(&c, VMRT_ISOLATION_FULL);
    c.strict = true;
    c.filter.profile = "strict";
    c.filter.denied = deny;
    vmrt_sandbox_t *sb = NULL;
    ASSERT_OK(vmrt_sandbox_new(&sb, &c, NULL));
    vmrt_sandbox_free(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_properties),
        cmocka_unit_test(test_full_uses_strict_profile),
        cmocka_unit_test(test_full_exec_shell),
        cmocka_unit_test(test_full_weaker_filter_reported),
    };
    VT_RUN("sandbox_full", tests);
}
