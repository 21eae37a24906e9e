/* The M:N scheduler: configuration, lifecycle, spawning, joining, the
 * cooperative operations and run_one.
 *
 * Design overview (details in the file named in brackets):
 *  - A vCPU is a worker thread with, per priority level, a lock-free
 *    Chase-Lev deque [runq.c] and a locked inbox for coroutines that must run
 *    there (bound, affine, migrating) [mapper.c]. Global FIFOs per level take
 *    work from plain threads, overflow and all High work (any vCPU picks it
 *    at once). Idle vCPUs steal half a victim's deque [steal.c], spin
 *    briefly, then park on a futex [vcpu.c, SCHED-IDLE].
 *  - Picking is strictly by priority; a level that has not run on a vCPU for
 *    starvation_ns goes first once [SCHED-STARVE]; within a level it is
 *    newest-first with round-robin after yields [SCHED-FAIR].
 *  - A monitor thread [monitor.c] turns spent time slices into preemption
 *    requests, seen by vmrt_safepoint() through one global word
 *    [preempt.c]; a ready High coroutine preempts the vCPU running the
 *    lowest level at once.
 *  - Blocking goes through struct wait [park.c, SCHED-PARK]: timers
 *    [timer.c], epoll [netpoll.c], the offload pool [offload.c] and the sync
 *    primitives [sync/] all wake coroutines the same way.
 *  - Per-coroutine state is a task (sched_data of the coroutine). Pooled
 *    coroutines get their task once, from the pool factory; submitted ones
 *    get one at submit, freed by join/detach or destroy. Every task is in a
 *    sharded registry (GC stack enumeration, tables, cancel-all).
 *
 * Invariants:
 *  [SCHED-ONE] a task is in at most one queue, or running, or parked; only
 *    the party that moved it out of a wait (claim protocol) or the vCPU loop
 *    that saw it yield READY enqueues it.
 *  [SCHED-LAST] after vmrt__sched_finish() exchanged the joiner word, the
 *    vCPU never touches the task or coroutine again (a joiner may recycle it).
 */
#include "sched/sched_internal.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T_OUT (1u << 6) /* pooled coroutine handed out (not in the pool or a cache) */

/* ---- configuration -------------------------------------------------------- */

void vmrt_sched_config_init(vmrt_sched_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    cfg->vcpus = vmrt_sched_default_vcpus();
    cfg->ready_queue_size = 256;
    cfg->time_slice_ns = 10 * 1000 * 1000;
    cfg->preemptive = true;
    cfg->stack_size = VMRT_CORO_DEFAULT_STACK;
    cfg->idle_spin_max_ns = 200 * 1000;
}

static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int vmrt_sched_config_check(const vmrt_sched_config_t *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!c)
        return bad(err, errlen, "no configuration");
    if (c->size != sizeof *c)
        return bad(err, errlen, "size: %zu, not %zu (call vmrt_sched_config_init first)", c->size,
                   sizeof *c);
    if (c->vcpus > VMRT_SCHED_MAX_VCPUS)
        return bad(err, errlen, "vcpus: %u is more than %d", c->vcpus, VMRT_SCHED_MAX_VCPUS);
    size_t q = c->ready_queue_size;
    if (q < 16 || q > 65536 || (q & (q - 1)))
        return bad(err, errlen, "ready_queue_size: %zu is not a power of two in [16, 65536]", q);
    if (c->time_slice_ns < 100000 || c->time_slice_ns > 10000000000ull)
        return bad(err, errlen, "time_slice_ns: %llu is outside [100 us, 10 s]",
                   (unsigned long long)c->time_slice_ns);
    if (c->starvation_ns && c->starvation_ns < c->time_slice_ns)
        return bad(err, errlen, "starvation_ns: %llu is below time_slice_ns (%llu)",
                   (unsigned long long)c->starvation_ns, (unsigned long long)c->time_slice_ns);
    if (c->stack_size &&
        (c->stack_size < VMRT_CORO_MIN_STACK || c->stack_size > VMRT_CORO_MAX_STACK))
        return bad(err, errlen, "stack_size: %zu is outside [%u, %u] bytes", c->stack_size,
                   VMRT_CORO_MIN_STACK, VMRT_CORO_MAX_STACK);
    if (c->idle_spin_max_ns > 10000000u)
        return bad(err, errlen, "idle_spin_max_ns: %llu is more than 10 ms",
                   (unsigned long long)c->idle_spin_max_ns);
    return 0;
}

