// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* execsnoop: one ring buffer record per execve() with the caller's pid, ppid, uid, comm and filename. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include "bpfkit.bpf.h"

#define TASK_COMM_LEN 16
#define MAX_FILENAME_LEN 256

struct event {
	int pid;
	int ppid;
	unsigned int uid;
	char comm[TASK_COMM_LEN];
	char filename[MAX_FILENAME_LEN];
};

/* The reader decodes `struct event` by itself: BPFKIT_RINGBUF records the type in BTF. */
BPFKIT_RINGBUF(events, struct event, 256 * 1024);

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e;

	e = bpfkit_ringbuf_reserve(&events, sizeof(*e));
	if (!e)
		return 0; /* counted: the reader's stats().dropped */

	e->pid = bpf_get_current_pid_tgid() >> 32;
	/* CO-RE: these offsets are relocated against the running kernel's BTF at load time. */
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);

	bpfkit_ringbuf_submit(&events, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
