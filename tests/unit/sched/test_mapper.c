/* The vCPU mapper: bound and affine coroutines never run elsewhere,
 * migration, vCPU add/remove under load, pinning, the query tables. */
#include "harness.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include <vmrt/vmrt.h>

VT_DEFINE_GLOBALS;

static vmrt_sched_t *make(unsigned vcpus)
{
    vmrt_sched_config_t cfg;
    vmrt_sched_config_init(&cfg);
    cfg.vcpus = vcpus;
    vmrt_sched_t *s;
    ASSERT_OK(vmrt_sched_new(&s, &cfg));
    ASSERT_OK(vmrt_sched_start(s));
    return s;
}

static atomic_int wrong_vcpu;

static void *stay_on(void *arg)
{
    int want = (int)(intptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        if (vmrt_vcpu_current() != want)
            atomic_fetch_add(&wrong_vcpu, 1);
        if (i % 100 == 0)
            vmrt_sleep_ns(10000);
        else
            vmrt_yield();
    }
    return NULL;
}

static void *busy(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++)
        vmrt_yield();
    return NULL;
}

static void test_bind(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    atomic_store(&wrong_vcpu, 0);
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    vmrt_coro_t *b[4], *l[8];
    for (int i = 0; i < 8; i++) /* unbound load that gets stolen around */
        ASSERT_OK(vmrt_sched_spawn(s, &l[i], NULL, busy, NULL));
    for (int i = 0; i < 4; i++) {
        a.bind_vcpu = i % 2;
        ASSERT_OK(vmrt_sched_spawn(s, &b[i], &a, stay_on, (void *)(intptr_t)(i % 2)));
    }
    for (int i = 0; i < 4; i++)
        ASSERT_OK(vmrt_sched_join(b[i], NULL));
    for (int i = 0; i < 8; i++)
        ASSERT_OK(vmrt_sched_join(l[i], NULL));
    ASSERT_EQ(atomic_load(&wrong_vcpu), 0);
    vmrt_sched_destroy(s);
}

static void *affine(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        if (vmrt_vcpu_current() != 1)
            atomic_fetch_add(&wrong_vcpu, 1);
        vmrt_yield();
    }
    /* widen the mask at run time, then narrow it to vCPU 0 */
    ASSERT_OK(vmrt_coro_set_affinity(vmrt_coro_self(), 1u));
    for (int i = 0; i < 200; i++) {
        if (vmrt_vcpu_current() != 0)
            atomic_fetch_add(&wrong_vcpu, 1);
        vmrt_yield();
    }
    return NULL;
}

static void test_affinity(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    atomic_store(&wrong_vcpu, 0);
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.affinity = 1u << 1;
    vmrt_coro_t *c[4], *l[4];
    for (int i = 0; i < 4; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &l[i], NULL, busy, NULL));
    for (int i = 0; i < 4; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &c[i], &a, affine, NULL));
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(vmrt_sched_join(c[i], NULL));
        ASSERT_OK(vmrt_sched_join(l[i], NULL));
    }
    ASSERT_EQ(atomic_load(&wrong_vcpu), 0);
    vmrt_sched_destroy(s);
}

static void *migrator(void *arg)
{
    (void)arg;
    for (int i = 0; i < 50; i++) {
        int to = i % 2;
        ASSERT_OK(vmrt_coro_migrate(vmrt_coro_self(), (unsigned)to));
        if (vmrt_vcpu_current() != to)
            atomic_fetch_add(&wrong_vcpu, 1);
    }
    return NULL;
}

static void test_migrate(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    atomic_store(&wrong_vcpu, 0);
    vmrt_coro_t *m;
    ASSERT_OK(vmrt_sched_spawn(s, &m, NULL, migrator, NULL));
    ASSERT_OK(vmrt_sched_join(m, NULL));
    ASSERT_EQ(atomic_load(&wrong_vcpu), 0);
    ASSERT_EQ(vmrt_coro_migrate(m = NULL, 0), -EINVAL);
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    ASSERT_TRUE(st.migrations >= 50);
    vmrt_sched_destroy(s);
}

static atomic_int ran_on[8];
static atomic_bool stop_load;
static atomic_uint_fast64_t removed_at;
static atomic_int ran_after_removal;