static int validate(const vmrt_sched_config_t *c)
{
    return vmrt_sched_config_check(c, NULL, 0);
}

/* ---- registry --------------------------------------------------------------- */

static unsigned shard_of(const task_t *t)
{
    return (unsigned)(((uintptr_t)t >> 6) % REG_SHARDS);
}

void vmrt__reg_add(struct vmrt_sched *s, task_t *t)
{
    unsigned i = shard_of(t);
    spin_lock(&s->reg[i].lock);
    t->reg_prev = NULL;
    t->reg_next = s->reg[i].head;
    if (t->reg_next)
        t->reg_next->reg_prev = t;
    s->reg[i].head = t;
    spin_unlock(&s->reg[i].lock);
}

void vmrt__reg_remove(struct vmrt_sched *s, task_t *t)
{
    unsigned i = shard_of(t);
    spin_lock(&s->reg[i].lock);
    if (t->reg_prev)
        t->reg_prev->reg_next = t->reg_next;
    else
        s->reg[i].head = t->reg_next;
    if (t->reg_next)
        t->reg_next->reg_prev = t->reg_prev;
    spin_unlock(&s->reg[i].lock);
}

/* Pool factory: each pooled coroutine object gets its task once. The task
 * rides in userdata while the coroutine is idle in the pool. */
static int factory_init(vmrt_coro_t *co, void *arg)
{
    task_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->co = co;
    t->s = arg;
    atomic_store(&t->vcpu, -1);
    atomic_store(&t->migrate_to, -1);
    atomic_store(&t->flags, T_POOLED);
    co->userdata = t;
    vmrt__reg_add(arg, t);
    return 0;
}

static void factory_fini(vmrt_coro_t *co, void *arg)
{
    task_t *t = co->userdata ? co->userdata : co->sched_data;
    if (!t)
        return;
    vmrt__reg_remove(arg, t);
    free(t);
    co->userdata = co->sched_data = NULL;
}

/* ---- lifecycle ---------------------------------------------------------------- */

static void destroy_vcpu(vcpu_t *v)
{
    if (!v)
        return;
    for (int p = 0; p < VMRT_PRIO_COUNT; p++)
        vmrt__deque_fini(&v->dq[p]);
    vmrt__timer_fini(&v->timers);
    free(v);
}

int vmrt_sched_new(vmrt_sched_t **out, const vmrt_sched_config_t *cfg)
{
    vmrt_sched_config_t defaults;
    if (!out)
        return -EINVAL;
    if (!cfg) {
        vmrt_sched_config_init(&defaults);
        cfg = &defaults;
    }
    int err = validate(cfg);
    if (err)
        return err;
    struct vmrt_sched *s = aligned_alloc(64, (sizeof *s + 63) & ~(size_t)63);
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.stack_size)
        s->cfg.stack_size = VMRT_CORO_DEFAULT_STACK;
    if (!s->cfg.starvation_ns)
        s->cfg.starvation_ns = 10 * s->cfg.time_slice_ns;
    s->start_ns = vmrt_now_ns();
    atomic_init(&s->coarse_now, s->start_ns);
    pthread_mutex_init(&s->embed_lock, NULL);
    pthread_mutex_init(&s->mapper_lock, NULL);
    pthread_mutex_init(&s->stw_lock, NULL);
    pthread_mutex_init(&s->np_lock, NULL);
    pthread_mutex_init(&s->off_lock, NULL);
    vmrt_pool_config_t pc;
    vmrt_pool_config_init(&pc);
    pc.max_coroutines = cfg->max_coroutines;
    pc.stack_size = s->cfg.stack_size;
    pc.idle_max = 16384;
    pc.idle_high_water = 4096; /* warm stacks: reuse without page faults */
    pc.factory.init = factory_init;
    pc.factory.fini = factory_fini;
    pc.factory.arg = s;
    err = vmrt_pool_new(&s->pool, &pc);
    for (unsigned i = 0; !err && i < cfg->vcpus; i++)
        err = vmrt__vcpu_create(s, i);
    if (!err) {
        atomic_store(&s->nslots, cfg->vcpus);
        s->embed = vmrt__vcpu_alloc(s, VMRT_SCHED_MAX_VCPUS);
        if (!s->embed) {
            err = -ENOMEM;
        } else {
            s->embed->is_embed = true;
            atomic_store(&s->embed->online, V_ONLINE);
        }
    }
    if (err) {
        for (unsigned i = 0; i < VMRT_SCHED_MAX_VCPUS; i++)
            destroy_vcpu(s->vcpus[i]);
        destroy_vcpu(s->embed);
        if (s->pool)
            vmrt_pool_destroy(s->pool);
        free(s);
        return err;
    }
    *out = s;
    return 0;
}

