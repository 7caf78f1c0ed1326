// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * runqlat: how long runnable tasks wait for a CPU, as a log2 histogram in microseconds, from the sched
 * raw tracepoints (tp_btf needs BPF trampolines, which not every kernel has).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "bpfkit_metrics.bpf.h"

#define MAX_SLOT 26             /* 2^26 us: about 67 s */
#define OVERFLOW_SLOT (MAX_SLOT + 1)
#define SUM_SLOT (MAX_SLOT + 2)
#define TASK_RUNNING 0

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} enqueued SEC(".maps");

/* Slot → count (slots 0…26, the overflow, and the sum of every latency in us). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SUM_SLOT + 1);
	__type(key, __u32);
	__type(value, __u64);
} runq_latency SEC(".maps");

/* task_struct's state was renamed __state in Linux 5.14. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *task)
{
	if (bpf_core_field_exists(task->__state))
		return BPF_CORE_READ(task, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)task, state);
}

static __always_inline void enqueue(struct task_struct *task)
{
	__u32 pid = BPF_CORE_READ(task, pid);
	__u64 now;

	if (pid == 0)
		return;
	now = bpf_ktime_get_ns();
	bpf_map_update_elem(&enqueued, &pid, &now, BPF_ANY);
}

static __always_inline void add(__u32 slot, __u64 n)
{
	__u64 *count = bpf_map_lookup_elem(&runq_latency, &slot);

	if (count)
		*count += n; /* per CPU: no other CPU writes this slot */
}

SEC("raw_tp/sched_wakeup")
int on_wakeup(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

SEC("raw_tp/sched_wakeup_new")
int on_wakeup_new(struct bpf_raw_tracepoint_args *ctx)
{
	enqueue((struct task_struct *)ctx->args[0]);
	return 0;
}

/* sched_switch(bool preempt, struct task_struct *prev, struct task_struct *next, …) */
SEC("raw_tp/sched_switch")
int on_switch(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx->args[1];
	struct task_struct *next = (struct task_struct *)ctx->args[2];
	__u32 pid, slot;
	__u64 *start, us;

	/* A task preempted while runnable goes straight back to the run queue. */
	if (task_state(prev) == TASK_RUNNING)
		enqueue(prev);
	pid = BPF_CORE_READ(next, pid);
	start = bpf_map_lookup_elem(&enqueued, &pid);
	if (!start)
		return 0;
	us = (bpf_ktime_get_ns() - *start) / 1000;
	bpf_map_delete_elem(&enqueued, &pid);
	slot = bpfkit_exp2_slot(us);
	add(slot > MAX_SLOT ? OVERFLOW_SLOT : slot, 1);
	add(SUM_SLOT, us);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
