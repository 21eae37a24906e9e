/* Scheduler benchmarks. Usage: vmrt-bench-sched CASE N. Prints one number
 * (lower is better); the Go peer (bench/peers/go/sched/sched.go) implements
 * the same cases with the same arguments.
 *
 *   skynet N          ms    N leaves (10-ary tree of coroutines), checks the sum
 *   pingpong_same N   ns    per round trip over unbuffered channels, 1 vCPU
 *   pingpong_cross N  ns    per round trip, the two coroutines on two vCPUs
 *   ring N            ns    per token pass, 503 coroutines (thread-ring)
 *   fib_1 N / fib_all N ms  fib(N) spawning a coroutine per call, 1 / all vCPUs
 *   yield N           ns    per yield, 2 coroutines on 1 vCPU
 *   latency_p50 N / latency_p99 N  us  High-priority wake-up latency while Low
 *                     coroutines saturate every vCPU (N samples): a Medium
 *                     coroutine sends a timestamp to a High one blocked on a
 *                     channel (Go: the main goroutine sends, no priorities)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmrt/vmrt.h>

static void fail(const char *what, int err)
{
    fprintf(stderr, "vmrt-bench-sched: %s: %s\n", what, vmrt_strerror(err));
    exit(1);
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        int err_ = (expr);                                                                         \
        if (err_ < 0)                                                                              \
            fail(#expr, err_);                                                                     \
    } while (0)

static vmrt_sched_t *make(unsigned vcpus)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    if (vcpus)
        cfg.vcpus = vcpus;
    cfg.stack_size = 64 * 1024;
    vmrt_sched_t *s;
    CHECK(vmrt_sched_new(&s, &cfg));
    CHECK(vmrt_sched_start(s));
    return s;
}

/* ---- skynet ---- */
static void *skynet(void *arg)
{
    uintptr_t a = (uintptr_t)arg;
    long num = (long)(a >> 4), size = 1;
    for (unsigned k = a & 15; k; k--)
        size *= 10;
    if (size == 1)
        return (void *)num;
    vmrt_sched_t *s = vmrt_sched_current();
    vmrt_coro_t *c[10];
    long step = size / 10;
    for (int i = 0; i < 10; i++)
        CHECK(vmrt_sched_spawn(s, &c[i], NULL, skynet,
                               (void *)(((uintptr_t)(num + i * step) << 4) | ((a & 15) - 1))));
    long sum = 0;
    for (int i = 0; i < 10; i++) {
        void *r;
        CHECK(vmrt_sched_join(c[i], &r));
        sum += (long)r;
    }
    return (void *)sum;
}

static double bench_skynet(long n)
{
    unsigned k = 0;
    for (long x = n; x > 1; x /= 10)
        k++;
    vmrt_sched_t *s = make(0);
    uint64_t t0 = vmrt_now_ns();
    vmrt_coro_t *root;
    CHECK(vmrt_sched_spawn(s, &root, NULL, skynet, (void *)(uintptr_t)k));
    void *r;
    CHECK(vmrt_sched_join(root, &r));
    double ms = (double)(vmrt_now_ns() - t0) / 1e6;
    long want = n * (n - 1) / 2;
    if ((long)r != want) {
        fprintf(stderr, "skynet: sum %ld, expected %ld\n", (long)r, want);
        exit(1);
    }
    vmrt_sched_destroy(s);
    return ms;
}

/* ---- ping-pong ---- */
static vmrt_chan_t *ping, *pong;
static long rounds;

static void *pinger(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        long v = i, w;
        CHECK(vmrt_chan_send(ping, &v, 0));
        CHECK(vmrt_chan_recv(pong, &w, 0));
    }
    return NULL;
}

static void *ponger(void *arg)
{
    (void)arg;
    for (long i = 0; i < rounds; i++) {
        long v;
        CHECK(vmrt_chan_recv(ping, &v, 0));
        CHECK(vmrt_chan_send(pong, &v, 0));
    }
    return NULL;
}

static double bench_pingpong(long n, bool cross)
{
    rounds = n;
    vmrt_sched_t *s = make(cross ? 2 : 1);
    CHECK(vmrt_chan_new(&ping, sizeof(long), 0));
    CHECK(vmrt_chan_new(&pong, sizeof(long), 0));
    vmrt_coro_attr_t a, b;
    vmrt_coro_attr_init(&a);
    vmrt_coro_attr_init(&b);
    if (cross) { /* one coroutine per vCPU (same vCPU: the only one, no binding) */
        a.bind_vcpu = 0;
        b.bind_vcpu = 1;
    }
    uint64_t t0 = vmrt_now_ns();
    vmrt_coro_t *x, *y;
    CHECK(vmrt_sched_spawn(s, &x, &a, pinger, NULL));
    CHECK(vmrt_sched_spawn(s, &y, &b, ponger, NULL));
    CHECK(vmrt_sched_join(x, NULL));
    CHECK(vmrt_sched_join(y, NULL));
    double ns = (double)(vmrt_now_ns() - t0) / (double)n;
    if (getenv("VMRT_BENCH_DEBUG")) {
        vmrt_sched_stats_t st;
        vmrt_sched_stats(s, &st);
        fprintf(stderr, "parks=%lu wakeups=%lu sw=%lu\n", (unsigned long)st.parks,
                (unsigned long)st.wakeups, (unsigned long)st.context_switches);
    }
    vmrt_sched_destroy(s);
    return ns;
}

