/* Sizes and durations as users write them: "64K", "1.5G", "10ms", "2s".
 * One parser for the CLI flags, the JSON configuration and VMRT_* variables. */
#include <vmrt/common.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/units.h"

int vmrt__parse_scaled(const char *s, vmrt__unit_t unit, double *out)
{
    if (!*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    double mult = 1;
    if (unit == VMRT__UNIT_SIZE) {
        const char *u = end;
        if (*u) {
            switch (*u) {
            case 'k':
            case 'K':
                mult = 1024.0;
                break;
            case 'm':
            case 'M':
                mult = 1024.0 * 1024;
                break;
            case 'g':
            case 'G':
                mult = 1024.0 * 1024 * 1024;
                break;
            case 't':
            case 'T':
                mult = 1024.0 * 1024 * 1024 * 1024;
                break;
            default:
                return -1;
            }
            u++;
            if (*u == 'i')
                u++;
            if (*u == 'B' || *u == 'b')
                u++;
            if (*u)
                return -1;
        }
    } else if (unit == VMRT__UNIT_DURATION) {
        if (!*end || !strcmp(end, "s"))
            mult = 1e9;
        else if (!strcmp(end, "ns"))
            mult = 1;
        else if (!strcmp(end, "us"))
            mult = 1e3;
        else if (!strcmp(end, "ms"))
            mult = 1e6;
        else if (!strcmp(end, "m"))
            mult = 60e9;
        else
            return -1;
    } else if (*end) {
        return -1;
    }
    *out = v * mult;
    return 0;
}

static int to_u64(const char *s, vmrt__unit_t unit, uint64_t *out)
{
    double v;
    if (!s || !out || vmrt__parse_scaled(s, unit, &v) != 0)
        return -EINVAL;
    if (v >= 18446744073709551616.0)
        return -ERANGE;
    *out = (uint64_t)v;
    return 0;
}

int vmrt_parse_size(const char *s, uint64_t *out)
{
    return to_u64(s, VMRT__UNIT_SIZE, out);
}

int vmrt_parse_duration(const char *s, uint64_t *out_ns)
{
    return to_u64(s, VMRT__UNIT_DURATION, out_ns);
}
