// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* tcpstates: TCP state transitions counted by address family, old state and new state. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bpfkit_metrics.bpf.h"

#define IPPROTO_TCP 6

/* Only connections with this local or remote port (0: every connection). */
const volatile __u16 port = 0;

struct transition {
	__u16 family;
	__u16 old_state;
	__u16 new_state;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct transition);
	__type(value, __u64);
} transitions SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int on_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct transition key = {};

	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	if (port != 0 && ctx->sport != port && ctx->dport != port)
		return 0;
	key.family = ctx->family;
	key.old_state = ctx->oldstate;
	key.new_state = ctx->newstate;
	bpfkit_counter_add(&transitions, &key, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
