// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tail-dispatch: a syscall classifier. A raw tracepoint on sys_enter tail-calls (bpf_tail_call) the
 * handler user space put in the `handlers` prog_array at the syscall's number; each handler counts the
 * call under its class in the typed `calls` map. A syscall with no handler falls through and is
 * counted as undispatched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define MAX_SYSCALLS 512

/* The classes of syscalls, one handler program each. */
enum syscall_class {
	CLASS_FILE,
	CLASS_NETWORK,
	CLASS_PROCESS,
	CLASS_MEMORY,
};

struct call_key {
	enum syscall_class class;
	__u32 syscall;
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u32);
} handlers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct call_key);
	__type(value, __u64);
} calls SEC(".maps");

/* Only this process (0: every process). */
const volatile __u32 target_pid = 0;
__u64 undispatched;

static __always_inline int count(struct bpf_raw_tracepoint_args *ctx, enum syscall_class class)
{
	struct call_key key = { .class = class, .syscall = ctx->args[1] };
	__u64 one = 1;
	__u64 *calls_so_far = bpf_map_lookup_elem(&calls, &key);

	if (calls_so_far)
		__sync_fetch_and_add(calls_so_far, 1);
	else if (bpf_map_update_elem(&calls, &key, &one, BPF_NOEXIST))
		/* Another CPU added it first. */
		if ((calls_so_far = bpf_map_lookup_elem(&calls, &key)))
			__sync_fetch_and_add(calls_so_far, 1);
	return 0;
}

SEC("raw_tp/sys_enter")
int dispatch(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 syscall = ctx->args[1];

	if (target_pid && (bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	/* Returns only when the slot is empty. */
	bpf_tail_call(ctx, &handlers, syscall);
	__sync_fetch_and_add(&undispatched, 1);
	return 0;
}

SEC("raw_tp")
int handle_file(struct bpf_raw_tracepoint_args *ctx)
{
	return count(ctx, CLASS_FILE);
}

SEC("raw_tp")
int handle_network(struct bpf_raw_tracepoint_args *ctx)
{
	return count(ctx, CLASS_NETWORK);
}

SEC("raw_tp")
int handle_process(struct bpf_raw_tracepoint_args *ctx)
{
	return count(ctx, CLASS_PROCESS);
}

SEC("raw_tp")
int handle_memory(struct bpf_raw_tracepoint_args *ctx)
{
	return count(ctx, CLASS_MEMORY);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
