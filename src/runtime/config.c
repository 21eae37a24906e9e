/* Runtime configuration: one table of keys, three sources (JSON file,
 * environment, explicit settings), one parser per value type.
 *
 * Each key names a field of vmrt_runtime_config_t by offset and width, so
 * adding a setting is one table row. Sources are applied in order by the
 * caller (file, then environment, then flags); each later one overrides. */
#include <vmrt/runtime.h>

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"
#include "runtime/export.h"

extern char **environ;

typedef enum key_type {
    KT_UINT,     /* decimal, within [min, max] */
    KT_SIZE,     /* bytes with K/M/G/T suffix */
    KT_DURATION, /* ns/us/ms/s/m suffix; plain number = seconds */
    KT_BOOL,     /* true/false/1/0/yes/no/on/off */
    KT_DOUBLE,   /* decimal fraction, within [min, max] */
    KT_ENUM,     /* one of names[]; stored as int */
    KT_STRING,   /* copied into a char array of `width` bytes */
    KT_LISTEN,   /* KT_STRING holding "" or a loopback HOST:PORT */
} key_type_t;

typedef struct key {
    const char *name;
    key_type_t type;
    size_t offset;
    size_t width;             /* sizeof the field */
    double min, max;          /* KT_UINT/KT_DOUBLE/KT_SIZE/KT_DURATION bounds */
    const char *const *names; /* KT_ENUM: NULL-terminated, index = value */
    const char *help;
} key_t_;

#define F(field) offsetof(vmrt_runtime_config_t, field), sizeof(((vmrt_runtime_config_t *)0)->field)

static const char *const trigger_names[] = {"fixed", "adaptive", "pressure", "time", NULL};
static const char *const isolation_names[] = {"none", "process", "container", "full", NULL};
static const char *const net_names[] = {"default", "none", "loopback", "host", NULL};

