/* The opcode table (see opcodes.h). */
#include <stddef.h>

#include "guest/opcodes.h"

const vg_opinfo vg_opinfo_table[VG_OP_COUNT] = {
#define VG_OPINFO(name, mn, ops, types, res) {mn, ops, types, res, #name},
    VG_OPCODES(VG_OPINFO)
#undef VG_OPINFO
};
