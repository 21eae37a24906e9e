/* vmrt — common definitions: errors, version, visibility.
 *
 * Every library function that can fail returns a negative int: either a
 * negated errno value (-ENOMEM, -EINVAL, ...) or one of the VMRT_E* codes
 * below, which lie outside the errno range. vmrt_strerror() names both.
 */
#ifndef VMRT_COMMON_H
#define VMRT_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VMRT_BUILDING) && defined(__GNUC__)
#define VMRT_API __attribute__((visibility("default")))
#else
#define VMRT_API
#endif

#define VMRT_VERSION_MAJOR 0
#define VMRT_VERSION_MINOR 1
#define VMRT_VERSION_PATCH 0

/* vmrt-specific error codes (negative, below the errno range). */
#define VMRT_ERRNO_MAP(X)                                                                          \
    X(STATE, -4001, "operation not valid in the object's current state")                           \
    X(CANCELED, -4002, "coroutine was cancelled")                                                  \
    X(TIMEOUT, -4003, "timed out")                                                                 \
    X(CLOSED, -4004, "channel closed")                                                             \
    X(LIMIT, -4005, "configured limit reached")                                                    \
    X(UNSUPPORTED, -4006, "not supported on this host")                                            \
    X(DEADLOCK, -4007, "deadlock: every coroutine is blocked")

enum {
#define VMRT_ERR_ENUM(name, value, text) VMRT_E##name = value,
    VMRT_ERRNO_MAP(VMRT_ERR_ENUM)
#undef VMRT_ERR_ENUM
};

/* A static, human-readable description of err (negative errno or VMRT_E*). */
VMRT_API const char *vmrt_strerror(int err);

/* The library version as "MAJOR.MINOR.PATCH". */
VMRT_API const char *vmrt_version(void);

/* "64K", "1.5G", "512MiB", "4096": bytes (binary multiples). "10ms", "500us",
 * "2s", "1.5" (seconds), "2m": nanoseconds. -EINVAL if malformed or negative,
 * -ERANGE past 2^64. The CLI, JSON configuration and VMRT_* all use these. */
VMRT_API int vmrt_parse_size(const char *s, uint64_t *out);
VMRT_API int vmrt_parse_duration(const char *s, uint64_t *out_ns);

/* Nanoseconds on CLOCK_MONOTONIC. */
VMRT_API uint64_t vmrt_now_ns(void);

#ifdef __cplusplus
}
#endif
#endif
