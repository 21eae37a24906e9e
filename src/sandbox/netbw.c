/* Network bandwidth for a sandbox on the host's network ([SB-NETBW]).
 *
 * With --net loopback the sandbox owns its interface and net.c puts a tbf
 * qdisc on it. On the host's network there is no interface of its own to
 * shape, and a qdisc on a host interface would shape the whole host. What
 * the sandbox does own is its cgroup: two small eBPF programs on its cgroup
 * v2 directory (BPF_CGROUP_INET_EGRESS and _INGRESS, so they see every
 * packet of every socket of the sandbox's processes and of nothing else)
 * keep one token bucket per direction in an array map.
 *
 * The bucket is kept as virtual time (t_next: when the bytes let through so
 * far will have drained at `rate`). A packet of len bytes costs
 * len * 1e9 / rate ns; it passes while t_next - now <= burst, and t_next
 * advances by its cost with one atomic fetch-add, so packets on several CPUs
 * cannot pass together on the same credit. A refused egress packet is
 * dropped with congestion notification (return 2), which makes TCP shrink
 * its window as for a congested link rather than wait for a retransmission
 * timeout; refused ingress packets are dropped (the sender retransmits).
 * The limit is therefore a policer: throughput over any interval T stays
 * within rate * T + burst; TCP reaches the rate once the burst holds a few
 * of its packets (vmrt__sb_netbw_burst).
 *
 * The programs are written here as instructions (no compiler for the BPF
 * target, no libbpf needed at run time); the kernel's verifier checks them
 * at load. They stay attached for as long as the cgroup exists and go with
 * its removal.
 */
#include "netbw.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { V_TNEXT = 0, V_BYTES = 8, V_DROPPED = 16, V_SIZE = 32 };

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* ---- instruction builders ---- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    return (struct bpf_insn){.code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}
#define MOV_REG(d, s)        insn(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV_IMM(d, i)        insn(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU_IMM(op, d, i)    insn(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU_REG(op, d, s)    insn(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LDX(sz, d, s, o)     insn(BPF_LDX | (sz) | BPF_MEM, d, s, o, 0)
#define STX(sz, d, s, o)     insn(BPF_STX | (sz) | BPF_MEM, d, s, o, 0)
#define ST(sz, d, o, i)      insn(BPF_ST | (sz) | BPF_MEM, d, 0, o, i)
#define ATOMIC(op, d, s, o)  insn(BPF_STX | BPF_DW | BPF_ATOMIC, d, s, o, op)
#define JMP_IMM(op, d, i, o) insn(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define JMP_REG(op, d, s, o) insn(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define CALL(f)              insn(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()               insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* 64-bit immediate load (or, with src BPF_PSEUDO_MAP_FD, a map): two slots. */
static size_t ld64(struct bpf_insn *p, size_t n, uint8_t dst, uint8_t src, uint64_t v)
{
    p[n++] = insn(BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, (int32_t)(uint32_t)v);
    p[n++] = insn(0, 0, 0, 0, (int32_t)(uint32_t)(v >> 32));
    return n;
}

/* The program for one direction: key dir in the map, `over` returned for a
 * refused packet. Registers: r6 ctx, r7 len, r8 map value, r9 now, r3 cost. */
static size_t build(struct bpf_insn *p, int map_fd, uint32_t dir, uint64_t rate, uint64_t burst_ns,
                    int over)
{
    size_t n = 0;
    p[n++] = MOV_REG(BPF_REG_6, BPF_REG_1);
    p[n++] = LDX(BPF_W, BPF_REG_7, BPF_REG_6, offsetof(struct __sk_buff, len));
    p[n++] = ST(BPF_W, BPF_REG_10, -4, (int32_t)dir);
    n = ld64(p, n, BPF_REG_1, BPF_PSEUDO_MAP_FD, (uint32_t)map_fd);
    p[n++] = MOV_REG(BPF_REG_2, BPF_REG_10);
    p[n++] = ALU_IMM(BPF_ADD, BPF_REG_2, -4);
    p[n++] = CALL(BPF_FUNC_map_lookup_elem);
    size_t j_nomap = n;
    p[n++] = JMP_IMM(BPF_JEQ, BPF_REG_0, 0, 0); /* → pass (patched) */
    p[n++] = MOV_REG(BPF_REG_8, BPF_REG_0);
    p[n++] = CALL(BPF_FUNC_ktime_get_ns);
    p[n++] = MOV_REG(BPF_REG_9, BPF_REG_0);
    /* cost = len * 1e9 / rate */
    p[n++] = MOV_REG(BPF_REG_3, BPF_REG_7);
    p[n++] = ALU_IMM(BPF_MUL, BPF_REG_3, 1000000000);
    n = ld64(p, n, BPF_REG_4, 0, rate);
    p[n++] = ALU_REG(BPF_DIV, BPF_REG_3, BPF_REG_4);
    /* An idle bucket restarts from now (a racy store: at worst one burst). */
    p[n++] = LDX(BPF_DW, BPF_REG_1, BPF_REG_8, V_TNEXT);
    p[n++] = JMP_REG(BPF_JGE, BPF_REG_1, BPF_REG_9, 1);
    p[n++] = STX(BPF_DW, BPF_REG_8, BPF_REG_9, V_TNEXT);
    /* old = fetch_add(t_next, cost); over if old - now > burst (signed). */
    p[n++] = MOV_REG(BPF_REG_1, BPF_REG_3);
    p[n++] = ATOMIC(BPF_ADD | BPF_FETCH, BPF_REG_8, BPF_REG_1, V_TNEXT);
    p[n++] = ALU_REG(BPF_SUB, BPF_REG_1, BPF_REG_9);
    n = ld64(p, n, BPF_REG_2, 0, burst_ns);
    size_t j_over = n;
    p[n++] = JMP_REG(BPF_JSGT, BPF_REG_1, BPF_REG_2, 0); /* → over (patched) */
    p[n++] = ATOMIC(BPF_ADD, BPF_REG_8, BPF_REG_7, V_BYTES);
    size_t pass = n;
    p[n++] = MOV_IMM(BPF_REG_0, 1);
    p[n++] = EXIT();
    size_t over_at = n;
    /* Refused: give the cost back, count the packet. */
    p[n++] = ALU_IMM(BPF_MUL, BPF_REG_3, -1);
    p[n++] = ATOMIC(BPF_ADD, BPF_REG_8, BPF_REG_3, V_TNEXT);
    p[n++] = MOV_IMM(BPF_REG_1, 1);
    p[n++] = ATOMIC(BPF_ADD, BPF_REG_8, BPF_REG_1, V_DROPPED);
    p[n++] = MOV_IMM(BPF_REG_0, over);
    p[n++] = EXIT();
    p[j_nomap].off = (int16_t)(pass - j_nomap - 1);
    p[j_over].off = (int16_t)(over_at - j_over - 1);
    return n;
}