/* The i-th CPU of this process's affinity mask, or -1. */
static int nth_allowed_cpu(unsigned i)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return -1;
    unsigned n = (unsigned)CPU_COUNT(&set);
    if (!n)
        return -1;
    i %= n;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set) && i-- == 0)
            return c;
    return -1;
}

static int start_vcpu_thread(struct vmrt_sched *s, vcpu_t *v)
{
    atomic_store(&v->online, V_ONLINE);
    if (s->cfg.pin_vcpus)
        atomic_store(&v->host_cpu, nth_allowed_cpu(v->id));
    atomic_fetch_or(&s->online_mask, 1ull << v->id);
    int err = pthread_create(&v->thread, NULL, vmrt__vcpu_main, v);
    if (err) {
        atomic_fetch_and(&s->online_mask, ~(1ull << v->id));
        atomic_store(&v->online, V_OFFLINE);
        return -err;
    }
    v->has_thread = true;
    return 0;
}

int vmrt__vcpu_start(struct vmrt_sched *s, vcpu_t *v)
{
    return start_vcpu_thread(s, v);
}

int vmrt_sched_start(vmrt_sched_t *s)
{
    if (!s)
        return -EINVAL;
    int expect = S_NEW;
    if (!atomic_compare_exchange_strong(&s->state, &expect, S_RUNNING))
        return VMRT_ESTATE;
    for (unsigned i = 0; i < atomic_load(&s->nslots); i++) {
        int err = start_vcpu_thread(s, s->vcpus[i]);
        if (err)
            return err;
    }
    if (s->cfg.preemptive || s->cfg.vcpus)
        return vmrt__monitor_start(s);
    return 0;
}

static uint64_t live_count(struct vmrt_sched *s, uint64_t *total)
{
    uint64_t spawned = atomic_load(&s->submitted), finished = 0;
    unsigned n = atomic_load(&s->nslots);
    for (unsigned i = 0; i <= n; i++) {
        vcpu_t *v = i < n ? s->vcpus[i] : s->embed;
        if (!v)
            continue;
        spawned += atomic_load_explicit(&v->c.spawned, relaxed);
        finished += atomic_load_explicit(&v->c.finished, relaxed);
    }
    if (total)
        *total = spawned;
    return spawned > finished ? spawned - finished : 0;
}

uint64_t vmrt__live_count(struct vmrt_sched *s, uint64_t *total)
{
    return live_count(s, total);
}

static void cancel_all(struct vmrt_sched *s)
{
    for (unsigned i = 0; i < REG_SHARDS; i++) {
        spin_lock(&s->reg[i].lock);
        for (task_t *t = s->reg[i].head; t; t = t->reg_next)
            if (atomic_load(&t->flags) & T_LIVE)
                vmrt_sched_cancel(t->co);
        spin_unlock(&s->reg[i].lock);
    }
}