/* ---- thread-ring ---- */
#define RING 503
static vmrt_chan_t *ring_ch[RING];
static vmrt_chan_t *ring_done;

static void *ring_node(void *arg)
{
    int i = (int)(intptr_t)arg;
    long token;
    while (vmrt_chan_recv(ring_ch[i], &token, 0) == 0) {
        if (token == 0) {
            CHECK(vmrt_chan_send(ring_done, &i, 0));
            continue;
        }
        token--;
        CHECK(vmrt_chan_send(ring_ch[(i + 1) % RING], &token, 0));
    }
    return NULL;
}

static double bench_ring(long n)
{
    vmrt_sched_t *s = make(0);
    for (int i = 0; i < RING; i++)
        CHECK(vmrt_chan_new(&ring_ch[i], sizeof(long), 0));
    CHECK(vmrt_chan_new(&ring_done, sizeof(int), 1));
    for (int i = 0; i < RING; i++)
        CHECK(vmrt_sched_spawn(s, NULL, NULL, ring_node, (void *)(intptr_t)i));
    uint64_t t0 = vmrt_now_ns();
    long token = n;
    CHECK(vmrt_chan_send(ring_ch[0], &token, 0));
    int who;
    CHECK(vmrt_chan_recv(ring_done, &who, 0));
    double ns = (double)(vmrt_now_ns() - t0) / (double)n;
    if (who != (int)(n % RING)) {
        fprintf(stderr, "ring: finished at %d, expected %ld\n", who, n % RING);
        exit(1);
    }
    if (getenv("VMRT_BENCH_DEBUG")) {
        vmrt_sched_stats_t st;
        vmrt_sched_stats(s, &st);
        fprintf(stderr, "steals=%lu parks=%lu sw=%lu\n", (unsigned long)st.steals,
                (unsigned long)st.parks, (unsigned long)st.context_switches);
    }
    for (int i = 0; i < RING; i++)
        CHECK(vmrt_chan_close(ring_ch[i]));
    CHECK(vmrt_sched_stop(s, VMRT_SCHED_STOP_WAIT, 0));
    vmrt_sched_destroy(s);
    return ns;
}

/* ---- fib ---- */
static void *fib(void *arg)
{
    long n = (long)arg;
    if (n < 2)
        return (void *)n;
    vmrt_coro_t *c;
    CHECK(vmrt_sched_spawn(vmrt_sched_current(), &c, NULL, fib, (void *)(n - 1)));
    long b = (long)fib((void *)(n - 2));
    void *a;
    CHECK(vmrt_sched_join(c, &a));
    return (void *)((long)a + b);
}

static double bench_fib(long n, unsigned vcpus)
{
    vmrt_sched_t *s = make(vcpus);
    uint64_t t0 = vmrt_now_ns();
    vmrt_coro_t *c;
    CHECK(vmrt_sched_spawn(s, &c, NULL, fib, (void *)n));
    void *r;
    CHECK(vmrt_sched_join(c, &r));
    double ms = (double)(vmrt_now_ns() - t0) / 1e6;
    long a = 0, b = 1;
    for (long i = 0; i < n; i++) {
        long t = a + b;
        a = b;
        b = t;
    }
    if ((long)r != a) {
        fprintf(stderr, "fib: %ld, expected %ld\n", (long)r, a);
        exit(1);
    }
    if (getenv("VMRT_BENCH_DEBUG")) {
        for (unsigned i = 0; i < vmrt_vcpu_count(s); i++) {
            vmrt_vcpu_stats_t vs;
            if (vmrt_vcpu_stats(s, i, &vs) == 0)
                fprintf(stderr, "vcpu %u: sw=%lu steals=%lu parks=%lu spawned=%lu util=%.2f\n", i,
                        (unsigned long)vs.context_switches, (unsigned long)vs.steals,
                        (unsigned long)vs.parks, (unsigned long)vs.spawned, vs.cpu_utilization);
        }
        vmrt_pool_stats_t ps;
        if (vmrt_sched_pool_stats(s, &ps) == 0)
            fprintf(stderr, "pool: created=%lu reused=%lu peak=%lu\n", (unsigned long)ps.created,
                    (unsigned long)ps.reused, (unsigned long)ps.peak);
    }
    vmrt_sched_destroy(s);
    return ms;
}

/* ---- yield ---- */
static void *yielder(void *arg)
{
    long n = (long)arg;
    for (long i = 0; i < n; i++)
        vmrt_yield();
    return NULL;
}

