// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The maps the scrape benchmark fills from user space: a counter keyed by a 3-field struct, and a 64-slot
 * histogram with two label fields. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct flow_key {
	__u32 pid;
	__u32 cpu;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10000);
	__type(key, struct flow_key);
	__type(value, __u64);
} flows SEC(".maps");

struct hist_key {
	__u32 dev;
	__u32 op;
	__u32 slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 6400);
	__type(key, struct hist_key);
	__type(value, __u64);
} latency SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
