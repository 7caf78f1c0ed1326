/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bpfkit.bpf.h: the BPF-side companion of bpfkit's event readers (ring buffers; BPFKIT_PERFBUF for perf
 * buffers is at the end). Include it after vmlinux.h and <bpf/bpf_helpers.h>; find it with
 * -I node_modules/bpfkit/bpf/include (`bpfkit build` adds it).
 *
 *   struct event { int pid; char comm[16]; };
 *   BPFKIT_RINGBUF(events, struct event, 256 * 1024);
 *
 *   struct event *e = bpfkit_ringbuf_reserve(&events, sizeof(*e));
 *   if (!e)
 *           return 0;                     // counted: the reader's stats().dropped says how many
 *   e->pid = bpf_get_current_pid_tgid() >> 32;
 *   bpfkit_ringbuf_submit(&events, e);    // wakes the reader as it configured (rb.wakeup)
 *
 * In JavaScript, obj.ringBuffer('events') then yields decoded `struct event` objects.
 * Needs Linux >= 5.10 (BPF programs reading a map's id) and the CO-RE struct bpf_map of vmlinux.h.
 */
#ifndef __BPFKIT_BPF_H__
#define __BPFKIT_BPF_H__

/* What the reader of a ring buffer configured (user space writes it; programs only read it). */
struct bpfkit_ringbuf_config {
	__u64 wakeup_bytes; /* 0: the kernel's wakeups; else none until this many bytes wait */
};

/* Per BPFKIT_RINGBUF of the object, keyed by the ring buffer map's id: the reader's configuration... */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct bpfkit_ringbuf_config);
} bpfkit_ringbuf_config SEC(".maps");

/* ...and, per CPU, the reservations and outputs that failed because the ring was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} bpfkit_ringbuf_dropped SEC(".maps");

/*
 * Declares ring buffer map `name` of `size_bytes` (a power of 2, a multiple of the page size) whose
 * events are `event_type`. The type is recorded in BTF (the pointer `<name>__bpfkit_event`), so the
 * reader decodes events with no option.
 */
#define BPFKIT_RINGBUF(name, event_type, size_bytes)                                               \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, size_bytes);                                                   \
	} name SEC(".maps");                                                                       \
	event_type *name##__bpfkit_event __attribute__((btf_decl_tag("bpfkit.ringbuf_event")))

/*
 * Declares user ring buffer map `name` of `size_bytes` (a power of 2, a multiple of the page size)
 * whose records, written from JavaScript with obj.userRingBuffer(name).write(record), are
 * `record_type`; programs drain them with bpf_user_ringbuf_drain(&name, callback, ctx, 0).
 */
#define BPFKIT_USER_RINGBUF(name, record_type, size_bytes)                                         \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_USER_RINGBUF);                                           \
		__uint(max_entries, size_bytes);                                                   \
	} name SEC(".maps");                                                                       \
	record_type *name##__bpfkit_event __attribute__((btf_decl_tag("bpfkit.user_ringbuf_record")))

static __always_inline void bpfkit__ringbuf_dropped(void *ringbuf)
{
	__u32 id = ((struct bpf_map *)ringbuf)->id;
	__u64 *dropped = bpf_map_lookup_elem(&bpfkit_ringbuf_dropped, &id);
	if (!dropped) {
		__u64 zero = 0;
		bpf_map_update_elem(&bpfkit_ringbuf_dropped, &id, &zero, BPF_NOEXIST);
		dropped = bpf_map_lookup_elem(&bpfkit_ringbuf_dropped, &id);
	}
	if (dropped)
		__sync_fetch_and_add(dropped, 1);
}

/*
 * The wakeup flags for a record of `size` bytes: the kernel's choice, or the reader's threshold
 * policy — a forced wakeup only for the record that brings the waiting data to the threshold, none
 * for the others (the reader's latency timer drains what stays below it). `pending`: the record is
 * already reserved, so the waiting data includes it.
 */
static __always_inline __u64 bpfkit__ringbuf_wakeup(void *ringbuf, __u64 size, int pending)
{
	__u32 id = ((struct bpf_map *)ringbuf)->id;
	struct bpfkit_ringbuf_config *config = bpf_map_lookup_elem(&bpfkit_ringbuf_config, &id);
	if (!config || !config->wakeup_bytes)
		return 0;
	__u64 record = (size + 8 + 7) & ~7ULL; /* the 8-byte record header, 8-byte aligned */
	__u64 after = bpf_ringbuf_query(ringbuf, BPF_RB_AVAIL_DATA) + (pending ? 0 : record);
	return after >= config->wakeup_bytes && after < config->wakeup_bytes + record ? BPF_RB_FORCE_WAKEUP
										      : BPF_RB_NO_WAKEUP;
}

/* bpf_ringbuf_reserve that counts every failure (per CPU, exactly). */
static __always_inline void *bpfkit_ringbuf_reserve(void *ringbuf, __u64 size)
{
	void *data = bpf_ringbuf_reserve(ringbuf, size, 0);
	if (!data)
		bpfkit__ringbuf_dropped(ringbuf);
	return data;
}

static __always_inline void bpfkit__ringbuf_submit(void *ringbuf, void *data, __u64 size)
{
	bpf_ringbuf_submit(data, bpfkit__ringbuf_wakeup(ringbuf, size, 1));
}

/* bpf_ringbuf_submit with the wakeup policy the reader configured (`data` points to the event type). */
#define bpfkit_ringbuf_submit(ringbuf, data) bpfkit__ringbuf_submit((ringbuf), (data), sizeof(*(data)))

/* bpf_ringbuf_discard, for symmetry: a discarded record is not a drop. */
static __always_inline void bpfkit_ringbuf_discard(void *ringbuf, void *data)
{
	bpf_ringbuf_discard(data, 0);
}

/* bpf_ringbuf_output (a copy of `size` bytes) with the configured wakeups; failures are counted. */
static __always_inline long bpfkit_ringbuf_output(void *ringbuf, void *data, __u64 size)
{
	long err = bpf_ringbuf_output(ringbuf, data, size, bpfkit__ringbuf_wakeup(ringbuf, size, 0));
	if (err)
		bpfkit__ringbuf_dropped(ringbuf);
	return err;
}

/*
 * Declares perf event array `name` whose events are `event_type`, recorded in BTF as BPFKIT_RINGBUF
 * records its type, so that obj.perfBuffer('name') decodes them with no option:
 *
 *   BPFKIT_PERFBUF(samples, struct event);
 *   bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &e, sizeof(e));
 */
#define BPFKIT_PERFBUF(name, event_type)                                                           \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);                                       \
		__uint(key_size, sizeof(__u32));                                                   \
		__uint(value_size, sizeof(__u32));                                                 \
	} name SEC(".maps");                                                                       \
	event_type *name##__bpfkit_event __attribute__((btf_decl_tag("bpfkit.perfbuf_event")))

#endif /* __BPFKIT_BPF_H__ */
