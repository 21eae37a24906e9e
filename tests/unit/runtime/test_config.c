/* Runtime configuration: keys, value parsing, error messages, JSON files,
 * environment, and the precedence file < environment < explicit settings. */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

static char err[512];

static void test_defaults_and_set(void **state)
{
    (void)state;
    vmrt_runtime_config_t c;
    vmrt_runtime_config_init(&c);
    ASSERT_EQ(c.size, sizeof c);
    ASSERT_EQ(c.sandbox.isolation_level, VMRT_ISOLATION_NONE);
    ASSERT_EQ(c.gc.trigger, VMRT_GC_TRIGGER_ADAPTIVE);
    ASSERT_TRUE(c.sched.vcpus >= 1);
    ASSERT_OK(vmrt_runtime_config_set(&c, "sched.vcpus", "3", "--vcpus", err, sizeof err));
    ASSERT_EQ(c.sched.vcpus, 3);
    ASSERT_OK(vmrt_runtime_config_set(&c, "gc.heap_max", "64M", NULL, err, sizeof err));
    ASSERT_EQ(c.gc.max_heap, 64u << 20);
    ASSERT_OK(vmrt_runtime_config_set(&c, "sched.time_slice", "2ms", NULL, err, sizeof err));
    ASSERT_EQ(c.sched.time_slice_ns, 2000000);
    ASSERT_OK(vmrt_runtime_config_set(&c, "gc.trigger", "time", NULL, err, sizeof err));
    ASSERT_EQ(c.gc.trigger, VMRT_GC_TRIGGER_TIME_BASED);
    ASSERT_OK(vmrt_runtime_config_set(&c, "gc.incremental", "yes", NULL, err, sizeof err));
    ASSERT_TRUE(c.gc.incremental);
    ASSERT_OK(vmrt_runtime_config_set(&c, "sandbox.isolation", "container", NULL, err, sizeof err));
    ASSERT_EQ(c.sandbox.isolation_level, VMRT_ISOLATION_CONTAINER);
    ASSERT_OK(vmrt_runtime_config_set(&c, "gc.pressure_ratio", "0.75", NULL, err, sizeof err));
    ASSERT_TRUE(c.gc.pressure_ratio > 0.74 && c.gc.pressure_ratio < 0.76);
    ASSERT_OK(
        vmrt_runtime_config_set(&c, "metrics_listen", "127.0.0.1:9100", NULL, err, sizeof err));
    ASSERT_STR_EQ(c.metrics_listen, "127.0.0.1:9100");
    const char *help = NULL;
    ASSERT_STR_EQ(vmrt_runtime_config_key(0, &help), "sched.vcpus");
    ASSERT_NOT_NULL(help);
}

