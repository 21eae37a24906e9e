/* Network of a sandbox. NONE: a new network namespace with no interface up.
 * LOOPBACK: the same with lo up (one ioctl). HOST: no namespace.
 *
 * Bandwidth (max_network_bandwidth) is shaped where the sandbox owns the
 * interface: with LOOPBACK, a token-bucket (tbf) root qdisc on the
 * namespace's lo, set over rtnetlink. The request is built in the parent with
 * libmnl (lo is always ifindex 1 in a new namespace) and the child only
 * sends it and reads the ack. HOST is refused (shaping it would shape the
 * host; a veth pair with NAT is not implemented); NONE has nothing to shape.
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
#include "vmrt_config.h"

#if VMRT_HAVE_MNL
#include <libmnl/libmnl.h>
#endif

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

/* Builds "tc qdisc add dev lo root tbf rate RATE burst B limit B" into buf.
 * Returns the message length, or VMRT_EUNSUPPORTED without libmnl. */
int vmrt__sb_net_shaper_msg(uint64_t rate, void *buf, size_t len)
{
#if VMRT_HAVE_MNL
    if (len < 128)
        return -ENOBUFS;
    memset(buf, 0, len);
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWQDISC;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
    nlh->nlmsg_seq = 1;
    struct tcmsg *tc = mnl_nlmsg_put_extra_header(nlh, sizeof *tc);
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
    mnl_attr_put_strz(nlh, TCA_KIND, "tbf");
    struct nlattr *opts = mnl_attr_nest_start(nlh, TCA_OPTIONS);
    mnl_attr_put(nlh, TCA_TBF_PARMS, sizeof q, &q);
    if (rate >= UINT32_MAX)
        mnl_attr_put_u64(nlh, TCA_TBF_RATE64, rate);
    mnl_attr_put_u32(nlh, TCA_TBF_BURST, burst);
    mnl_attr_nest_end(nlh, opts);
    return (int)nlh->nlmsg_len;
#else
    (void)rate;
    (void)buf;
    (void)len;
    return VMRT_EUNSUPPORTED;
#endif
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
    if (send(s, p->tc_msg, p->tc_len, 0) != (ssize_t)p->tc_len)
        err = errno;
    else if (recv(s, &ack, sizeof ack, 0) < (ssize_t)(sizeof ack.h + sizeof(struct nlmsgerr)))
        err = errno ? errno : EPROTO;
    else if (ack.h.nlmsg_type == NLMSG_ERROR)
        err = -((struct nlmsgerr *)NLMSG_DATA(&ack.h))->error;
    close(s);
    errno = err;
    return err ? -1 : 0;
}