static int load(const struct bpf_insn *p, size_t n, enum bpf_attach_type type)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_SKB;
    a.expected_attach_type = type;
    a.insns = (uint64_t)(uintptr_t)p;
    a.insn_cnt = (uint32_t)n;
    a.license = (uint64_t)(uintptr_t) "Dual MIT/GPL";
    long fd = sys_bpf(BPF_PROG_LOAD, &a);
    return fd < 0 ? -errno : (int)fd;
}

uint64_t vmrt__sb_netbw_burst(uint64_t rate)
{
    /* A policer drops what a shaper would queue; TCP only fills it when the
     * bucket holds a few of its packets (64 KiB each on loopback with GSO):
     * with 10 ms of rate it settled at a fifth of the rate, with 250 ms at
     * the rate. */
    uint64_t burst = rate / 4;
    return burst < (256u << 10) ? (256u << 10) : burst;
}

int vmrt__sb_netbw_attach(sb_netbw_t *nb, int cgroup_fd, uint64_t rate)
{
    nb->map_fd = -1;
    if (!rate)
        return -EINVAL;
    uint64_t burst = vmrt__sb_netbw_burst(rate);
    /* burst in ns = burst * 1e9 / rate, without overflow for huge rates. */
    uint64_t burst_ns = (uint64_t)((double)burst * 1e9 / (double)rate);

    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = V_SIZE;
    a.max_entries = 2;
    memcpy(a.map_name, "vmrt_netbw", sizeof "vmrt_netbw");
    long mfd = sys_bpf(BPF_MAP_CREATE, &a);
    if (mfd < 0)
        return -errno;

    static const enum bpf_attach_type types[2] = {BPF_CGROUP_INET_EGRESS, BPF_CGROUP_INET_INGRESS};
    int progs[2] = {-1, -1}, err = 0;
    int attached = 0;
    for (int dir = 0; dir < 2 && !err; dir++) {
        struct bpf_insn p[48];
        size_t n = build(p, (int)mfd, (uint32_t)dir, rate, burst_ns, dir == 0 ? 2 : 0);
        progs[dir] = load(p, n, types[dir]);
        if (progs[dir] < 0) {
            err = progs[dir];
            break;
        }
        memset(&a, 0, sizeof a);
        a.target_fd = (uint32_t)cgroup_fd;
        a.attach_bpf_fd = (uint32_t)progs[dir];
        a.attach_type = types[dir];
        a.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
            err = -errno;
        else
            attached++;
    }
    if (err) {
        for (int dir = 0; dir < attached; dir++) {
            memset(&a, 0, sizeof a);
            a.target_fd = (uint32_t)cgroup_fd;
            a.attach_bpf_fd = (uint32_t)progs[dir];
            a.attach_type = types[dir];
            (void)sys_bpf(BPF_PROG_DETACH, &a);
        }
    }
    for (int dir = 0; dir < 2; dir++)
        if (progs[dir] >= 0)
            close(progs[dir]);
    if (err) {
        close((int)mfd);
        return err;
    }
    nb->map_fd = (int)mfd;
    return 0;
}

int vmrt__sb_netbw_stats(const sb_netbw_t *nb, sb_netbw_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (nb->map_fd < 0)
        return -EBADF;
    for (uint32_t dir = 0; dir < 2; dir++) {
        uint64_t v[V_SIZE / 8] = {0};
        union bpf_attr a;
        memset(&a, 0, sizeof a);
        a.map_fd = (uint32_t)nb->map_fd;
        a.key = (uint64_t)(uintptr_t)&dir;
        a.value = (uint64_t)(uintptr_t)v;
        if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a) < 0)
            return -errno;
        out->bytes[dir] = v[V_BYTES / 8];
        out->dropped[dir] = v[V_DROPPED / 8];
    }
    return 0;
}

void vmrt__sb_netbw_close(sb_netbw_t *nb)
{
    if (nb->map_fd >= 0)
        close(nb->map_fd);
    nb->map_fd = -1;
}
