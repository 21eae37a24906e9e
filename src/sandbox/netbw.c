/* max_network_bandwidth with --net host: a policer on the sandbox's cgroup.
 *
 * With the host's network there is no interface of the sandbox's own to put
 * a qdisc on (shaping the host's interfaces would shape the host), so the
 * limit is enforced per cgroup: two BPF_PROG_TYPE_CGROUP_SKB programs, one
 * on egress and one on ingress, attached to the sandbox's cgroup v2 (its
 * limits cgroup, or the empty tracking cgroup beside v1 controllers) before
 * the guest is created in it. They see every IP packet the sandbox's sockets
 * send or receive (loopback included) and police it against a token bucket
 * kept as a "theoretical arrival time" (GCRA): each packet of L bytes moves
 * the bucket's time L/rate ahead; a packet that would move it more than the
 * burst ahead of now is dropped — on egress with congestion notification
 * (return 2), so TCP shrinks its window instead of waiting for a timeout.
 * The result is a rate limit of rate bytes/s in each direction, with bursts
 * of max(rate/10, 256 KiB) as for --net loopback's tbf.
 *
 * The programs are a few instructions written here (no libbpf, no compiler
 * for BPF at build time); the state is one array map per direction. Updates
 * are not atomic across CPUs: two CPUs sending at the same instant may both
 * pass, which admits at most one extra packet per CPU per race.
 *
 * Rejected: net_cls classid + tc on the host's egress device (the host has
 * no net_cls controller here, tc on the host changes the host's qdiscs and
 * sees no loopback traffic); a veth pair with NAT (needs forwarding and
 * iptables on the host).
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox_internal.h"

#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define MOV64_REG(d, s)       INSN(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define MOV64_IMM(d, i)       INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define ALU64_IMM(op, d, i)   INSN(BPF_ALU64 | (op) | BPF_K, d, 0, 0, i)
#define ALU64_REG(op, d, s)   INSN(BPF_ALU64 | (op) | BPF_X, d, s, 0, 0)
#define LDX(size, d, s, o)    INSN(BPF_LDX | BPF_MEM | (size), d, s, o, 0)
#define STX(size, d, s, o)    INSN(BPF_STX | BPF_MEM | (size), d, s, o, 0)
#define ST_IMM(size, d, o, i) INSN(BPF_ST | BPF_MEM | (size), d, 0, o, i)
#define JMP_REG(op, d, s, o)  INSN(BPF_JMP | (op) | BPF_X, d, s, o, 0)
#define JMP_IMM(op, d, i, o)  INSN(BPF_JMP | (op) | BPF_K, d, 0, o, i)
#define CALL(f)               INSN(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define EXIT()                INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* 64-bit immediate: two instructions. */
#define LD_IMM64_RAW(d, s, v)                                                                      \
    INSN(BPF_LD | BPF_DW | BPF_IMM, d, s, 0, (int32_t)(uint32_t)(v)),                              \
        INSN(0, 0, 0, 0, (int32_t)(uint32_t)((uint64_t)(v) >> 32))

enum { R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 };

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

/* Scale of the per-byte cost: cost_ns = (len * per_byte) >> COST_SHIFT. */
#define COST_SHIFT 20