static const key_t_ keys[] = {
    {"sched.vcpus", KT_UINT, F(sched.vcpus), 1, VMRT_SCHED_MAX_VCPUS, NULL,
     "vCPU threads (default: CPUs available, honouring cgroup quota and cpuset)"},
    {"sched.max_coroutines", KT_SIZE, F(sched.max_coroutines), 0, 1e12, NULL,
     "coroutines alive at once, 0 = unbounded"},
    {"sched.ready_queue_size", KT_UINT, F(sched.ready_queue_size), 16, 65536, NULL,
     "per-vCPU run queue capacity (power of two)"},
    {"sched.time_slice", KT_DURATION, F(sched.time_slice_ns), 1e5, 1e10, NULL,
     "time slice before a safepoint yields (100us..10s)"},
    {"sched.preemptive", KT_BOOL, F(sched.preemptive), 0, 0, NULL, "enforce time slices"},
    {"sched.starvation", KT_DURATION, F(sched.starvation_ns), 1e5, 1e11, NULL,
     "longest wait of a ready lower-priority coroutine"},
    {"sched.stack_size", KT_SIZE, F(sched.stack_size), VMRT_CORO_MIN_STACK, VMRT_CORO_MAX_STACK,
     NULL, "stack of each coroutine"},
    {"sched.pin_vcpus", KT_BOOL, F(sched.pin_vcpus), 0, 0, NULL, "pin vCPU threads to host CPUs"},
    {"sched.idle_spin_max", KT_DURATION, F(sched.idle_spin_max_ns), 0, 1e7, NULL,
     "longest adaptive spin of an idle vCPU before it parks (0..10ms, 0 = ~1us)"},
    {"gc.heap_max", KT_SIZE, F(gc.max_heap), 0, 1e15, NULL, "heap limit, 0 = none"},
    {"gc.trigger", KT_ENUM, F(gc.trigger), 0, 0, trigger_names,
     "fixed, adaptive, pressure or time"},
    {"gc.target", KT_UINT, F(gc.gogc), 1, 10000, NULL,
     "adaptive: heap growth over live data, percent (like GOGC)"},
    {"gc.threshold", KT_SIZE, F(gc.threshold_bytes), 4096, 1e15, NULL,
     "fixed: bytes allocated between cycles"},
    {"gc.interval", KT_DURATION, F(gc.interval_ns), 1e6, 3.6e12, NULL,
     "time: interval between cycles"},
    {"gc.pressure_ratio", KT_DOUBLE, F(gc.pressure_ratio), 0.05, 1.0, NULL,
     "pressure: collect above this share of the memory limit"},
    {"gc.incremental", KT_BOOL, F(gc.incremental), 0, 0, NULL, "mark in bounded steps"},
    {"gc.step_budget", KT_DURATION, F(gc.step_budget_ns), 1e4, 1e9, NULL,
     "incremental: time budget of one step"},
    {"gc.markers", KT_UINT, F(gc.markers), 0, 64, NULL, "marking threads, 0 = auto"},
    {"gc.compact", KT_BOOL, F(gc.compact), 0, 0, NULL, "evacuate sparse blocks"},
    {"gc.generational", KT_BOOL, F(gc.generational), 0, 0, NULL,
     "minor cycles over young objects (sticky mark bits, card barrier)"},
    {"gc.enabled", KT_BOOL, F(gc.enabled), 0, 0, NULL, "automatic collection"},
    {"gc.scan_coroutine_stacks", KT_BOOL, F(scan_coroutine_stacks), 0, 0, NULL,
     "scan coroutine stacks conservatively (referents are pinned)"},
    {"sandbox.isolation", KT_ENUM, F(sandbox.isolation_level), 0, 0, isolation_names,
     "none, process, container or full"},
    {"sandbox.net", KT_ENUM, F(sandbox.net), 0, 0, net_names, "none, loopback or host"},
    {"sandbox.seccomp", KT_STRING, F(seccomp_profile), 0, 0, NULL,
     "default, strict, none, or a Docker/OCI profile file"},
    {"sandbox.strict", KT_BOOL, F(sandbox.strict), 0, 0, NULL, "make every downgrade an error"},
    {"limits.memory", KT_SIZE, F(limits.max_memory), 0, 1e15, NULL, "memory limit"},
    {"limits.cpu_time", KT_DURATION, F(limits.max_cpu_time_ns), 0, 1e15, NULL, "CPU time limit"},
    {"limits.wall_time", KT_DURATION, F(limits.max_wall_time_ns), 0, 1e15, NULL,
     "wall-clock limit"},
    {"limits.cpus", KT_UINT, F(limits.vcpus), 0, 1024, NULL, "host CPUs (cpuset)"},
    {"limits.cpu_quota", KT_DOUBLE, F(limits.cpu_quota), 0, 4096, NULL,
     "CPUs' worth of time (1.5 = 150 ms per 100 ms), 0 = none"},
    {"limits.procs", KT_UINT, F(limits.max_processes), 0, 1e7, NULL, "processes/threads"},
    {"limits.files", KT_UINT, F(limits.max_open_files), 0, 1e7, NULL, "open files"},
    {"limits.file_size", KT_SIZE, F(limits.max_file_size), 0, 1e15, NULL, "largest file"},
    {"limits.disk_io", KT_SIZE, F(limits.max_disk_io), 0, 1e15, NULL, "bytes of disk I/O"},
    {"limits.net_bw", KT_SIZE, F(limits.max_network_bandwidth), 0, 1e15, NULL,
     "network bandwidth, bytes/s"},
    {"trace", KT_BOOL, F(trace), 0, 0, NULL, "print scheduler and GC events"},
    {"metrics_listen", KT_LISTEN, F(metrics_listen), 0, 0, NULL,
     "loopback HOST:PORT serving /metrics and /stats"},
};

#define N_KEYS (sizeof keys / sizeof keys[0])

void vmrt_runtime_config_init(vmrt_runtime_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->size = sizeof *cfg;
    vmrt_sched_config_init(&cfg->sched);
    vmrt_gc_config_init(&cfg->gc);
    vmrt_sandbox_config_init(&cfg->sandbox);
    vmrt_limits_init(&cfg->limits);
    cfg->sandbox.isolation_level = VMRT_ISOLATION_NONE;
    cfg->gc.trigger = VMRT_GC_TRIGGER_ADAPTIVE;
}

const char *vmrt_runtime_config_key(size_t i, const char **help)
{
    if (i >= N_KEYS)
        return NULL;
    if (help)
        *help = keys[i].help;
    return keys[i].name;
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static const key_t_ *find_key(const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(keys[i].name, name))
            return &keys[i];
    return NULL;
}

