// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * biolatency: block I/O latency from issue to completion, as a log2 histogram in microseconds by disk and
 * operation, plus requests and bytes by disk and operation (block tracepoints).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpfkit_metrics.bpf.h"

#define MAX_SLOT 26
#define OVERFLOW_SLOT (MAX_SLOT + 1)
#define SUM_SLOT (MAX_SLOT + 2)

enum { IO_READ, IO_WRITE, IO_FLUSH, IO_DISCARD, IO_OTHER };

/* No padding: a hash key's every byte counts, and padding left uninitialised would never match. */
struct request_id {
	__u64 sector;
	__u32 dev;
	__u32 zero;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct request_id);
	__type(value, __u64);
} issued SEC(".maps");

/* dev is the kernel's dev_t (major << 20 | minor). */
struct disk_op {
	__u32 dev;
	__u32 op;
};

struct latency_key {
	struct disk_op disk;
	__u32 slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct latency_key);
	__type(value, __u64);
} io_latency SEC(".maps");

struct io_totals {
	__u64 requests;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct disk_op);
	__type(value, struct io_totals);
} io_totals SEC(".maps");

static __always_inline __u32 operation(const char *rwbs)
{
	switch (rwbs[0]) {
	case 'R':
		return IO_READ;
	case 'W':
		return IO_WRITE;
	case 'F':
		return IO_FLUSH;
	case 'D':
		return IO_DISCARD;
	default:
		return IO_OTHER;
	}
}

SEC("tracepoint/block/block_rq_issue")
int on_issue(struct trace_event_raw_block_rq *ctx)
{
	struct request_id id = { .sector = ctx->sector, .dev = ctx->dev, .zero = 0 };
	__u64 now = bpf_ktime_get_ns();

	bpf_map_update_elem(&issued, &id, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int on_complete(struct trace_event_raw_block_rq_completion *ctx)
{
	struct request_id id = { .sector = ctx->sector, .dev = ctx->dev, .zero = 0 };
	struct latency_key key = {};
	struct io_totals *totals;
	__u64 *start, us;
	__u32 slot;

	start = bpf_map_lookup_elem(&issued, &id);
	if (!start)
		return 0;
	us = (bpf_ktime_get_ns() - *start) / 1000;
	bpf_map_delete_elem(&issued, &id);

	key.disk.dev = ctx->dev;
	key.disk.op = operation(ctx->rwbs);
	slot = bpfkit_exp2_slot(us);
	key.slot = slot > MAX_SLOT ? OVERFLOW_SLOT : slot;
	bpfkit_counter_add(&io_latency, &key, 1);
	key.slot = SUM_SLOT;
	bpfkit_counter_add(&io_latency, &key, us);

	totals = bpf_map_lookup_elem(&io_totals, &key.disk);
	if (!totals) {
		struct io_totals zero = {};

		bpf_map_update_elem(&io_totals, &key.disk, &zero, BPF_NOEXIST);
		totals = bpf_map_lookup_elem(&io_totals, &key.disk);
		if (!totals)
			return 0;
	}
	__sync_fetch_and_add(&totals->requests, 1);
	__sync_fetch_and_add(&totals->bytes, (__u64)ctx->nr_sector * 512);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
