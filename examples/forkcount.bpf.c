// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* forkcount: counts fork()s per parent pid, optionally only for parents with one command name. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define TASK_COMM_LEN 16

struct fork_stats {
	__u64 forks;
	char comm[TASK_COMM_LEN];
};

/* Set before load by the user-space side (`obj.rodata.target_comm = 'bash'`); empty: every parent. */
const volatile char target_comm[TASK_COMM_LEN] = "";

__u64 total_forks;   /* every fork counted, read from user space through the mmap()ed .bss */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);                      /* parent pid */
	__type(value, struct fork_stats);
} forks SEC(".maps");

SEC("tracepoint/sched/sched_process_fork")
int count_fork(struct trace_event_raw_sched_process_fork *ctx)
{
	char comm[TASK_COMM_LEN];
	bpf_get_current_comm(comm, sizeof(comm));  /* the forking (parent) task */
	if (target_comm[0]) {
		for (int i = 0; i < TASK_COMM_LEN; i++) {
			if (comm[i] != target_comm[i])
				return 0;
			if (!comm[i])
				break;
		}
	}
	__u32 ppid = ctx->parent_pid;
	struct fork_stats *stats = bpf_map_lookup_elem(&forks, &ppid);
	if (stats) {
		__sync_fetch_and_add(&stats->forks, 1);
	} else {
		struct fork_stats init = { .forks = 1 };
		__builtin_memcpy(init.comm, comm, sizeof(init.comm));
		if (bpf_map_update_elem(&forks, &ppid, &init, BPF_NOEXIST) != 0) {
			/* Another CPU created it first. */
			stats = bpf_map_lookup_elem(&forks, &ppid);
			if (stats)
				__sync_fetch_and_add(&stats->forks, 1);
		}
	}
	__sync_fetch_and_add(&total_forks, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