static void join_threads(struct vmrt_sched *s)
{
    atomic_store(&s->state, S_STOPPING);
    unsigned n = atomic_load(&s->nslots);
    for (unsigned i = 0; i < n; i++) {
        vcpu_t *v = s->vcpus[i];
        if (!v || !v->has_thread)
            continue;
        atomic_fetch_and(&s->idle_mask, ~(1ull << i));
        atomic_store(&v->park_word, 1);
        vmrt__futex_wake(&v->park_word, 1);
    }
    for (unsigned i = 0; i < n; i++) {
        vcpu_t *v = s->vcpus[i];
        if (!v || !v->has_thread)
            continue;
        while (pthread_tryjoin_np(v->thread, NULL) == EBUSY) {
            atomic_store(&v->park_word, 1);
            vmrt__futex_wake(&v->park_word, 1);
            usleep(100);
        }
        v->has_thread = false;
        atomic_store(&v->online, V_OFFLINE);
    }
    atomic_store(&s->online_mask, 0);
    vmrt__monitor_stop(s);
    vmrt__netpoll_fini(s);
    vmrt__offload_fini(s);
    atomic_store(&s->state, S_STOPPED);
}

int vmrt_sched_stop(vmrt_sched_t *s, vmrt_sched_stop_mode_t mode, uint64_t timeout_ns)
{
    if (!s)
        return -EINVAL;
    if (vmrt_sched_current() == s)
        return VMRT_ESTATE;
    if (atomic_load(&s->state) == S_STOPPED)
        return 0;
    if (mode == VMRT_SCHED_STOP_CANCEL)
        cancel_all(s);
    uint64_t deadline = vmrt__deadline(timeout_ns);
    bool threads = atomic_load(&s->online_mask) != 0;
    unsigned naps = 0;
    while (live_count(s, NULL)) {
        if (deadline && vmrt_now_ns() >= deadline)
            return VMRT_ETIMEOUT;
        if (!threads && vmrt_sched_run_one(s) > 0)
            continue;
        usleep(naps < 100 ? 50 : 1000);
        naps++;
        if (mode == VMRT_SCHED_STOP_CANCEL && naps % 64 == 0)
            cancel_all(s);
    }
    join_threads(s);
    return 0;
}

static void release_pooled(struct vmrt_sched *s, task_t *t, vcpu_t *v);

void vmrt_sched_destroy(vmrt_sched_t *s)
{
    if (!s)
        return;
    if (atomic_load(&s->state) != S_STOPPED) {
        if (vmrt_sched_stop(s, VMRT_SCHED_STOP_CANCEL, 1000000000ull) != 0)
            join_threads(s);
    }
    /* Give every handed-out pooled coroutine back; free submitted tasks. */
    for (;;) {
        task_t *found = NULL;
        for (unsigned i = 0; i < REG_SHARDS && !found; i++) {
            spin_lock(&s->reg[i].lock);
            for (task_t *t = s->reg[i].head; t; t = t->reg_next) {
                uint32_t f = atomic_load(&t->flags);
                if (!(f & T_POOLED) || (f & T_OUT)) {
                    found = t;
                    break;
                }
            }
            spin_unlock(&s->reg[i].lock);
        }
        if (!found)
            break;
        if (atomic_load(&found->flags) & T_POOLED) {
            release_pooled(s, found, NULL);
        } else {
            vmrt__reg_remove(s, found);
            free(found);
        }
    }
    unsigned n = atomic_load(&s->nslots);
    for (unsigned i = 0; i <= n; i++) {
        vcpu_t *v = i < n ? s->vcpus[i] : s->embed;
        if (!v)
            continue;
        while (v->ncache) {
            vmrt_coro_t *co = v->cache[--v->ncache];
            co->userdata = co->sched_data;
            co->sched_data = NULL;
            vmrt_pool_release(s->pool, co);
        }
    }
    vmrt_pool_destroy(s->pool);
    for (unsigned i = 0; i < VMRT_SCHED_MAX_VCPUS; i++)
        destroy_vcpu(s->vcpus[i]);
    destroy_vcpu(s->embed);
    pthread_mutex_destroy(&s->embed_lock);
    pthread_mutex_destroy(&s->mapper_lock);
    pthread_mutex_destroy(&s->stw_lock);
    pthread_mutex_destroy(&s->np_lock);
    pthread_mutex_destroy(&s->off_lock);
    free(s);
}

/* ---- making coroutines ready --------------------------------------------------- */

static _Thread_local unsigned sample_tick __attribute__((tls_model("initial-exec")));