static void test_bad_values_name_key(void **state)
{
    (void)state;
    vmrt_runtime_config_t c;
    vmrt_runtime_config_init(&c);
    ASSERT_EQ(vmrt_runtime_config_set(&c, "sched.vcpus", "0", "--vcpus", err, sizeof err), -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "--vcpus: sched.vcpus: 0 is out of range"));
    ASSERT_EQ(vmrt_runtime_config_set(&c, "sched.vcpus", "two", "--vcpus", err, sizeof err),
              -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "'two' is not a whole number"));
    ASSERT_EQ(vmrt_runtime_config_set(&c, "gc.heap_max", "12Q", "--heap-max", err, sizeof err),
              -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "--heap-max: gc.heap_max: '12Q' is not a size"));
    ASSERT_EQ(vmrt_runtime_config_set(&c, "gc.trigger", "sometimes", "x", err, sizeof err),
              -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "is not one of fixed, adaptive, pressure, time"));
    ASSERT_EQ(vmrt_runtime_config_set(&c, "sched.time_slice", "-5ms", "x", err, sizeof err),
              -EINVAL);
    ASSERT_EQ(vmrt_runtime_config_set(&c, "no.such", "1", "x", err, sizeof err), -ENOENT);
    ASSERT_NOT_NULL(strstr(err, "unknown key 'no.such'"));
    ASSERT_EQ(vmrt_runtime_config_set(&c, "trace", "maybe", "x", err, sizeof err), -EINVAL);
    char big[200];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ASSERT_EQ(vmrt_runtime_config_set(&c, "metrics_listen", big, "x", err, sizeof err), -EINVAL);
    /* the metrics address is checked when set, naming the source and the value */
    ASSERT_EQ(vmrt_runtime_config_set(&c, "metrics_listen", "garbage", "--metrics-listen", err,
                                      sizeof err),
              -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "--metrics-listen: metrics_listen: 'garbage' is not HOST:PORT"));
    ASSERT_EQ(
        vmrt_runtime_config_set(&c, "metrics_listen", "127.0.0.1:70000", "x", err, sizeof err),
        -EINVAL);
    ASSERT_EQ(vmrt_runtime_config_set(&c, "metrics_listen", "8.8.8.8:80", "--metrics-listen", err,
                                      sizeof err),
              -EINVAL);
    ASSERT_NOT_NULL(
        strstr(err, "--metrics-listen: metrics_listen: '8.8.8.8:80' is not a loopback address"));
    ASSERT_EQ(c.metrics_listen[0], '\0');
    ASSERT_OK(vmrt_runtime_config_set(&c, "metrics_listen", "[::1]:0", "x", err, sizeof err));
    ASSERT_OK(
        vmrt_runtime_config_set(&c, "metrics_listen", "localhost:9100", "x", err, sizeof err));
    ASSERT_OK(vmrt_runtime_config_set(&c, "metrics_listen", "", "x", err, sizeof err));
    ASSERT_EQ(c.metrics_listen[0], '\0');
    /* nothing was changed by the failures */
    vmrt_runtime_config_t d;
    vmrt_runtime_config_init(&d);
    ASSERT_EQ(c.sched.vcpus, d.sched.vcpus);
    ASSERT_EQ(c.gc.max_heap, d.gc.max_heap);
}

static char *write_tmp(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/vmrt-config-XXXXXX");
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_json_file(void **state)
{
    (void)state;
    vmrt_runtime_config_t c;
    vmrt_runtime_config_init(&c);
    char *p = write_tmp("{\"sched\": {\"vcpus\": 2, \"time_slice\": \"5ms\"},\n"
                        " \"gc\": {\"trigger\": \"fixed\", \"threshold\": 1048576,"
                        " \"incremental\": true}, \"trace\": false}\n");
    ASSERT_OK(vmrt_runtime_config_load_file(&c, p, err, sizeof err));
    ASSERT_EQ(c.sched.vcpus, 2);
    ASSERT_EQ(c.sched.time_slice_ns, 5000000);
    ASSERT_EQ(c.gc.trigger, VMRT_GC_TRIGGER_FIXED_THRESHOLD);
    ASSERT_EQ(c.gc.threshold_bytes, 1048576);
    ASSERT_TRUE(c.gc.incremental);
    unlink(p);

    p = write_tmp("{\"sched\": {\"vcpus\": 2,,}}\n");
    ASSERT_EQ(vmrt_runtime_config_load_file(&c, p, err, sizeof err), -EINVAL);
    char want[128];
    snprintf(want, sizeof want, "%s:1:", p);
    if (!strstr(err, want))
        fail_msg("no file:line:col in '%s'", err);
    unlink(p);

    /* all or nothing: a file with one bad key changes no setting */
    vmrt_runtime_config_t before = c;
    p = write_tmp("{\"sched\": {\"vcpus\": 5}, \"gc\": {\"trigger\": \"never\"}}");
    ASSERT_EQ(vmrt_runtime_config_load_file(&c, p, err, sizeof err), -EINVAL);
    ASSERT_EQ(memcmp(&before, &c, sizeof c), 0);
    unlink(p);

    p = write_tmp("{\"gc\": {\"trigerr\": \"fixed\"}}");
    ASSERT_EQ(vmrt_runtime_config_load_file(&c, p, err, sizeof err), -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "unknown key 'gc.trigerr'"));
    unlink(p);

    p = write_tmp("{\"sched\": {\"vcpus\": -1}}");
    ASSERT_EQ(vmrt_runtime_config_load_file(&c, p, err, sizeof err), -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "sched.vcpus"));
    unlink(p);

    p = write_tmp("[1, 2]");
    ASSERT_EQ(vmrt_runtime_config_load_file(&c, p, err, sizeof err), -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "must be a JSON object"));
    unlink(p);

    ASSERT_EQ(vmrt_runtime_config_load_file(&c, "/nonexistent/vmrt.json", err, sizeof err),
              -ENOENT);
    ASSERT_NOT_NULL(strstr(err, "/nonexistent/vmrt.json"));
}

