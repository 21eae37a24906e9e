/* Network of a sandbox. NONE: a new network namespace with no interface up.
 * LOOPBACK: the same with lo up (one ioctl). HOST: no namespace.
 *
 * Bandwidth (max_network_bandwidth) is shaped where the sandbox owns the
 * interface: with LOOPBACK, a token-bucket (tbf) root qdisc on the
 * namespace's lo, set over rtnetlink. The request is built in the parent
 * (lo is always ifindex 1 in a new namespace) with the kernel's own
 * <linux/rtnetlink.h> layout macros, and the child only sends it and reads
 * the ack. (It was built with libmnl; there is no static libmnl to link into
 * the static `vmrt`, and the message is one header and five attributes.) HOST is policed
 * on the sandbox's cgroup instead, by an eBPF program ([SB-NETBW], netbw.c); NONE has
 * nothing to shape.
 * Child-side code: [SB-CHILD-ASYNC-SAFE].
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "sandbox_internal.h"

int vmrt__sb_child_lo_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    ifr.ifr_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING;
    int r = ioctl(s, SIOCSIFFLAGS, &ifr);
    int saved = errno;
    close(s);
    errno = saved;
    return r;
}

/* Appends attribute TYPE with LEN bytes of DATA to the message in a buffer
 * of CAP bytes; NULL when it does not fit. */
static struct rtattr *put_attr(struct nlmsghdr *h, size_t cap, unsigned short type,
                               const void *data, size_t len)
{
    size_t off = NLMSG_ALIGN(h->nlmsg_len);
    if (off + RTA_SPACE(len) > cap)
        return NULL;
    struct rtattr *a = (struct rtattr *)((char *)h + off);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    memset((char *)RTA_DATA(a) + len, 0, RTA_SPACE(len) - RTA_LENGTH(len));
    h->nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
    return a;
}

/* Builds "tc qdisc add dev lo root tbf rate RATE burst B limit B" into buf.
 * Returns the message length, or -ENOBUFS when buf is too small. */
int vmrt__sb_net_shaper_msg(uint64_t rate, void *buf, size_t len)
{
    if (len < NLMSG_SPACE(sizeof(struct tcmsg)))
        return -ENOBUFS;
    memset(buf, 0, len);
    struct nlmsghdr *nlh = buf;
    nlh->nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
    nlh->nlmsg_type = RTM_NEWQDISC;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    nlh->nlmsg_seq = 1;
    struct tcmsg *tc = NLMSG_DATA(nlh);
    tc->tcm_family = AF_UNSPEC;
    tc->tcm_ifindex = 1; /* lo of a fresh namespace */
    tc->tcm_handle = 1u << 16;
    tc->tcm_parent = TC_H_ROOT;
    uint32_t burst = rate / 10 > (256u << 10) ? (uint32_t)(rate / 10) : 256u << 10;
    struct tc_tbf_qopt q;
    memset(&q, 0, sizeof q);
    q.rate.rate = rate >= UINT32_MAX ? UINT32_MAX : (uint32_t)rate;
    q.rate.linklayer = TC_LINKLAYER_ETHERNET;
    q.limit = burst;
    struct rtattr *opts;
    if (!put_attr(nlh, len, TCA_KIND, "tbf", sizeof "tbf") ||
        !(opts = put_attr(nlh, len, TCA_OPTIONS | NLA_F_NESTED, NULL, 0)) ||
        !put_attr(nlh, len, TCA_TBF_PARMS, &q, sizeof q) ||
        (rate >= UINT32_MAX && !put_attr(nlh, len, TCA_TBF_RATE64, &rate, sizeof rate)) ||
        !put_attr(nlh, len, TCA_TBF_BURST, &burst, sizeof burst))
        return -ENOBUFS;
    opts->rta_len = (unsigned short)((char *)nlh + nlh->nlmsg_len - (char *)opts);
    return (int)nlh->nlmsg_len;
}

/* Sends the prepared qdisc request; returns 0 or -1 with errno. */
int vmrt__sb_child_shape(const sb_plan_t *p)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0)
        return -1;
    int err = 0;
    union {
        struct nlmsghdr h;
        char buf[512];
    } ack;
    errno = 0; /* a short send or receive sets no errno: EPROTO then */
    if (send(s, p->tc_msg, p->tc_len, 0) != (ssize_t)p->tc_len)
        err = errno ? errno : EPROTO;
    else if (recv(s, &ack, sizeof ack, 0) < (ssize_t)(sizeof ack.h + sizeof(struct nlmsgerr)))
        err = errno ? errno : EPROTO;
    else if (ack.h.nlmsg_type == NLMSG_ERROR)
        err = -((struct nlmsgerr *)NLMSG_DATA(&ack.h))->error;
    close(s);
    errno = err;
    return err ? -1 : 0;
}