/* Loads one policer program for map_fd; returns its fd or -errno. */
static int load_policer(int map_fd, uint64_t per_byte, uint64_t burst_ns, bool egress)
{
    const int drop = egress ? 2 : 0; /* egress: drop + congestion notification */
    struct bpf_insn prog[] = {
        MOV64_REG(R6, R1),                                   /* r6 = skb */
        LDX(BPF_W, R7, R6, offsetof(struct __sk_buff, len)), /* r7 = len */
        ST_IMM(BPF_W, R10, -4, 0),                           /* key = 0 */
        MOV64_REG(R2, R10),
        ALU64_IMM(BPF_ADD, R2, -4),
        LD_IMM64_RAW(R1, BPF_PSEUDO_MAP_FD, (uint32_t)map_fd),
        CALL(BPF_FUNC_map_lookup_elem),
        JMP_IMM(BPF_JEQ, R0, 0, 16), /* no state: pass */
        MOV64_REG(R8, R0),           /* r8 = &tat */
        CALL(BPF_FUNC_ktime_get_ns), /* r0 = now */
        LDX(BPF_DW, R1, R8, 0),      /* r1 = tat */
        JMP_REG(BPF_JGE, R1, R0, 1), /* tat < now: */
        MOV64_REG(R1, R0),           /*   tat = now */
        MOV64_REG(R2, R1),
        ALU64_REG(BPF_SUB, R2, R0), /* r2 = tat - now */
        LD_IMM64_RAW(R3, 0, burst_ns),
        JMP_REG(BPF_JGT, R2, R3, 8), /* beyond burst: drop */
        LD_IMM64_RAW(R3, 0, per_byte),
        ALU64_REG(BPF_MUL, R7, R3),
        ALU64_IMM(BPF_RSH, R7, COST_SHIFT), /* r7 = cost in ns */
        ALU64_REG(BPF_ADD, R1, R7),
        STX(BPF_DW, R8, R1, 0), /* tat += cost */
        MOV64_IMM(R0, 1),       /* pass */
        EXIT(),
        MOV64_IMM(R0, drop),
        EXIT(),
    };
    /* The jump offsets above count instructions: keep them in step. */
    _Static_assert(sizeof prog / sizeof prog[0] == 29, "policer jump offsets");
    static const char license[] = "GPL";
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_SKB;
    a.expected_attach_type = egress ? BPF_CGROUP_INET_EGRESS : BPF_CGROUP_INET_INGRESS;
    a.insns = (uint64_t)(uintptr_t)prog;
    a.insn_cnt = sizeof prog / sizeof prog[0];
    a.license = (uint64_t)(uintptr_t)license;
    long fd = sys_bpf(BPF_PROG_LOAD, &a);
    return fd < 0 ? -errno : (int)fd;
}

static int make_map(void)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.map_type = BPF_MAP_TYPE_ARRAY;
    a.key_size = 4;
    a.value_size = 8;
    a.max_entries = 1;
    long fd = sys_bpf(BPF_MAP_CREATE, &a);
    return fd < 0 ? -errno : (int)fd;
}

static int attach(int prog_fd, int cgroup_fd, bool egress)
{
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)cgroup_fd;
    a.attach_bpf_fd = (uint32_t)prog_fd;
    a.attach_type = egress ? BPF_CGROUP_INET_EGRESS : BPF_CGROUP_INET_INGRESS;
    return sys_bpf(BPF_PROG_ATTACH, &a) == 0 ? 0 : -errno;
}

/* Polices the traffic of the processes in the cgroup v2 directory cgroup_fd
 * to rate bytes/s in each direction. The programs stay attached until the
 * cgroup is removed. Returns 0 or -errno (-EINVAL: rate below 1 KiB/s). */
int vmrt__sb_netbw_attach(int cgroup_fd, uint64_t rate)
{
    if (rate < 1024 || rate > (1ull << 40))
        return -EINVAL;
    uint64_t burst = rate / 10 > (256u << 10) ? rate / 10 : 256u << 10;
    uint64_t per_byte = (1000000000ull << COST_SHIFT) / rate;
    uint64_t burst_ns = (uint64_t)((double)burst * 1e9 / (double)rate);
    int err = 0;
    for (int dir = 0; dir < 2 && !err; dir++) {
        int map = make_map();
        if (map < 0)
            return map;
        int prog = load_policer(map, per_byte, burst_ns, dir == 0);
        close(map); /* the program holds it */
        if (prog < 0)
            return prog;
        err = attach(prog, cgroup_fd, dir == 0);
        close(prog); /* the attachment holds it */
    }
    return err;
}