static void test_precedence(void **state)
{
    (void)state;
    vmrt_runtime_config_t c;
    vmrt_runtime_config_init(&c);
    char *p = write_tmp("{\"sched\": {\"vcpus\": 2}, \"gc\": {\"target\": 50}}");
    ASSERT_OK(vmrt_runtime_config_load_file(&c, p, err, sizeof err));
    unlink(p);
    char *env[] = {"VMRT_SCHED_VCPUS=3", "VMRT_GC_HEAP_MAX=1G", "VMRT_GCTRACE=1", "PATH=/bin",
                   NULL};
    ASSERT_OK(vmrt_runtime_config_load_env(&c, env, err, sizeof err));
    ASSERT_EQ(c.sched.vcpus, 3); /* env over file */
    ASSERT_EQ(c.gc.gogc, 50);    /* file kept where env is silent */
    ASSERT_EQ(c.gc.max_heap, 1u << 30);
    ASSERT_OK(vmrt_runtime_config_set(&c, "sched.vcpus", "4", "--vcpus", err, sizeof err));
    ASSERT_EQ(c.sched.vcpus, 4); /* flags over env */
    char *bad[] = {"VMRT_GC_TRIGGER=never", NULL};
    ASSERT_EQ(vmrt_runtime_config_load_env(&c, bad, err, sizeof err), -EINVAL);
    ASSERT_NOT_NULL(strstr(err, "VMRT_GC_TRIGGER: gc.trigger: 'never'"));
}

static void test_units(void **state)
{
    (void)state;
    uint64_t v;
    ASSERT_OK(vmrt_parse_size("4096", &v));
    ASSERT_EQ(v, 4096);
    ASSERT_OK(vmrt_parse_size("64K", &v));
    ASSERT_EQ(v, 65536);
    ASSERT_OK(vmrt_parse_size("1.5GiB", &v));
    ASSERT_EQ(v, 3ull << 29);
    ASSERT_OK(vmrt_parse_size("2mb", &v));
    ASSERT_EQ(v, 2u << 20);
    ASSERT_EQ(vmrt_parse_size("-1", &v), -EINVAL);
    ASSERT_EQ(vmrt_parse_size("12Q", &v), -EINVAL);
    ASSERT_EQ(vmrt_parse_size("", &v), -EINVAL);
    ASSERT_EQ(vmrt_parse_size("99999999T", &v), -ERANGE);
    ASSERT_OK(vmrt_parse_duration("10ms", &v));
    ASSERT_EQ(v, 10000000);
    ASSERT_OK(vmrt_parse_duration("1.5", &v));
    ASSERT_EQ(v, 1500000000);
    ASSERT_OK(vmrt_parse_duration("250us", &v));
    ASSERT_EQ(v, 250000);
    ASSERT_OK(vmrt_parse_duration("2m", &v));
    ASSERT_EQ(v, 120000000000ull);
    ASSERT_EQ(vmrt_parse_duration("5 s", &v), -EINVAL);
    ASSERT_EQ(vmrt_parse_duration("soon", &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_set),
        cmocka_unit_test(test_bad_values_name_key),
        cmocka_unit_test(test_json_file),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_units),
    };
    VT_RUN("config", tests);
}
