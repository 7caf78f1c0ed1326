// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* syscalls: every system call counted by its number and the calling process's name (raw_syscalls). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpfkit_metrics.bpf.h"

#define TASK_COMM_LEN 16

struct syscall_key {
	char comm[TASK_COMM_LEN];
	__u32 syscall;
};

/* Per CPU: the hottest tracepoint there is counts without sharing cache lines; readers sum the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct syscall_key);
	__type(value, __u64);
} syscalls SEC(".maps");

SEC("tracepoint/raw_syscalls/sys_enter")
int count_syscall(struct trace_event_raw_sys_enter *ctx)
{
	struct syscall_key key = {};

	if (ctx->id < 0)
		return 0;
	key.syscall = ctx->id;
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	bpfkit_counter_add(&syscalls, &key, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
