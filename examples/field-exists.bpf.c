// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * field-exists: CO-RE's existence checks choose between two layouts of a kernel struct at load time.
 * `struct task_struct___current` and `___legacy` are "flavors" (libbpf ignores the ___suffix when
 * matching against the kernel's BTF): one with a field every kernel has, one with a field none has.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

struct task_struct___current {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

struct task_struct___legacy {
	int bpfkit_no_such_field;
} __attribute__((preserve_access_index));

struct bpfkit_no_such_type {
	int x;
};

struct result {
	bool has_pid;          /* bpf_core_field_exists(task_struct___current::pid) */
	bool has_legacy_field; /* bpf_core_field_exists(task_struct___legacy::bpfkit_no_such_field) */
	bool has_task_struct;  /* bpf_core_type_exists(struct task_struct) */
	bool has_made_up_type; /* bpf_core_type_exists(struct bpfkit_no_such_type) */
	char branch[16];       /* which layout the program read */
	int tgid;              /* read through it */
};

struct result result;

SEC("raw_tp")
int detect(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	result.has_pid = bpf_core_field_exists(((struct task_struct___current *)task)->pid);
	result.has_legacy_field = bpf_core_field_exists(((struct task_struct___legacy *)task)->bpfkit_no_such_field);
	result.has_task_struct = bpf_core_type_exists(struct task_struct);
	result.has_made_up_type = bpf_core_type_exists(struct bpfkit_no_such_type);
	if (bpf_core_field_exists(((struct task_struct___legacy *)task)->bpfkit_no_such_field)) {
		__builtin_memcpy(result.branch, "legacy", 7);
		result.tgid = BPF_CORE_READ((struct task_struct___legacy *)task, bpfkit_no_such_field);
	} else {
		__builtin_memcpy(result.branch, "current", 8);
		result.tgid = BPF_CORE_READ((struct task_struct___current *)task, tgid);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
