// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The maps the maps benchmark drives from user space: BTF-typed hashes of __u32 → struct value, and of a
 * connection struct → counters with a tag string. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct value {
	__u64 packets;
	__u64 bytes;
	__u32 flags;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__type(key, __u32);
	__type(value, struct value);
} flows SEC(".maps");

struct conn_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
};

struct conn_stats {
	char tag[4];
	__u32 flags;
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct conn_key);
	__type(value, struct conn_stats);
} conns SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
