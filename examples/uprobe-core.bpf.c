// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * uprobe-core: user-space CO-RE. A uprobe on `int add_test(struct data *d)` of a program whose
 * `struct data` changed between two builds reads d->a and d->c with CO-RE relocations, so one
 * compiled object reads the right fields of either build once libbpf relocates it against that
 * build's BTF (pahole --btf_encode_detached) merged with the kernel's.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

/* The layout this object is written (and compiled) for: the first build's. */
struct data {
	int a;
	int c;
	int d;
} __attribute__((preserve_access_index));

struct result {
	__u32 calls;    /* how often add_test() ran in the traced process */
	bool core;      /* whether libbpf had BTF with a struct data to relocate against */
	__u32 c_offset; /* where d->c was read: the relocated offset, or the compiled one */
	int a;
	int c;
	int sum;
};

struct result result;

/* No target in SEC(): user space attaches to the build it runs (attachUprobe). */
SEC("uprobe")
int BPF_UPROBE(add_test, struct data *d)
{
	int a = 0, c = 0;

	/*
	 * bpf_core_type_exists() is resolved at load: true when the BTF libbpf relocates against has a
	 * struct data, i.e. the program's BTF was merged in (extraBtf, or a merged btfCustomPath).
	 * Without the merge libbpf has only the kernel's BTF, where no struct data exists: the CO-RE
	 * reads below could not be relocated (libbpf would poison them and the verifier reject the
	 * program), so that branch becomes dead code and the else branch reads at the offsets the
	 * compiler laid out for the struct above, as a uprobe compiled without BTF would (the seed's
	 * BPF_NO_PRESERVE_ACCESS_INDEX case). That is right for the first build and reads b instead of c
	 * in the second.
	 */
	if (bpf_core_type_exists(struct data)) {
		a = BPF_CORE_READ_USER(d, a);
		c = BPF_CORE_READ_USER(d, c);
		result.core = true;
		result.c_offset = bpf_core_field_offset(d->c);
	} else {
		bpf_probe_read_user(&a, sizeof(a), (char *)d + __builtin_offsetof(struct data, a));
		bpf_probe_read_user(&c, sizeof(c), (char *)d + __builtin_offsetof(struct data, c));
		result.core = false;
		result.c_offset = __builtin_offsetof(struct data, c);
	}
	result.a = a;
	result.c = c;
	result.sum = a + c;
	__sync_fetch_and_add(&result.calls, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
