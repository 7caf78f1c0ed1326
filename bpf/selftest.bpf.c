// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The object `bpfkit doctor --selftest` loads: a ring buffer record for each getppid() of one process. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpfkit.bpf.h"

struct selftest_event {
	__u32 pid;
	char comm[16];
};

const volatile __u32 target_pid = 0;

BPFKIT_RINGBUF(events, struct selftest_event, 64 * 1024);

SEC("tracepoint/syscalls/sys_enter_getppid")
int selftest_getppid(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	struct selftest_event *e;

	if (pid != target_pid)
		return 0;
	e = bpfkit_ringbuf_reserve(&events, sizeof(*e));
	if (!e)
		return 0;
	e->pid = pid;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpfkit_ringbuf_submit(&events, e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
