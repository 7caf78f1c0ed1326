// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The map the maps benchmark drives from user space: a BTF-typed hash of __u32 → struct value. */
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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