static void *loader(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_load)) {
        int v = vmrt_vcpu_current();
        if (v >= 0 && v < 8)
            atomic_fetch_add(&ran_on[v], 1);
        uint64_t r = atomic_load(&removed_at);
        if (r && v >= 1 && vmrt_now_ns() > r)
            atomic_fetch_add(&ran_after_removal, 1);
        if (v % 2)
            vmrt_sleep_ns(20000);
        else
            vmrt_yield();
    }
    return NULL;
}

static void test_vcpu_add_remove_under_load(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(1);
    ASSERT_EQ(vmrt_vcpu_count(s), 1);
    vmrt_coro_t *c[32];
    for (int i = 0; i < 32; i++)
        ASSERT_OK(vmrt_sched_spawn(s, &c[i], NULL, loader, NULL));
    usleep(20000);
    int a = vmrt_vcpu_add(s), b = vmrt_vcpu_add(s);
    ASSERT_EQ(a, 1);
    ASSERT_EQ(b, 2);
    ASSERT_EQ(vmrt_vcpu_count(s), 3);
    for (int tries = 0; tries < 500 && (!atomic_load(&ran_on[1]) || !atomic_load(&ran_on[2]));
         tries++)
        usleep(2000);
    ASSERT_TRUE(atomic_load(&ran_on[1]) > 0);
    ASSERT_TRUE(atomic_load(&ran_on[2]) > 0);
    ASSERT_EQ(vmrt_vcpu_remove(s, 0), -EINVAL);
    ASSERT_OK(vmrt_vcpu_remove(s, 2));
    ASSERT_OK(vmrt_vcpu_remove(s, 1));
    atomic_store(&removed_at, vmrt_now_ns());
    ASSERT_EQ(vmrt_vcpu_count(s), 1);
    ASSERT_EQ(vmrt_vcpu_remove(s, 1), -EINVAL);
    usleep(30000);
    atomic_store(&stop_load, true);
    for (int i = 0; i < 32; i++)
        ASSERT_OK(vmrt_sched_join(c[i], NULL));
    ASSERT_EQ(atomic_load(&ran_after_removal), 0);
    /* a re-added vCPU reuses a free slot */
    ASSERT_EQ(vmrt_vcpu_add(s), 1);
    ASSERT_EQ(vmrt_vcpu_count(s), 2);
    vmrt_sched_destroy(s);
}

static void *where(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)sched_getcpu();
}

static void test_pin_and_tables(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    cpu_set_t set;
    ASSERT_OK(sched_getaffinity(0, sizeof set, &set));
    int cpu = -1;
    for (int i = CPU_SETSIZE - 1; i >= 0 && cpu < 0; i--)
        if (CPU_ISSET(i, &set))
            cpu = i;
    ASSERT_OK(vmrt_vcpu_pin(s, 1, cpu));
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.bind_vcpu = 1;
    a.name = "pinned";
    vmrt_coro_t *c;
    ASSERT_OK(vmrt_sched_spawn(s, &c, &a, where, NULL));
    void *r;
    ASSERT_OK(vmrt_sched_join(c, &r));
    ASSERT_EQ((intptr_t)r, cpu);
    vmrt_vcpu_info_t vi[4];
    ASSERT_EQ(vmrt_vcpu_table(s, vi, 4), 2);
    ASSERT_EQ(vi[1].host_cpu, cpu);
    ASSERT_EQ(vi[0].host_cpu, -1);
    ASSERT_TRUE(vi[0].online && vi[1].online);
    ASSERT_OK(vmrt_vcpu_pin(s, 1, -1));
    vmrt_sched_destroy(s);
}

static vmrt_chan_t *block_ch;

static void *blocker(void *arg)
{
    int v;
    (void)arg;
    return (void *)(intptr_t)vmrt_chan_recv(block_ch, &v, 0);
}