void vmrt__sched_ready(struct vmrt_sched *s, task_t *t, vcpu_t *from)
{
    if (from && from->s != s)
        from = NULL;
    if ((++sample_tick & 63) == 0)
        t->ready_ns = vmrt_now_ns();
    int p = atomic_load_explicit(&t->co->priority, relaxed); /* read once */
    /* the common case needs no routing: not migrating, bound or affine */
    vcpu_t *target = NULL;
    if (__builtin_expect(atomic_load_explicit(&t->migrate_to, relaxed) >= 0 ||
                             __atomic_load_n(&t->co->bind_vcpu, __ATOMIC_RELAXED) >= 0 ||
                             __atomic_load_n(&t->co->affinity, __ATOMIC_RELAXED) != 0,
                         0))
        target = vmrt__route(s, t, from);
    if (target) {
        vmrt__fifo_push(&target->inbox[p], t);
        if (target != from)
            vmrt__vcpu_kick(target);
        return;
    }
    if (p == VMRT_PRIO_HIGH) {
        vmrt__fifo_push(&s->global[p], t);
        vmrt__wake_idle(s);
        vmrt__preempt_for_high(s, from);
        return;
    }
    if (from && vmrt__deque_push(&from->dq[p], t)) {
        /* A lone coroutine in our deque is a hand-off that this vCPU runs as
         * soon as the caller blocks or yields: waking another vCPU for it
         * costs a futex wake and makes message-passing chains bounce. Wake
         * one when there is more than that to share. (If the caller keeps
         * running instead, its time slice ends the wait.) */
        if (vmrt__deque_size(&from->dq[p]) > 1)
            vmrt__wake_idle(s);
        return;
    }
    vmrt__fifo_push(&s->global[p], t);
    vmrt__wake_idle(s);
}

static vcpu_t *self_in(struct vmrt_sched *s)
{
    vcpu_t *v = vmrt__vcpu_self();
    return v && v->s == s ? v : NULL;
}

static void release_pooled(struct vmrt_sched *s, task_t *t, vcpu_t *v)
{
    vmrt_coro_t *co = t->co;
    atomic_fetch_and(&t->flags, ~(uint32_t)(T_OUT | T_LIVE));
    if (v && v->ncache < VCPU_CACHE) {
        v->cache[v->ncache++] = co;
        return;
    }
    co->userdata = t;
    co->sched_data = NULL;
    co->sched = NULL;
    vmrt_pool_release(s->pool, co);
}

static void free_submitted(struct vmrt_sched *s, task_t *t)
{
    vmrt_coro_t *co = t->co;
    vmrt__reg_remove(s, t);
    co->sched = NULL;
    co->sched_data = NULL;
    free(t);
}

void vmrt__sched_finish(vcpu_t *v, task_t *t)
{
    struct vmrt_sched *s = t->s;
    atomic_fetch_and_explicit(&t->flags, ~(uint32_t)T_LIVE, release);
    atomic_store_explicit(&v->c.finished, atomic_load_explicit(&v->c.finished, relaxed) + 1,
                          relaxed);
    wait_t *w = atomic_exchange_explicit(&t->joiner, JOIN_DONE, memory_order_acq_rel);
    if (w == JOIN_DETACH) {
        if (atomic_load_explicit(&t->flags, relaxed) & T_POOLED)
            release_pooled(s, t, v);
        else
            free_submitted(s, t);
    } else if (w) {
        vmrt__wake(w, 0); /* [SCHED-LAST] */
    }
}

static void task_reset(task_t *t, bool joinable, uint32_t flags)
{
    t->next = NULL;
    atomic_store_explicit(&t->flags, flags, relaxed);
    atomic_store_explicit(&t->joiner, joinable ? NULL : JOIN_DETACH, relaxed);
    atomic_store_explicit(&t->wait, NULL, relaxed);
    atomic_store_explicit(&t->vcpu, -1, relaxed);
    atomic_store_explicit(&t->migrate_to, -1, relaxed);
    t->ready_ns = 0;
    t->start_err = 0;
}

