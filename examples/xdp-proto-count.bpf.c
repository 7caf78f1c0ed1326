// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* xdp-proto-count: counts the packets and bytes an interface receives per protocol (IPv4 and IPv6), passing them all. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* vmlinux.h has the kernel's types but not its #defines. */
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60
#define NEXTHDR_ICMP 58
#define MAX_VLAN_TAGS 2
#define MAX_IPV6_EXTENSIONS 6

/* The map's keys (user space has the same list). */
enum proto_kind {
	PROTO_TCP,
	PROTO_UDP,
	PROTO_ICMP,   /* ICMP over IPv4 */
	PROTO_ICMPV6,
	PROTO_OTHER,  /* every other IP protocol, and what is not IP at all (ARP, LLDP…) */
	PROTO_COUNT,
};

struct counter {
	__u64 packets;
	__u64 bytes;   /* whole frames, Ethernet header included */
};

/* Per CPU: no atomics on the hot path; user space adds the CPUs up. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PROTO_COUNT);
	__type(key, __u32);   /* enum proto_kind; the kernel wants a plain 32-bit integer type for array keys */
	__type(value, struct counter);
} counts SEC(".maps");

static __always_inline enum proto_kind classify(__u8 ip_protocol, int ipv6)
{
	switch (ip_protocol) {
	case IPPROTO_TCP:
		return PROTO_TCP;
	case IPPROTO_UDP:
		return PROTO_UDP;
	case IPPROTO_ICMP:
		return ipv6 ? PROTO_OTHER : PROTO_ICMP;
	case NEXTHDR_ICMP:
		return ipv6 ? PROTO_ICMPV6 : PROTO_OTHER;
	default:
		return PROTO_OTHER;
	}
}

/* The upper-layer protocol of an IPv6 packet: the first next-header that is not an extension header. */
static __always_inline enum proto_kind classify_ipv6(void *cursor, void *data_end)
{
	struct ipv6hdr *ip6 = cursor;
	if ((void *)(ip6 + 1) > data_end)
		return PROTO_OTHER;
	__u8 next = ip6->nexthdr;
	cursor = ip6 + 1;
	for (int i = 0; i < MAX_IPV6_EXTENSIONS; i++) {
		struct ipv6_opt_hdr *ext = cursor;
		switch (next) {
		case NEXTHDR_HOP:      /* e.g. MLD reports: hop-by-hop options, then ICMPv6 */
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if ((void *)(ext + 1) > data_end)
				return PROTO_OTHER;
			next = ext->nexthdr;
			cursor += (ext->hdrlen + 1) * 8;
			break;
		case NEXTHDR_AUTH:
			if ((void *)(ext + 1) > data_end)
				return PROTO_OTHER;
			next = ext->nexthdr;
			cursor += (ext->hdrlen + 2) * 4;
			break;
		case NEXTHDR_FRAGMENT: /* fixed size; later fragments are counted by the protocol they carry */
			if ((void *)(ext + 1) > data_end)
				return PROTO_OTHER;
			next = ext->nexthdr;
			cursor += 8;
			break;
		default:
			return classify(next, 1);
		}
	}
	return PROTO_OTHER;
}

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	enum proto_kind proto = PROTO_OTHER;

	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > data_end)
		goto count;
	__u16 ethertype = eth->h_proto;
	void *cursor = eth + 1;
	for (int i = 0; i < MAX_VLAN_TAGS; i++) {
		if (ethertype != bpf_htons(ETH_P_8021Q) && ethertype != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vlan = cursor;
		if ((void *)(vlan + 1) > data_end)
			goto count;
		ethertype = vlan->h_vlan_encapsulated_proto;
		cursor = vlan + 1;
	}

	if (ethertype == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cursor;
		if ((void *)(ip + 1) <= data_end)
			proto = classify(ip->protocol, 0);
	} else if (ethertype == bpf_htons(ETH_P_IPV6)) {
		proto = classify_ipv6(cursor, data_end);
	}

count:;
	__u32 key = proto;
	struct counter *counter = bpf_map_lookup_elem(&counts, &key);
	if (counter) {
		counter->packets++;
		counter->bytes += data_end - data;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
