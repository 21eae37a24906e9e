/* Error strings, version, clock. */
#include <vmrt/common.h>

#include <string.h>
#include <time.h>

#include "vmrt_config.h"

const char *vmrt_strerror(int err)
{
    switch (err) {
#define VMRT_ERR_CASE(name, value, text)                                                           \
    case VMRT_E##name:                                                                             \
        return text;
        VMRT_ERRNO_MAP(VMRT_ERR_CASE)
#undef VMRT_ERR_CASE
    default:
        break;
    }
    if (err < 0 && err > -4000)
        return strerror(-err);
    return err == 0 ? "success" : "unknown error";
}

const char *vmrt_version(void)
{
    return VMRT_VERSION;
}

uint64_t vmrt_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
