// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The producers of the ring buffer benchmark: a test-run filler of each event shape, and a getegid()
 * tracepoint for live load. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpfkit.bpf.h"

/* Written by the consumer (key 0) before it runs a program; bpfkit and baseline.c write the same. */
struct settings {
	__u32 fill_events; /* events the filler emits per test run */
	__u32 fill_ring;   /* which ring the filler writes: 0 rb32, 1 rb256, 2 rbexec, 3 rbmixed */
	__u32 tgid;        /* the load generator: the only process whose getegid() emits */
	__u32 burst;       /* events per getegid() */
};

struct ev32 {
	__u64 seq;
	__u64 a;
	__u64 b;
	__u64 c;
};

struct ev256 {
	__u64 seq;
	__u8 pad[248];
};

/* What execsnoop reports of an exec; pid is the sequence number. */
struct ev_exec {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	char comm[16];
	char filename[127];
};

struct flow_key {
	__u32 saddr;
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u8 proto;
};

/* Small arrays and a nested struct. */
struct ev_mixed {
	__u64 seq;
	__u8 data[16];
	__u32 addrs[4];
	struct flow_key flow;
};

/* Filenames of realistic lengths, copied as bpf_probe_read_user_str copies them (no zeroing past the NUL). */
const volatile char filenames[4][64] = {
	"/usr/bin/node",
	"/bin/sh",
	"/usr/lib/x86_64-linux-gnu/libexec/sudo/sudo_intercept.so",
	"/usr/local/bin/python3.11",
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} settings SEC(".maps");

/* Big enough to hold a whole pre-fill: 1M 32-byte events take 40 MB with their 8-byte headers. */
BPFKIT_RINGBUF(rb32, struct ev32, 64 << 20);
BPFKIT_RINGBUF(rb256, struct ev256, 64 << 20);
BPFKIT_RINGBUF(rbexec, struct ev_exec, 64 << 20);
BPFKIT_RINGBUF(rbmixed, struct ev_mixed, 64 << 20);

/* Stops the loop when the ring is full (the filler's caller sees fewer events than it asked for). */
static long fill32(__u64 i, void *ctx)
{
	struct ev32 *e = bpfkit_ringbuf_reserve(&rb32, sizeof(*e));

	if (!e)
		return 1;
	e->seq = i;
	e->a = i;
	e->b = 0;
	e->c = 0;
	bpfkit_ringbuf_submit(&rb32, e);
	return 0;
}

static long fill256(__u64 i, void *ctx)
{
	struct ev256 *e = bpfkit_ringbuf_reserve(&rb256, sizeof(*e));

	if (!e)
		return 1;
	e->seq = i;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpfkit_ringbuf_submit(&rb256, e);
	return 0;
}

static long fill_exec(__u64 i, void *ctx)
{
	struct ev_exec *e = bpfkit_ringbuf_reserve(&rbexec, sizeof(*e));

	if (!e)
		return 1;
	e->pid = i;
	e->ppid = 1000 + (i & 255);
	e->uid = i & 1 ? 0 : 1000;
	__builtin_memcpy(e->comm, "bench-worker-01", 16);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), (const char *)filenames[i & 3]);
	bpfkit_ringbuf_submit(&rbexec, e);
	return 0;
}

static long fill_mixed(__u64 i, void *ctx)
{
	struct ev_mixed *e = bpfkit_ringbuf_reserve(&rbmixed, sizeof(*e));

	if (!e)
		return 1;
	e->seq = i;
	for (int k = 0; k < 16; k++)
		e->data[k] = i + k;
	for (int k = 0; k < 4; k++)
		e->addrs[k] = 0x0a000000 + i + k;
	e->flow.saddr = 0x0100000a;
	e->flow.daddr = 0x0200000a + i;
	e->flow.sport = 40000 + (i & 1023);
	e->flow.dport = 443;
	e->flow.proto = 6;
	bpfkit_ringbuf_submit(&rbmixed, e);
	return 0;
}

/* Pre-fills one ring with fill_events events numbered 0, 1, …; returns how many it emitted. */
SEC("raw_tp")
int fill(void *ctx)
{
	__u32 zero = 0;
	struct settings *s = bpf_map_lookup_elem(&settings, &zero);

	if (!s)
		return -1;
	switch (s->fill_ring) {
	case 0:
		return bpf_loop(s->fill_events, fill32, NULL, 0);
	case 1:
		return bpf_loop(s->fill_events, fill256, NULL, 0);
	case 2:
		return bpf_loop(s->fill_events, fill_exec, NULL, 0);
	default:
		return bpf_loop(s->fill_events, fill_mixed, NULL, 0);
	}
}

/* Live events keep going when the ring is full: each failed reservation is a counted drop. */
static long emit32(__u64 i, void *ctx)
{
	struct ev32 *e = bpfkit_ringbuf_reserve(&rb32, sizeof(*e));

	if (!e)
		return 0;
	e->seq = i;
	e->a = 0;
	e->b = 0;
	e->c = 0;
	bpfkit_ringbuf_submit(&rb32, e);
	return 0;
}

/* The live producer: a burst of 32-byte events per getegid() of the load generator. */
SEC("tracepoint/syscalls/sys_enter_getegid")
int live(void *ctx)
{
	__u32 zero = 0;
	struct settings *s = bpf_map_lookup_elem(&settings, &zero);

	if (!s || s->tgid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	bpf_loop(s->burst, emit32, NULL, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
