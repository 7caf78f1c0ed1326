// The C libbpf side of the startup benchmark: execsnoop's bpftool-generated skeleton (execsnoop.skel.h,
// made from examples/execsnoop.bpf.o by index.ts) opened, loaded and attached, then destroyed.
//   baseline COUNT      (prints JSON: the milliseconds of each open+load+attach, the first one included)
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "execsnoop.skel.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	int count = argc == 2 ? atoi(argv[1]) : 0;
	if (count < 1) {
		fprintf(stderr, "usage: %s COUNT\n", argv[0]);
		return 2;
	}
	printf("{\"ms\":[");
	for (int i = 0; i < count; i++) {
		double t = now_ms();
		struct execsnoop_bpf *skel = execsnoop_bpf__open_and_load();
		if (!skel || execsnoop_bpf__attach(skel) != 0) {
			fprintf(stderr, "baseline: execsnoop_bpf__open_and_load/attach failed\n");
			return 1;
		}
		double ms = now_ms() - t;
		execsnoop_bpf__destroy(skel);
		printf("%s%.3f", i > 0 ? "," : "", ms);
	}
	printf("]}\n");
	return 0;
}
