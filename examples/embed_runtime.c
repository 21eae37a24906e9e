/* Embedding vmrt: a producer/consumer pair of coroutines on the M:N
 * scheduler, exchanging GC-allocated lists over a channel, with the runtime's
 * statistics at the end. docs/guide.md walks through it.
 *
 * Build against an installed vmrt:
 *     cc embed_runtime.c $(pkg-config --cflags --libs vmrt)
 */
#include <stdio.h>
#include <stdlib.h>

#include <vmrt/vmrt.h>
#include <vmrt/sync.h>

/* A heap object: a cons cell. Word 0 (next) is a reference. */
typedef struct cell {
    struct cell *next;
    long value;
} cell_t;

static const vmrt_gc_type_t cell_type = {.name = "cell", .size = sizeof(cell_t), .ref_map = 1};

typedef struct app {
    vmrt_runtime_t *rt;
    vmrt_chan_t *lists; /* carries the index of a rooted slot */
    void *slots[4];     /* global roots: lists in flight */
    long total;
} app_t;

/* Builds lists of n cells and hands them over through a rooted slot. */
static void *producer(void *arg)
{
    app_t *app = arg;
    for (long round = 0; round < 100; round++) {
        int slot = (int)(round % 4);
        for (long i = 1; i <= 50; i++) {
            /* The mutator belongs to the OS thread: fetch it again after any
             * call that may yield (channel operations do). */
            vmrt_gc_mutator_t *m = vmrt_runtime_mutator(app->rt);
            cell_t *c = vmrt_gc_alloc(m, &cell_type);
            if (!c)
                return (void *)1;
            c->value = i;
            vmrt_gc_write(m, c, &c->next, app->slots[slot]); /* barrier: a pointer store */
            app->slots[slot] = c;
        }
        if (vmrt_chan_send(app->lists, &slot, 0) != 0)
            return (void *)1;
    }
    vmrt_chan_close(app->lists);
    return NULL;
}

static void *consumer(void *arg)
{
    app_t *app = arg;
    int slot;
    while (vmrt_chan_recv(app->lists, &slot, 0) == 0) {
        for (cell_t *c = app->slots[slot]; c; c = c->next)
            app->total += c->value;
        app->slots[slot] = NULL; /* the list is garbage now */
        vmrt_gc_safepoint(vmrt_runtime_mutator(app->rt));
    }
    return NULL;
}

int main(void)
{
    vmrt_runtime_config_t cfg;
    vmrt_runtime_config_init(&cfg);
    char err[256];
    /* Settings by key, as the CLI, a JSON file or VMRT_* variables would. */
    if (vmrt_runtime_config_set(&cfg, "sched.vcpus", "2", "example", err, sizeof err) ||
        vmrt_runtime_config_set(&cfg, "gc.trigger", "fixed", "example", err, sizeof err) ||
        vmrt_runtime_config_set(&cfg, "gc.threshold", "64K", "example", err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    app_t app = {0};
    int rc = vmrt_runtime_new(&app.rt, &cfg);
    if (!rc)
        rc = vmrt_runtime_start(app.rt);
    if (rc) {
        fprintf(stderr, "runtime: %s\n", vmrt_strerror(rc));
        return 1;
    }
    for (int i = 0; i < 4; i++)
        vmrt_gc_root_add(vmrt_runtime_gc(app.rt), &app.slots[i]);
    vmrt_chan_new(&app.lists, sizeof(int), 0);

    vmrt_coro_t *p, *c;
    vmrt_coro_attr_t attr;
    vmrt_coro_attr_init(&attr);
    attr.name = "producer";
    vmrt_runtime_spawn(app.rt, &p, &attr, producer, &app);
    attr.name = "consumer";
    vmrt_runtime_spawn(app.rt, &c, &attr, consumer, &app);
    void *failed = NULL;
    vmrt_sched_join(p, &failed);
    vmrt_sched_join(c, NULL);

    printf("total = %ld (expected %ld)\n", app.total, 100L * 50 * 51 / 2);
    vmrt_gc_stats_t gs;
    vmrt_gc_stats(vmrt_runtime_gc(app.rt), &gs);
    printf("gc cycles: %s\n", gs.gc_count > 0 ? "some" : "none");
    vmrt_runtime_stats_print(app.rt, stderr);
    vmrt_chan_destroy(app.lists);
    vmrt_runtime_shutdown(app.rt, 0);
    vmrt_runtime_destroy(app.rt);
    return failed || app.total != 100L * 50 * 51 / 2;
}