static void test_coro_table(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    ASSERT_OK(vmrt_chan_new(&block_ch, sizeof(int), 0));
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.bind_vcpu = 1;
    a.affinity = 2;
    a.name = "blocked-one";
    a.priority = VMRT_PRIO_LOW;
    vmrt_coro_t *c;
    ASSERT_OK(vmrt_sched_spawn(s, &c, &a, blocker, NULL));
    while (vmrt_coro_state(c) != VMRT_CORO_BLOCKED)
        usleep(100);
    vmrt_coro_info_t ci[8];
    ASSERT_EQ(vmrt_coro_table(s, ci, 8), 1);
    ASSERT_STR_EQ(ci[0].name, "blocked-one");
    ASSERT_EQ(ci[0].state, VMRT_CORO_BLOCKED);
    ASSERT_EQ(ci[0].vcpu, 1);
    ASSERT_EQ(ci[0].bind_vcpu, 1);
    ASSERT_EQ(ci[0].affinity, 2);
    ASSERT_EQ(ci[0].priority, VMRT_PRIO_LOW);
    ASSERT_EQ(vmrt_coro_vcpu(c), 1);
    ASSERT_OK(vmrt_chan_close(block_ch));
    void *r;
    ASSERT_OK(vmrt_sched_join(c, &r));
    ASSERT_EQ((intptr_t)r, VMRT_ECLOSED);
    ASSERT_OK(vmrt_chan_destroy(block_ch));
    vmrt_sched_destroy(s);
}

/* Rebalancing moves unconstrained coroutines too. vCPU 1 always has its
 * bound spinner to run, so it never steals; 16 unbound coroutines that only
 * yield stay in vCPU 0's deque (a yield requeues on the same vCPU, and they
 * are never preempted to the global queue because they never use up a
 * slice). Only the monitor's rebalancer (load EWMA, every 100 ms) can move
 * some of them to vCPU 1. */
#define RB_WORKERS 16
static atomic_bool rb_stop, rb_spinning;
static atomic_int rb_on_1, rb_wrong_spinner;

static void *rb_spinner(void *arg)
{
    (void)arg;
    atomic_store(&rb_spinning, true);
    while (!atomic_load_explicit(&rb_stop, memory_order_relaxed)) {
        if (vmrt_vcpu_current() != 1)
            atomic_fetch_add(&rb_wrong_spinner, 1);
        vmrt_safepoint();
    }
    return NULL;
}

static void *rb_worker(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&rb_stop, memory_order_relaxed)) {
        if (vmrt_vcpu_current() == 1)
            atomic_fetch_add(&rb_on_1, 1);
        vmrt_yield();
    }
    return NULL;
}

static void *rb_spawner(void *arg)
{
    (void)arg;
    vmrt_coro_t *w[RB_WORKERS];
    for (int i = 0; i < RB_WORKERS; i++)
        ASSERT_OK(vmrt_sched_spawn(vmrt_sched_current(), &w[i], NULL, rb_worker, NULL));
    for (int i = 0; i < RB_WORKERS; i++)
        ASSERT_OK(vmrt_sched_join(w[i], NULL));
    return NULL;
}

static void test_rebalance_unbound(void **state)
{
    (void)state;
    vmrt_sched_t *s = make(2);
    atomic_store(&rb_stop, false);
    atomic_store(&rb_spinning, false);
    atomic_store(&rb_on_1, 0);
    atomic_store(&rb_wrong_spinner, 0);
    vmrt_coro_attr_t a;
    vmrt_coro_attr_init(&a);
    a.bind_vcpu = 1;
    vmrt_coro_t *sp, *wk;
    ASSERT_OK(vmrt_sched_spawn(s, &sp, &a, rb_spinner, NULL));
    while (!atomic_load(&rb_spinning))
        usleep(100);
    a.bind_vcpu = 0;
    ASSERT_OK(vmrt_sched_spawn(s, &wk, &a, rb_spawner, NULL));
    uint64_t t0 = vmrt_now_ns();
    while (atomic_load(&rb_on_1) == 0 && vmrt_now_ns() - t0 < 5000000000ull)
        usleep(1000);
    int moved = atomic_load(&rb_on_1);
    vmrt_sched_stats_t st;
    ASSERT_OK(vmrt_sched_stats(s, &st));
    atomic_store(&rb_stop, true);
    ASSERT_OK(vmrt_sched_join(wk, NULL));
    ASSERT_OK(vmrt_sched_join(sp, NULL));
    ASSERT_TRUE(moved > 0);         /* some unbound worker ran on vCPU 1 */
    ASSERT_TRUE(st.migrations > 0); /* and it got there by migration */
    ASSERT_EQ(atomic_load(&rb_wrong_spinner), 0);
    vmrt_sched_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_affinity),
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_vcpu_add_remove_under_load),
        cmocka_unit_test(test_pin_and_tables),
        cmocka_unit_test(test_coro_table),
        cmocka_unit_test(test_rebalance_unbound),
    };
    VT_RUN("mapper", tests);
}
