/* Statistics export: Prometheus text from a JSON snapshot; the loopback
 * metrics endpoint (address checks, /metrics, /stats, 404). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runtime/export.h"

VT_DEFINE_GLOBALS;

static json_t *sample(void *arg)
{
    (void)arg;
    return json_pack("{s:{s:i,s:f,s:b,s:s,s:[{s:i,s:i},{s:i,s:i}]},s:{s:i}}", "sched",
                     "context_switches_total", 42, "cpu_utilization", 0.5, "preemptive", 1, "name",
                     "ignored", "vcpus", "id", 0, "switches", 10, "id", 1, "switches", 32, "gc",
                     "heap_usage", 4096);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static char *prometheus_of(json_t *j)
{
    char *buf = calloc(1, 1 << 16);
    ASSERT_NOT_NULL(buf);
    FILE *f = fmemopen(buf, (1 << 16) - 1, "w");
    ASSERT_NOT_NULL(f);
    ASSERT_OK(vmrt__export_prometheus(j, f));
    fclose(f);
    return buf;
}

static void test_prometheus_text(void **state)
{
    (void)state;
    json_t *j = sample(NULL);
    char *text = prometheus_of(j);
    ASSERT_NOT_NULL(strstr(text, "# TYPE vmrt_sched_context_switches_total counter\n"));
    ASSERT_NOT_NULL(strstr(text, "vmrt_sched_context_switches_total 42\n"));
    ASSERT_NOT_NULL(strstr(text, "# TYPE vmrt_sched_cpu_utilization gauge\n"));
    ASSERT_NOT_NULL(strstr(text, "vmrt_sched_cpu_utilization 0.5\n"));
    ASSERT_NOT_NULL(strstr(text, "vmrt_sched_preemptive 1\n"));
    ASSERT_NOT_NULL(strstr(text, "vmrt_sched_vcpus_switches{vcpu=\"0\"} 10\n"));
    ASSERT_NOT_NULL(strstr(text, "vmrt_sched_vcpus_switches{vcpu=\"1\"} 32\n"));
    ASSERT_NOT_NULL(strstr(text, "vmrt_gc_heap_usage 4096\n"));
    ASSERT_NULL(strstr(text, "ignored"));
    /* one TYPE line per family, even with two labelled samples */
    ASSERT_EQ(count(text, "# TYPE vmrt_sched_vcpus_switches"), 1);
    free(text);
    json_decref(j);
    ASSERT_EQ(vmrt__export_prometheus(NULL, stdout), -EINVAL);
}

static void test_listen_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    unsigned len;
    ASSERT_OK(vmrt__parse_listen("127.0.0.1:9100", &ss, &len));
    ASSERT_EQ(ss.ss_family, AF_INET);
    ASSERT_OK(vmrt__parse_listen("localhost:0", &ss, &len));
    ASSERT_OK(vmrt__parse_listen("[::1]:9100", &ss, &len));
    ASSERT_EQ(ss.ss_family, AF_INET6);
    ASSERT_EQ(vmrt__parse_listen("0.0.0.0:9100", &ss, &len), -EADDRNOTAVAIL);
    ASSERT_EQ(vmrt__parse_listen("10.1.2.3:9100", &ss, &len), -EADDRNOTAVAIL);
    ASSERT_EQ(vmrt__parse_listen("[::]:9100", &ss, &len), -EADDRNOTAVAIL);
    ASSERT_EQ(vmrt__parse_listen("127.0.0.1", &ss, &len), -EINVAL);
    ASSERT_EQ(vmrt__parse_listen("127.0.0.1:99999", &ss, &len), -EINVAL);
    ASSERT_EQ(vmrt__parse_listen("127.0.0.1:", &ss, &len), -EINVAL);
    ASSERT_EQ(vmrt__parse_listen("nohost:80", &ss, &len), -EINVAL);
    ASSERT_EQ(vmrt__parse_listen(NULL, &ss, &len), -EINVAL);
}

static char *http_get(int port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_TRUE(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_OK(connect(fd, (struct sockaddr *)&a, sizeof a));
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    ASSERT_EQ(write(fd, req, (size_t)n), n);
    char *buf = calloc(1, 65536);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, buf + got, 65535 - got)) > 0)
        got += (size_t)r;
    close(fd);
    return buf;
}

static void test_http_endpoint(void **state)
{
    (void)state;
    vmrt__metrics_server_t *srv;
    ASSERT_EQ(vmrt__metrics_start(&srv, "192.0.2.1:0", sample, NULL), -EADDRNOTAVAIL);
    ASSERT_OK(vmrt__metrics_start(&srv, "127.0.0.1:0", sample, NULL));
    int port = vmrt__metrics_port(srv);
    ASSERT_TRUE(port > 0);
    char *m = http_get(port, "/metrics");
    ASSERT_NOT_NULL(strstr(m, "HTTP/1.0 200 OK"));
    ASSERT_NOT_NULL(strstr(m, "vmrt_sched_context_switches_total 42"));
    free(m);
    char *s = http_get(port, "/stats");
    ASSERT_NOT_NULL(strstr(s, "application/json"));
    ASSERT_NOT_NULL(strstr(s, "\"context_switches_total\": 42"));
    free(s);
    char *nf = http_get(port, "/nope");
    ASSERT_NOT_NULL(strstr(nf, "404 Not Found"));
    free(nf);
    vmrt__metrics_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_text),
        cmocka_unit_test(test_listen_addresses),
        cmocka_unit_test(test_http_endpoint),
    };
    VT_RUN("export", tests);
}