static void store_uint(void *field, size_t width, uint64_t v)
{
    switch (width) {
    case 1:
        *(uint8_t *)field = (uint8_t)v;
        break;
    case 2:
        *(uint16_t *)field = (uint16_t)v;
        break;
    case 4:
        *(uint32_t *)field = (uint32_t)v;
        break;
    default:
        *(uint64_t *)field = v;
        break;
    }
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static const char *type_hint(const key_t_ *k)
{
    switch (k->type) {
    case KT_UINT:
        return "a whole number";
    case KT_SIZE:
        return "a size (e.g. 4096, 64K, 512M, 2G)";
    case KT_DURATION:
        return "a duration (e.g. 500us, 10ms, 2s)";
    case KT_BOOL:
        return "true or false";
    case KT_DOUBLE:
        return "a number";
    case KT_ENUM:
        return "one of the listed names";
    case KT_STRING:
        return "a string";
    case KT_LISTEN:
        return "a loopback HOST:PORT";
    default:
        return "a value";
    }
}

static int apply(vmrt_runtime_config_t *cfg, const key_t_ *k, const char *value, const char *origin,
                 char *err, size_t errlen)
{
    void *field = (char *)cfg + k->offset;
    switch (k->type) {
    case KT_BOOL: {
        bool b;
        if (parse_bool(value, &b) != 0)
            return fail(err, errlen, -EINVAL, "%s: %s: '%s' is not true or false", origin, k->name,
                        value);
        *(bool *)field = b;
        return 0;
    }
    case KT_ENUM:
        for (int i = 0; k->names[i]; i++)
            if (!strcasecmp(value, k->names[i])) {
                *(int *)field = i;
                return 0;
            }
        {
            char list[128] = "";
            for (int i = 0; k->names[i]; i++) {
                strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, k->names[i], sizeof list - strlen(list) - 1);
            }
            return fail(err, errlen, -EINVAL, "%s: %s: '%s' is not one of %s", origin, k->name,
                        value, list);
        }
    case KT_LISTEN:
        if (*value) {
            struct sockaddr_storage ss;
            unsigned len;
            int rc = vmrt__parse_listen(value, &ss, &len);
            if (rc == -EADDRNOTAVAIL)
                return fail(err, errlen, -EINVAL,
                            "%s: %s: '%s' is not a loopback address (the endpoint serves "
                            "127.0.0.0/8 or [::1] only)",
                            origin, k->name, value);
            if (rc)
                return fail(err, errlen, -EINVAL,
                            "%s: %s: '%s' is not HOST:PORT (e.g. 127.0.0.1:9100, [::1]:0, "
                            "localhost:9100; port 0..65535)",
                            origin, k->name, value);
        }
        /* fall through */
    case KT_STRING:
        if (strlen(value) >= k->width)
            return fail(err, errlen, -EINVAL, "%s: %s: longer than %zu bytes", origin, k->name,
                        k->width - 1);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case KT_UINT:
    case KT_SIZE:
    case KT_DURATION:
    case KT_DOUBLE: {
        double v;
        if (vmrt__parse_scaled(value,
                               k->type == KT_SIZE       ? VMRT__UNIT_SIZE
                               : k->type == KT_DURATION ? VMRT__UNIT_DURATION
                                                        : VMRT__UNIT_NONE,
                               &v) != 0 ||
            (k->type == KT_UINT && v != floor(v)))
            return fail(err, errlen, -EINVAL, "%s: %s: '%s' is not %s", origin, k->name, value,
                        type_hint(k));
        if (v < k->min || v > k->max)
            return fail(err, errlen, -EINVAL, "%s: %s: %s is out of range [%.15g, %.15g]", origin,
                        k->name, value, k->min, k->max);
        if (k->type == KT_DOUBLE)
            *(double *)field = v;
        else
            store_uint(field, k->width, (uint64_t)v);
        return 0;
    }
    default:
        return fail(err, errlen, -EINVAL, "%s: %s: unsupported type", origin, k->name);
    }
}

/* An unknown key is quoted up to this many bytes, so that the message keeps
 * its source and the rest of the message whatever the key's length. */
#define KEY_SHOWN 64

