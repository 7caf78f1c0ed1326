// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* opensnoop: one ring buffer record per openat() with the caller's pid, comm, flags, path and result (fd or -errno). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpfkit.bpf.h"

#define TASK_COMM_LEN 16
#define MAX_PATH_LEN 256

struct event {
	int pid;
	unsigned int uid;
	int ret;      /* the fd, or -errno */
	int flags;    /* openat()'s O_* flags */
	char comm[TASK_COMM_LEN];
	char path[MAX_PATH_LEN];
};

/* What sys_enter_openat saw, until sys_exit_openat of the same thread reads it. */
struct pending_open {
	__u64 path;   /* the user-space address of the path */
	int flags;
};

/* Set before load by the user-space side; zero or empty: no filter. */
const volatile int target_pid = 0;
const volatile char target_comm[TASK_COMM_LEN] = "";
const volatile bool failed_only = false;

BPFKIT_RINGBUF(events, struct event, 256 * 1024);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);                      /* pid_tgid: one open in flight per thread */
	__type(value, struct pending_open);
} pending SEC(".maps");

static __always_inline bool comm_matches(void)
{
	char comm[TASK_COMM_LEN];
	if (!target_comm[0])
		return true;
	bpf_get_current_comm(comm, sizeof(comm));
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != target_comm[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	/* The filters run here, so the exit program only sees the opens they let through. */
	if (target_pid && (__u32)(pid_tgid >> 32) != (__u32)target_pid)
		return 0;
	if (!comm_matches())
		return 0;
	struct pending_open open = { .path = ctx->args[1], .flags = (int)ctx->args[2] };
	bpf_map_update_elem(&pending, &pid_tgid, &open, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int trace_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct pending_open *open = bpf_map_lookup_elem(&pending, &pid_tgid);
	if (!open)
		return 0;
	int ret = ctx->ret;
	if (failed_only && ret >= 0)
		goto done;

	struct event *e = bpfkit_ringbuf_reserve(&events, sizeof(*e));
	if (!e)
		goto done; /* counted: the reader's stats().dropped */
	e->pid = pid_tgid >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ret = ret;
	e->flags = open->flags;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* Read at exit, not entry: the kernel has read the path by now, so its page is in memory. */
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const char *)open->path) < 0)
		e->path[0] = '\0';
	bpfkit_ringbuf_submit(&events, e);
done:
	bpf_map_delete_elem(&pending, &pid_tgid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
