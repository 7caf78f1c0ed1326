/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bpfkit_metrics.bpf.h: counting into maps the way bpfkit/metrics reads them. Include it after vmlinux.h
 * and <bpf/bpf_helpers.h>.
 *
 *   struct key { __u32 dev; __u32 op; __u32 slot; };   // labels dev and op; slot: the histogram bucket
 *   key.slot = bpfkit_exp2_slot(latency_us);            // bucketType 'exp2': le = 2^slot
 *   if (key.slot > MAX_SLOT)
 *           key.slot = MAX_SLOT + 1;                    // past bucketMax: counted in le="+Inf" only
 *   bpfkit_counter_add(&latency, &key, 1);
 *   key.slot = MAX_SLOT + 2;                            // the sum, for histogram option sum: { slot }
 *   bpfkit_counter_add(&latency, &key, latency_us);
 *
 * Each slot function gives the bucket whose upper bound (`le`) is the first one >= value, so that the
 * exported histogram is exact.
 */
#ifndef __BPFKIT_METRICS_BPF_H__
#define __BPFKIT_METRICS_BPF_H__

/* The smallest k with 2^k >= value (0 for 0 and 1): bucket type 'exp2', le = 2^k. */
static __always_inline __u32 bpfkit_exp2_slot(__u64 value)
{
	__u64 v, shift;
	__u32 r;

	if (value <= 1)
		return 0;
	v = value - 1;
	shift = (v > 0xffffffffULL) << 5;
	v >>= shift;
	r = shift;
	shift = (v > 0xffff) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xff) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xf) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= v >> 1;
	return r + 1;
}

/* Bucket type 'exp2zero': slot 0 holds zeros (le = 0), slot k >= 1 has le = 2^(k-1). */
static __always_inline __u32 bpfkit_exp2zero_slot(__u64 value)
{
	return value == 0 ? 0 : bpfkit_exp2_slot(value) + 1;
}

/* Bucket type 'linear' with buckets `width` apart: the smallest k with k * width >= value. */
static __always_inline __u32 bpfkit_linear_slot(__u64 value, __u64 width)
{
	return (value + width - 1) / width;
}

/* Adds `n` to the __u64 value of `key`, creating it at 0 first; atomic, so any CPU may count. */
static __always_inline void bpfkit_counter_add(void *map, const void *key, __u64 n)
{
	__u64 *value = bpf_map_lookup_elem(map, key);

	if (!value) {
		__u64 zero = 0;

		bpf_map_update_elem(map, key, &zero, BPF_NOEXIST);
		value = bpf_map_lookup_elem(map, key);
		if (!value)
			return;
	}
	__sync_fetch_and_add(value, n);
}

#endif /* __BPFKIT_METRICS_BPF_H__ */
