// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uprobe-trace: a uprobe and a uretprobe on `int checksum(const char *s, int len)` of a user-space
 * program. The entry saves the arguments per thread; the return pairs them with the return value and
 * emits one ring buffer record per call (pid, arguments, return value, latency).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpfkit.bpf.h"

#define MAX_STR_LEN 32

/* What the entry saw, until the same thread returns. */
struct call {
	__u64 start_ns;
	int len;
	char s[MAX_STR_LEN];
};

struct event {
	__u32 pid;
	__u32 tid;
	int len;     /* checksum()'s second argument */
	int ret;     /* and its return value */
	__u64 latency_ns;
	char s[MAX_STR_LEN]; /* the first argument, cut to MAX_STR_LEN - 1 bytes */
};

/* Keyed by pid_tgid: a thread is in at most one checksum() at a time (it does not recurse). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

BPFKIT_RINGBUF(events, struct event, 256 * 1024);

/* No target in SEC(): user space attaches to the binary it names (attachUprobe). */
SEC("uprobe")
int BPF_UPROBE(checksum_entry, const char *s, int len)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call call = { .len = len };

	bpf_probe_read_user_str(call.s, sizeof(call.s), s);
	call.start_ns = bpf_ktime_get_ns();
	bpf_map_update_elem(&calls, &id, &call, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(checksum_exit, int ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call *call = bpf_map_lookup_elem(&calls, &id);
	struct event *e;

	if (!call)
		return 0; /* entered before the uprobe was attached */
	e = bpfkit_ringbuf_reserve(&events, sizeof(*e));
	if (e) {
		e->pid = id >> 32;
		e->tid = (__u32)id;
		e->len = call->len;
		e->ret = ret;
		e->latency_ns = bpf_ktime_get_ns() - call->start_ns;
		__builtin_memcpy(e->s, call->s, sizeof(e->s));
		bpfkit_ringbuf_submit(&events, e);
	}
	bpf_map_delete_elem(&calls, &id);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