int vmrt_sched_spawn(vmrt_sched_t *s, vmrt_coro_t **out, const vmrt_coro_attr_t *attr,
                     vmrt_coro_fn fn, void *arg)
{
    if (!s || !fn || (attr && attr->size != sizeof *attr))
        return -EINVAL;
    if (atomic_load_explicit(&s->state, relaxed) >= S_STOPPING)
        return VMRT_ESTATE;
    vcpu_t *v = self_in(s);
    vmrt_coro_t *co;
    task_t *t;
    if (v && v->ncache) {
        co = v->cache[--v->ncache];
        t = co->sched_data;
        vmrt__coro_init(co, attr, fn, arg);
    } else {
        int err = vmrt_pool_get(s->pool, &co, attr, fn, arg);
        if (err == VMRT_ELIMIT && v && v->ncache == 0)
            return err;
        if (err)
            return err;
        t = co->userdata;
    }
    co->userdata = NULL;
    co->sched_data = t;
    co->sched = s;
    task_reset(t, out != NULL, T_POOLED | T_LIVE | T_OUT);
    if (v)
        atomic_store_explicit(&v->c.spawned, atomic_load_explicit(&v->c.spawned, relaxed) + 1,
                              relaxed);
    else
        atomic_fetch_add_explicit(&s->submitted, 1, relaxed);
    if (out)
        *out = co;
    vmrt__sched_ready(s, t, v);
    return 0;
}

int vmrt_sched_submit(vmrt_sched_t *s, vmrt_coro_t *co)
{
    if (!s || !co)
        return -EINVAL;
    if (co->sched || co->pool || vmrt_coro_state(co) != VMRT_CORO_READY)
        return VMRT_ESTATE;
    if (atomic_load(&s->state) >= S_STOPPING)
        return VMRT_ESTATE;
    task_t *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->co = co;
    t->s = s;
    task_reset(t, true, T_LIVE);
    co->sched = s;
    co->sched_data = t;
    vmrt__reg_add(s, t);
    atomic_fetch_add_explicit(&s->submitted, 1, relaxed);
    vmrt__sched_ready(s, t, self_in(s));
    return 0;
}

static void join_release(task_t *t)
{
    struct vmrt_sched *s = t->s;
    if (atomic_load(&t->flags) & T_POOLED)
        release_pooled(s, t, self_in(s));
    else
        free_submitted(s, t);
}

int vmrt_sched_join(vmrt_coro_t *co, void **result)
{
    if (!co || !co->sched_data)
        return -EINVAL;
    task_t *t = task_of(co);
    wait_t w;
    vmrt__wait_init(&w);
    wait_t *cur = NULL;
    if (!atomic_compare_exchange_strong(&t->joiner, &cur, &w)) {
        if (cur != JOIN_DONE)
            return -EINVAL; /* detached or already being joined */
    } else {
        if (!w.task && !atomic_load(&t->s->online_mask)) {
            /* a plain thread joining on a scheduler without vCPU threads
             * drives it itself */
            while (atomic_load_explicit(&w.state, acquire) != W_WOKEN)
                if (vmrt_sched_run_one(t->s) <= 0)
                    sched_yield();
        }
        int err = vmrt__park(&w, 0);
        if (err) { /* the joiner was cancelled */
            cur = &w;
            if (atomic_compare_exchange_strong(&t->joiner, &cur, NULL))
                return err;
            /* it finished meanwhile: the join completes */
        }
    }
    int err = t->start_err;
    if (result)
        *result = co->result;
    join_release(t);
    return err;
}

int vmrt_sched_detach(vmrt_coro_t *co)
{
    if (!co || !co->sched_data)
        return -EINVAL;
    task_t *t = task_of(co);
    wait_t *cur = NULL;
    if (atomic_compare_exchange_strong(&t->joiner, &cur, JOIN_DETACH))
        return 0;
    if (cur != JOIN_DONE)
        return -EINVAL;
    join_release(t);
    return 0;
}

/* ---- run_one ------------------------------------------------------------------------ */

