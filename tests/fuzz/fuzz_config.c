/* libFuzzer target: the runtime configuration loader on arbitrary bytes.
 *
 * The input is split at the first NUL: the part before is a JSON document
 * for the file loader, the part after is "key=value" lines for
 * vmrt_runtime_config_set (the path of CLI flags and VMRT_* variables).
 * Checked beyond "no crash, no leak, no hang":
 *   - a rejected document gives a message naming the source ("fuzz.json...")
 *     and leaves the configuration exactly as it was;
 *   - a rejected setting gives a message naming its key;
 *   - whatever was accepted keeps every bounded field in its range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmrt/runtime.h>

int vmrt__runtime_config_load_buffer(vmrt_runtime_config_t *cfg, const char *name, const char *data,
                                     size_t len, char *err, size_t errlen);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ranges(const vmrt_runtime_config_t *c)
{
    if (c->sched.vcpus < 1 || c->sched.vcpus > VMRT_SCHED_MAX_VCPUS ||
        c->gc.trigger > VMRT_GC_TRIGGER_TIME_BASED ||
        c->sandbox.isolation_level > VMRT_ISOLATION_FULL || c->gc.pressure_ratio > 1.0 ||
        c->metrics_listen[sizeof c->metrics_listen - 1] != '\0' ||
        c->seccomp_profile[sizeof c->seccomp_profile - 1] != '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    size_t json_len = strnlen(text, size);
    vmrt_runtime_config_t cfg, before;
    vmrt_runtime_config_init(&cfg);
    memcpy(&before, &cfg, sizeof cfg);
    char err[512] = "";
    if (vmrt__runtime_config_load_buffer(&cfg, "fuzz.json", text, json_len, err, sizeof err)) {
        if (strncmp(err, "fuzz.json", 9) != 0 || memcmp(&cfg, &before, sizeof cfg) != 0)
            abort();
    }
    check_ranges(&cfg);
    if (json_len < size) {
        char *lines = strndup(text + json_len + 1, size - json_len - 1);
        if (!lines)
            return 0;
        for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l;
             l = strtok_r(NULL, "\n", &save)) {
            char *eq = strchr(l, '=');
            if (!eq)
                continue;
            *eq = '\0';
            err[0] = '\0';
            char shown[65]; /* the message quotes at most 64 bytes of the key */
            snprintf(shown, sizeof shown, "%s", l);
            if (vmrt_runtime_config_set(&cfg, l, eq + 1, "--flag", err, sizeof err) &&
                !strstr(err, shown))
                abort();
            check_ranges(&cfg);
        }
        free(lines);
    }
    return 0;
}
