/* Guest values and heap objects of the reference guest engine.
 *
 * A value (vg_value) is one machine word, tagged in its low bit:
 *   - low bit 1: a 63-bit signed integer (value >> 1); arithmetic wraps at 63 bits;
 *   - 0: nil;
 *   - otherwise: a pointer to a heap object (8-byte aligned, so the low bit is 0).
 * The tag is what makes the roots precise: a collector can tell every pointer
 * from every integer without guessing.
 *
 * Heap objects start with a vg_obj header (kind + length) written by the
 * engine; their memory comes from the host adapter (host.h), which decides
 * where it lives and whether it moves. Records and arrays hold `len` values
 * (traced), byte strings hold `len` raw bytes (not traced), a channel holds
 * the adapter's opaque channel pointer (not a value; the adapter roots what
 * the channel buffers).
 *
 * [VG-MOVE] Any call that may allocate, reach a safepoint or block may move
 * objects: C code must not keep a raw object pointer in a local across such a
 * call; it reloads it from a rooted slot (a register of the guest thread, or
 * a value the host adapter holds as a root).
 */
#ifndef VMRT_GUEST_VALUE_H
#define VMRT_GUEST_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t vg_value;

#define VG_NIL ((vg_value)0)

typedef enum vg_kind {
    VG_KIND_RECORD = 1, /* fixed number of value fields */
    VG_KIND_ARRAY,      /* variable number of value slots */
    VG_KIND_BYTES,      /* mutable byte string */
    VG_KIND_CHAN,       /* channel: wraps the adapter's channel */
} vg_kind;

typedef struct vg_obj {
    uint32_t kind; /* vg_kind */
    uint32_t len;  /* fields/slots/bytes; unused for channels */
} vg_obj;

/* Maximum elements in one array or bytes object (keeps sizes in 32 bits). */
#define VG_MAX_LEN (1u << 28)

static inline bool vg_is_int(vg_value v)
{
    return (v & 1u) != 0;
}

static inline bool vg_is_obj(vg_value v)
{
    return v != VG_NIL && (v & 1u) == 0;
}

static inline int64_t vg_int(vg_value v)
{
    return (int64_t)v >> 1; /* arithmetic shift on every compiler we support */
}

static inline vg_value vg_from_int(int64_t i)
{
    return ((uint64_t)i << 1) | 1u;
}

static inline vg_obj *vg_obj_of(vg_value v)
{
    return (vg_obj *)(uintptr_t)v;
}

static inline vg_value vg_from_obj(const vg_obj *o)
{
    return (vg_value)(uintptr_t)o;
}

/* Value slots of a record or array (traced by the collector). */
static inline vg_value *vg_slots(vg_obj *o)
{
    return (vg_value *)(o + 1);
}

/* Heap slots are shared between guest threads running on different vCPUs;
 * a racy guest program must not be undefined behaviour of the host. Slot
 * loads and stores are relaxed atomics (plain word moves on x86-64 and
 * AArch64): a racing reader sees either value, never a torn one. */
static inline vg_value vg_slot_load(const vg_value *slot)
{
    return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

static inline void vg_slot_store(vg_value *slot, vg_value v)
{
    __atomic_store_n(slot, v, __ATOMIC_RELAXED);
}

static inline uint8_t *vg_bytes(vg_obj *o)
{
    return (uint8_t *)(o + 1);
}

/* Payload size in bytes of an object of the given kind and length. */
static inline size_t vg_payload_size(vg_kind kind, uint32_t len)
{
    switch (kind) {
    case VG_KIND_RECORD:
    case VG_KIND_ARRAY:
        return (size_t)len * sizeof(vg_value);
    case VG_KIND_BYTES:
        return ((size_t)len + 7u) & ~(size_t)7u;
    case VG_KIND_CHAN:
        return sizeof(void *);
    default:
        return 0;
    }
}

/* Whether the collector must trace the slots of an object of this kind. */
static inline bool vg_kind_has_slots(vg_kind kind)
{
    return kind == VG_KIND_RECORD || kind == VG_KIND_ARRAY;
}

/* A name for messages: "int", "nil", "record", "array", "bytes", "channel". */
const char *vg_type_name(vg_value v);

#endif