int vmrt_sched_run_one(vmrt_sched_t *s)
{
    if (!s)
        return -EINVAL;
    if (vmrt_coro_self())
        return VMRT_ESTATE;
    pthread_mutex_lock(&s->embed_lock);
    vcpu_t *prev = vmrt__vcpu_self(), *v = s->embed;
    vmrt__vcpu_set_self(v);
    uint64_t now = vmrt_now_ns();
    if (!s->has_monitor)
        atomic_store_explicit(&s->coarse_now, now, relaxed);
    if (atomic_load_explicit(&v->timers.earliest, acquire) <= now)
        vmrt__timer_run(v, now);
    task_t *t = vmrt__vcpu_pick(v);
    for (int p = 0; !t && p < VMRT_PRIO_COUNT; p++)
        t = vmrt__steal(v, p, true);
    if (t)
        vmrt__vcpu_run(v, t);
    vmrt__vcpu_set_self(prev);
    pthread_mutex_unlock(&s->embed_lock);
    return t ? 1 : 0;
}

/* ---- cooperative operations ------------------------------------------------------------ */

static task_t *self_task(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    if (!v)
        return NULL;
    task_t *t = atomic_load_explicit(&v->current, relaxed);
    return t && t->co == vmrt_coro_self() ? t : NULL;
}

vmrt_sched_t *vmrt_sched_current(void)
{
    task_t *t = self_task();
    return t ? t->s : NULL;
}

void vmrt_yield(void)
{
    vcpu_t *v = vmrt__vcpu_self();
    if (!self_task()) {
        if (vmrt_coro_self())
            vmrt_coro_yield();
        else
            sched_yield();
        return;
    }
    v->take_oldest = true;
    vmrt__coro_yield_as(VMRT_CORO_READY);
}

int vmrt_sleep_ns(uint64_t ns)
{
    if (!self_task()) {
        struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                              .tv_nsec = (long)(ns % 1000000000u)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
        return 0;
    }
    if (!ns) {
        vmrt_yield();
        return vmrt_sched_cancelled() ? VMRT_ECANCELED : 0;
    }
    wait_t w;
    vmrt__wait_init(&w);
    int err = vmrt__park(&w, vmrt__deadline(ns));
    return err == VMRT_ETIMEOUT ? 0 : err;
}

int vmrt_sched_suspend(vmrt_coro_t *co)
{
    if (!co || !co->sched_data)
        return -EINVAL;
    task_t *t = task_of(co), *me = self_task();
    if (t == me) {
        wait_t *w = &t->susp;
        vmrt__wait_init(w);
        w->suspend = true;
        return vmrt__park(w, 0);
    }
    if (!(atomic_load(&t->flags) & T_LIVE))
        return VMRT_ESTATE;
    atomic_fetch_or(&t->flags, T_SUSPEND_REQ);
    int vi = atomic_load(&t->vcpu);
    struct vmrt_sched *s = t->s;
    if (vi >= 0 && vi < VMRT_SCHED_MAX_VCPUS && s->vcpus[vi] &&
        atomic_load(&s->vcpus[vi]->current) == t)
        vmrt__preempt_request(s->vcpus[vi]);
    return 0;
}

int vmrt_sched_resume(vmrt_coro_t *co)
{
    if (!co || !co->sched_data)
        return -EINVAL;
    task_t *t = task_of(co);
    spin_lock(&t->wait_lock);
    wait_t *w = atomic_load(&t->wait);
    bool ok = w == &t->susp && vmrt__wake(w, 0);
    spin_unlock(&t->wait_lock);
    if (ok)
        return 0;
    if (atomic_fetch_and(&t->flags, ~(uint32_t)T_SUSPEND_REQ) & T_SUSPEND_REQ)
        return 0;
    return VMRT_ESTATE;
}

int vmrt_sched_cancel(vmrt_coro_t *co)
{
    if (!co || !co->sched_data)
        return -EINVAL;
    task_t *t = task_of(co);
    atomic_fetch_or_explicit(&t->flags, T_CANCEL, seq_cst);
    spin_lock(&t->wait_lock);
    wait_t *w = atomic_load_explicit(&t->wait, relaxed);
    if (w)
        vmrt__wake(w, VMRT_ECANCELED);
    spin_unlock(&t->wait_lock);
    return 0;
}

bool vmrt_sched_cancelled(void)
{
    task_t *t = self_task();
    return t && (atomic_load_explicit(&t->flags, relaxed) & T_CANCEL);
}
