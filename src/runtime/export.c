/* JSON snapshot -> Prometheus text exposition format.
 *
 * The runtime builds one JSON snapshot of every component's statistics
 * (runtime.c); this file flattens it so that the same data can be scraped.
 * The mapping is mechanical (see export.h) so that a new statistic needs no
 * change here. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "runtime/export.h"

#define NAME_MAX_LEN   160
#define LABELS_MAX_LEN 160

static void append_name(char *dst, size_t cap, const char *prefix, const char *key)
{
    size_t n = (size_t)snprintf(dst, cap, "%s_", prefix);
    for (const char *k = key; *k && n + 1 < cap; k++)
        dst[n++] = isalnum((unsigned char)*k) ? (char)tolower((unsigned char)*k) : '_';
    dst[n < cap ? n : cap - 1] = '\0';
}

static void emit(FILE *out, const char *name, const char *labels, double v, json_t *typed)
{
    /* One TYPE line per metric family. */
    if (!json_object_get(typed, name)) {
        size_t len = strlen(name);
        bool counter = len > 6 && !strcmp(name + len - 6, "_total");
        fprintf(out, "# TYPE %s %s\n", name, counter ? "counter" : "gauge");
        json_object_set_new(typed, name, json_true());
    }
    if (labels[0])
        fprintf(out, "%s{%s} %.17g\n", name, labels, v);
    else
        fprintf(out, "%s %.17g\n", name, v);
}

static void walk(json_t *obj, const char *prefix, const char *labels, FILE *out, json_t *typed);

static void walk_value(const char *name, json_t *v, const char *labels, FILE *out, json_t *typed)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        emit(out, name, labels, (double)json_integer_value(v), typed);
        break;
    case JSON_REAL:
        emit(out, name, labels, json_real_value(v), typed);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        emit(out, name, labels, json_is_true(v) ? 1 : 0, typed);
        break;
    case JSON_OBJECT:
        walk(v, name, labels, out, typed);
        break;
    case JSON_ARRAY: {
        /* label name: the key (last path component) less a trailing 's' */
        const char *key = strrchr(name, '_');
        char label[64] = {0};
        const char *src = key ? key + 1 : name;
        size_t ll = strnlen(src, sizeof label - 1);
        memcpy(label, src, ll);
        if (ll > 1 && label[ll - 1] == 's')
            label[ll - 1] = '\0';
        size_t i;
        json_t *el;
        json_array_foreach(v, i, el)
        {
            if (!json_is_object(el))
                continue;
            json_t *id = json_object_get(el, "id");
            char idbuf[32];
            if (json_is_integer(id))
                snprintf(idbuf, sizeof idbuf, "%lld", (long long)json_integer_value(id));
            else if (json_is_string(id))
                snprintf(idbuf, sizeof idbuf, "%s", json_string_value(id));
            else
                snprintf(idbuf, sizeof idbuf, "%zu", i);
            char sub[LABELS_MAX_LEN];
            snprintf(sub, sizeof sub, "%s%s%s=\"%s\"", labels, labels[0] ? "," : "", label, idbuf);
            walk(el, name, sub, out, typed);
        }
        break;
    }
    case JSON_STRING:
    case JSON_NULL:
    default:
        break;
    }
}

static void walk(json_t *obj, const char *prefix, const char *labels, FILE *out, json_t *typed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!strcmp(key, "id"))
            continue;
        char name[NAME_MAX_LEN];
        append_name(name, sizeof name, prefix, key);
        walk_value(name, v, labels, out, typed);
    }
}

int vmrt__export_prometheus(json_t *snapshot, FILE *out)
{
    if (!json_is_object(snapshot) || !out)
        return -EINVAL;
    json_t *typed = json_object();
    if (!typed)
        return -ENOMEM;
    walk(snapshot, "vmrt", "", out, typed);
    json_decref(typed);
    return ferror(out) ? -EIO : 0;
}
