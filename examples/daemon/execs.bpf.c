// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* execs: exec() calls counted by process name, and one ring buffer event per exec for an NDJSON sink. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "bpfkit.bpf.h"
#include "bpfkit_metrics.bpf.h"

#define TASK_COMM_LEN 16
#define MAX_FILENAME_LEN 128

struct exec_key {
	char comm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct exec_key);
	__type(value, __u64);
} execs SEC(".maps");

struct exec_event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
	char filename[MAX_FILENAME_LEN];
};

BPFKIT_RINGBUF(events, struct exec_event, 256 * 1024);

SEC("tracepoint/sched/sched_process_exec")
int count_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct exec_key key = {};
	struct exec_event *e;
	unsigned int offset;

	/* The new program's name: comm is set before this tracepoint fires. */
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	bpfkit_counter_add(&execs, &key, 1);

	e = bpfkit_ringbuf_reserve(&events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	__builtin_memcpy(e->comm, key.comm, sizeof(e->comm));
	offset = ctx->__data_loc_filename & 0xffff;
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (void *)ctx + offset);
	bpfkit_ringbuf_submit(&events, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
