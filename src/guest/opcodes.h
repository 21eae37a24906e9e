/* The instruction set of the reference guest engine, as one X-macro table.
 *
 * X(NAME, mnemonic, operands, types, result)
 *   operands  one letter per operand, as written in assembly:
 *               d  destination register (written)
 *               r  source register (read)
 *               i  integer literal or integer .const
 *               s  string literal or string .const
 *               l  label in the same function
 *               f  function name
 *               *  zero or more further source registers (last only)
 *   types     one letter per operand: the types the verifier accepts in that
 *             source register ('-' for non-register operands and destinations):
 *               x any, i int, b bytes, a array, r record, c channel,
 *               l array or bytes, t thread id (int)
 *   result    type of the destination register(s): x any, i int, b bytes,
 *             a array, r record, c channel, n nil, = same as the first source
 *
 * Several entries may share a mnemonic: the assembler picks the first whose
 * operand count fits ("ret" and "ret r"). Entries whose mnemonic is NULL are
 * superinstructions produced only by the translation tier (jit.c).
 * docs/guest.md describes every instruction.
 */
#ifndef VMRT_GUEST_OPCODES_H
#define VMRT_GUEST_OPCODES_H

#define VG_OPCODES(X)                                                                              \
    X(NOP, "nop", "", "", '-')                                                                     \
    X(CONST, "const", "di", "--", 'i')                                                             \
    X(MOV, "mov", "dr", "-x", '=')                                                                 \
    X(NIL, "nil", "d", "-", 'n')                                                                   \
    X(ADD, "add", "drr", "-ii", 'i')                                                               \
    X(SUB, "sub", "drr", "-ii", 'i')                                                               \
    X(MUL, "mul", "drr", "-ii", 'i')                                                               \
    X(DIV, "div", "drr", "-ii", 'i')                                                               \
    X(MOD, "mod", "drr", "-ii", 'i')                                                               \
    X(AND, "and", "drr", "-ii", 'i')                                                               \
    X(OR, "or", "drr", "-ii", 'i')                                                                 \
    X(XOR, "xor", "drr", "-ii", 'i')                                                               \
    X(SHL, "shl", "drr", "-ii", 'i')                                                               \
    X(SHR, "shr", "drr", "-ii", 'i')                                                               \
    X(ADDI, "addi", "dri", "-i-", 'i')                                                             \
    X(NEG, "neg", "dr", "-i", 'i')                                                                 \
    X(NOT, "not", "dr", "-x", 'i')                                                                 \
    X(EQ, "eq", "drr", "-xx", 'i')                                                                 \
    X(NE, "ne", "drr", "-xx", 'i')                                                                 \
    X(LT, "lt", "drr", "-ii", 'i')                                                                 \
    X(LE, "le", "drr", "-ii", 'i')                                                                 \
    X(GT, "gt", "drr", "-ii", 'i')                                                                 \
    X(GE, "ge", "drr", "-ii", 'i')                                                                 \
    X(JMP, "jmp", "l", "-", '-')                                                                   \
    X(JZ, "jz", "rl", "x-", '-')                                                                   \
    X(JNZ, "jnz", "rl", "x-", '-')                                                                 \
    X(CALL, "call", "df*", "--", 'x')                                                              \
    X(RET, "ret", "r", "x", '-')                                                                   \
    X(RET0, "ret", "", "", '-')                                                                    \
    X(PRINT, "print", "r", "x", '-')                                                               \
    X(PRINTLN, "println", "r", "x", '-')                                                           \
    X(PUTS, "puts", "s", "-", '-')                                                                 \
    X(FAIL, "fail", "s", "-", '-')                                                                 \
    X(TYPE, "type", "dr", "-x", 'i')                                                               \
    X(REC, "rec", "di", "--", 'r')                                                                 \
    X(GETF, "getf", "dri", "-r-", 'x')                                                             \
    X(SETF, "setf", "rir", "r-x", '-')                                                             \
    X(ARR, "arr", "dr", "-i", 'a')                                                                 \
    X(AGET, "aget", "drr", "-ai", 'x')                                                             \
    X(ASET, "aset", "rrr", "aix", '-')                                                             \
    X(LEN, "len", "dr", "-l", 'i')                                                                 \
    X(BYTES, "bytes", "dr", "-i", 'b')                                                             \
    X(BGET, "bget", "drr", "-bi", 'i')                                                             \
    X(BSET, "bset", "rrr", "bii", '-')                                                             \
    X(STR, "str", "ds", "--", 'b')                                                                 \
    X(CAT, "cat", "drr", "-bb", 'b')                                                               \
    X(ITOS, "itos", "dr", "-i", 'b')                                                               \
    X(BEQ, "beq", "drr", "-bb", 'i')                                                               \
    X(SLICE, "slice", "drr", "-bi", 'b')                                                           \
    X(SPAWN, "spawn", "df*", "--", 'i')                                                            \
    X(JOIN, "join", "dr", "-t", 'x')                                                               \
    X(YIELD, "yield", "", "", '-')                                                                 \
    X(SLEEP, "sleep", "r", "i", '-')                                                               \
    X(SELF, "self", "d", "-", 'i')                                                                 \
    X(PRIO, "prio", "r", "i", '-')                                                                 \
    X(CHAN, "chan", "dr", "-i", 'c')                                                               \
    X(SEND, "send", "rr", "cx", '-')                                                               \
    X(RECV, "recv", "dr", "-c", 'x')                                                               \
    X(CLOSE, "close", "r", "c", '-')                                                               \
    X(SELECT, "select", "ddr*", "--i", 'x')                                                        \
    X(OPEN, "open", "drr", "-bi", 'i')                                                             \
    X(READ, "read", "drr", "-ib", 'i')                                                             \
    X(WRITE, "write", "drr", "-ib", 'i')                                                           \
    X(CLOSEFD, "closefd", "r", "i", '-')                                                           \
    X(LISTEN, "listen", "dr", "-i", 'i')                                                           \
    X(PORT, "port", "dr", "-i", 'i')                                                               \
    X(ACCEPT, "accept", "dr", "-i", 'i')                                                           \
    X(CONNECT, "connect", "dr", "-i", 'i')                                                         \
    X(ARGC, "argc", "d", "-", 'i')                                                                 \
    X(ARG, "arg", "drr", "-ii", 'i')                                                               \
    X(TIME, "time", "d", "-", 'i')                                                                 \
    /* translation tier only: compare + branch (the compare's destination is                       \
     * still written), const + compare + branch (K also written, target in                         \
     * k2), arithmetic + jump, mov + ret */                                                        \
    X(JLT, NULL, "drrl", "-ii-", 'i')                                                              \
    X(JLE, NULL, "drrl", "-ii-", 'i')                                                              \
    X(JGT, NULL, "drrl", "-ii-", 'i')                                                              \
    X(JGE, NULL, "drrl", "-ii-", 'i')                                                              \
    X(JEQ, NULL, "drrl", "-xx-", 'i')                                                              \
    X(JNE, NULL, "drrl", "-xx-", 'i')                                                              \
    X(JNLT, NULL, "drrl", "-ii-", 'i')                                                             \
    X(JNLE, NULL, "drrl", "-ii-", 'i')                                                             \
    X(JNGT, NULL, "drrl", "-ii-", 'i')                                                             \
    X(JNGE, NULL, "drrl", "-ii-", 'i')                                                             \
    X(JNEQ, NULL, "drrl", "-xx-", 'i')                                                             \
    X(JNNE, NULL, "drrl", "-xx-", 'i')                                                             \
    X(JLTK, NULL, "drril", "-i---", 'i')                                                           \
    X(JLEK, NULL, "drril", "-i---", 'i')                                                           \
    X(JGTK, NULL, "drril", "-i---", 'i')                                                           \
    X(JGEK, NULL, "drril", "-i---", 'i')                                                           \
    X(JEQK, NULL, "drril", "-x---", 'i')                                                           \
    X(JNEK, NULL, "drril", "-x---", 'i')                                                           \
    X(JNLTK, NULL, "drril", "-i---", 'i')                                                          \
    X(JNLEK, NULL, "drril", "-i---", 'i')                                                          \
    X(JNGTK, NULL, "drril", "-i---", 'i')                                                          \
    X(JNGEK, NULL, "drril", "-i---", 'i')                                                          \
    X(JNEQK, NULL, "drril", "-x---", 'i')                                                          \
    X(JNNEK, NULL, "drril", "-x---", 'i')                                                          \
    X(ADD_JMP, NULL, "drrl", "-ii-", 'i')                                                          \
    X(SUB_JMP, NULL, "drrl", "-ii-", 'i')                                                          \
    X(SHR_JMP, NULL, "drrl", "-ii-", 'i')                                                          \
    X(ADDI_JMP, NULL, "dril", "-i--", 'i')                                                         \
    X(MOV_RET, NULL, "dr", "-x", '-')

typedef enum vg_opcode {
#define VG_OP_ENUM(name, mn, ops, types, res) VG_OP_##name,
    VG_OPCODES(VG_OP_ENUM)
#undef VG_OP_ENUM
        VG_OP_COUNT
} vg_opcode;

typedef struct vg_opinfo {
    const char *mnemonic; /* NULL: translation tier only */
    const char *operands; /* see above */
    const char *types;    /* see above */
    char result;          /* see above */
    const char *name;     /* enum name, for dumps */
} vg_opinfo;

extern const vg_opinfo vg_opinfo_table[VG_OP_COUNT];

#endif