int vmrt_runtime_config_set(vmrt_runtime_config_t *cfg, const char *key, const char *value,
                            const char *origin, char *err, size_t errlen)
{
    if (!cfg || !key || !value)
        return fail(err, errlen, -EINVAL, "%s: missing key or value", origin ? origin : "config");
    const key_t_ *k = find_key(key);
    if (!k)
        return fail(err, errlen, -ENOENT, "%s: unknown key '%.*s%s'", origin ? origin : "config",
                    KEY_SHOWN, key, strlen(key) > KEY_SHOWN ? "..." : "");
    return apply(cfg, k, value, origin ? origin : key, err, errlen);
}

/* JSON values are converted to the string forms apply() parses, so the
 * rules (ranges, suffixes) are the same in every source. */
static int apply_json(vmrt_runtime_config_t *cfg, const char *path, const char *prefix, json_t *obj,
                      char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v)
    {
        char key[128];
        snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", name);
        if (json_is_object(v)) {
            int rc = apply_json(cfg, path, key, v, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        const key_t_ *k = find_key(key);
        if (!k)
            return fail(err, errlen, -EINVAL, "%s: unknown key '%s'", path, key);
        char buf[300];
        switch (json_typeof(v)) {
        case JSON_STRING:
            snprintf(buf, sizeof buf, "%s", json_string_value(v));
            break;
        case JSON_INTEGER:
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            break;
        case JSON_REAL:
            snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
            break;
        case JSON_TRUE:
        case JSON_FALSE:
            snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
            break;
        case JSON_NULL:
        case JSON_ARRAY:
        case JSON_OBJECT:
        default:
            return fail(err, errlen, -EINVAL, "%s: %s: expected %s", path, key, type_hint(k));
        }
        if (json_is_integer(v) && json_integer_value(v) < 0)
            return fail(err, errlen, -EINVAL, "%s: %s: negative values are not allowed", path, key);
        int rc = apply(cfg, k, buf, path, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static int load_json(vmrt_runtime_config_t *cfg, const char *path, json_t *root, json_error_t *je,
                     char *err, size_t errlen);

/* The same as load_file for a document in memory (name is used in messages).
 * Internal: the fuzz target drives it. */
int vmrt__runtime_config_load_buffer(vmrt_runtime_config_t *cfg, const char *name, const char *data,
                                     size_t len, char *err, size_t errlen);
int vmrt__runtime_config_load_buffer(vmrt_runtime_config_t *cfg, const char *name, const char *data,
                                     size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    return load_json(cfg, name, root, &je, err, errlen);
}

int vmrt_runtime_config_load_file(vmrt_runtime_config_t *cfg, const char *path, char *err,
                                  size_t errlen)
{
    if (!cfg || !path)
        return fail(err, errlen, -EINVAL, "config: no file given");
    json_error_t je;
    errno = 0;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    return load_json(cfg, path, root, &je, err, errlen);
}

static int load_json(vmrt_runtime_config_t *cfg, const char *path, json_t *root, json_error_t *jerr,
                     char *err, size_t errlen)
{
    json_error_t je = *jerr;
    if (!root) {
        if (je.line <= 0) {
            int e = errno ? errno : EINVAL;
            return fail(err, errlen, -e, "%s: %s", path, je.text);
        }
        return fail(err, errlen, -EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    }
    int rc;
    vmrt_runtime_config_t tmp = *cfg; /* all or nothing */
    if (!json_is_object(root))
        rc = fail(err, errlen, -EINVAL, "%s:1:1: the configuration must be a JSON object", path);
    else
        rc = apply_json(&tmp, path, "", root, err, errlen);
    json_decref(root);
    if (!rc)
        *cfg = tmp;
    return rc;
}

int vmrt_runtime_config_load_env(vmrt_runtime_config_t *cfg, char *const *envp, char *err,
                                 size_t errlen)
{
    if (!envp)
        envp = environ;
    vmrt_runtime_config_t tmp = *cfg; /* all or nothing */
    for (size_t i = 0; i < N_KEYS; i++) {
        char var[96] = "VMRT_";
        size_t n = 5;
        for (const char *p = keys[i].name; *p && n + 1 < sizeof var; p++)
            var[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        var[n] = '\0';
        for (char *const *e = envp; *e; e++) {
            if (strncmp(*e, var, n) || (*e)[n] != '=')
                continue;
            int rc = apply(&tmp, &keys[i], *e + n + 1, var, err, errlen);
            if (rc)
                return rc;
        }
    }
    *cfg = tmp;
    return 0;
}