static double bench_yield(long n)
{
    vmrt_sched_t *s = make(1);
    uint64_t t0 = vmrt_now_ns();
    vmrt_coro_t *a, *b;
    CHECK(vmrt_sched_spawn(s, &a, NULL, yielder, (void *)(n / 2)));
    CHECK(vmrt_sched_spawn(s, &b, NULL, yielder, (void *)(n / 2)));
    CHECK(vmrt_sched_join(a, NULL));
    CHECK(vmrt_sched_join(b, NULL));
    double ns = (double)(vmrt_now_ns() - t0) / (double)n;
    vmrt_sched_destroy(s);
    return ns;
}

/* ---- High-priority wake-up latency under saturating Low load ---- */
static atomic_bool stop_spin;
static vmrt_chan_t *lat_ch;
static uint64_t *lat;
static long lat_n;

static __attribute__((noinline)) uint64_t work(uint64_t x)
{
    return x * 6364136223846793005ull + 1442695040888963407ull;
}

static void *low_spinner(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg;
    while (!atomic_load_explicit(&stop_spin, memory_order_relaxed)) {
        for (int i = 0; i < 100; i++)
            x = work(x);
        vmrt_safepoint();
    }
    return (void *)(uintptr_t)x;
}

static void *high_receiver(void *arg)
{
    (void)arg;
    for (long i = 0; i < lat_n; i++) {
        uint64_t ts;
        CHECK(vmrt_chan_recv(lat_ch, &ts, 0));
        lat[i] = vmrt_now_ns() - ts;
    }
    return NULL;
}

static void *lat_sender(void *arg)
{
    (void)arg;
    vmrt_sleep_ns(200000);
    for (long i = 0; i < lat_n; i++) {
        vmrt_sleep_ns(200000);
        uint64_t ts = vmrt_now_ns();
        CHECK(vmrt_chan_send(lat_ch, &ts, 0));
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double bench_latency(long n, double q)
{
    vmrt_sched_t *s = make(0);
    unsigned vcpus = vmrt_vcpu_count(s);
    lat_n = n;
    lat = calloc((size_t)n, sizeof *lat);
    CHECK(vmrt_chan_new(&lat_ch, sizeof(uint64_t), 1));
    vmrt_coro_attr_t low, high;
    vmrt_coro_attr_init(&low);
    low.priority = VMRT_PRIO_LOW;
    vmrt_coro_attr_init(&high);
    high.priority = VMRT_PRIO_HIGH;
    vmrt_coro_t *sp[2 * VMRT_SCHED_MAX_VCPUS], *h;
    for (unsigned i = 0; i < 2 * vcpus; i++)
        CHECK(vmrt_sched_spawn(s, &sp[i], &low, low_spinner, (void *)(uintptr_t)(i + 1)));
    CHECK(vmrt_sched_spawn(s, &h, &high, high_receiver, NULL));
    vmrt_coro_t *snd; /* the waker is a coroutine, as Go's main goroutine is */
    CHECK(vmrt_sched_spawn(s, &snd, NULL, lat_sender, NULL));
    CHECK(vmrt_sched_join(snd, NULL));
    CHECK(vmrt_sched_join(h, NULL));
    atomic_store(&stop_spin, true);
    for (unsigned i = 0; i < 2 * vcpus; i++)
        CHECK(vmrt_sched_join(sp[i], NULL));
    qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
    if (getenv("VMRT_BENCH_DEBUG")) {
        vmrt_sched_stats_t st;
        vmrt_sched_stats(s, &st);
        fprintf(stderr, "coop=%lu sig=%lu sw=%lu p50=%lu p90=%lu p99=%lu max=%lu\n",
                (unsigned long)st.preempt_coop, (unsigned long)st.preempt_signal,
                (unsigned long)st.context_switches, (unsigned long)lat[n / 2],
                (unsigned long)lat[n * 9 / 10], (unsigned long)lat[n * 99 / 100],
                (unsigned long)lat[n - 1]);
    }
    double us = (double)lat[(size_t)((double)(n - 1) * q)] / 1e3;
    vmrt_sched_destroy(s);
    free(lat);
    return us;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: vmrt-bench-sched CASE N\n");
        return 2;
    }
    const char *c = argv[1];
    long n = atol(argv[2]);
    if (n <= 0) {
        fprintf(stderr, "vmrt-bench-sched: N must be positive\n");
        return 2;
    }
    double v;
    if (!strcmp(c, "skynet"))
        v = bench_skynet(n);
    else if (!strcmp(c, "pingpong_same"))
        v = bench_pingpong(n, false);
    else if (!strcmp(c, "pingpong_cross"))
        v = bench_pingpong(n, true);
    else if (!strcmp(c, "ring"))
        v = bench_ring(n);
    else if (!strcmp(c, "fib_1"))
        v = bench_fib(n, 1);
    else if (!strcmp(c, "fib_all"))
        v = bench_fib(n, 0);
    else if (!strcmp(c, "yield"))
        v = bench_yield(n);
    else if (!strcmp(c, "latency_p50"))
        v = bench_latency(n, 0.50);
    else if (!strcmp(c, "latency_p99"))
        v = bench_latency(n, 0.99);
    else {
        fprintf(stderr, "vmrt-bench-sched: unknown case '%s'\n", c);
        return 2;
    }
    printf("%.4g\n", v);
    return 0;
}
