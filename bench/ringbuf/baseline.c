// The C libbpf side of the ring buffer benchmark: drain and live consumers, and the getegid() load generator.
//   baseline drain RINGBUF_BPF_O SHAPE EVENTS ROUNDS                      (SHAPE: 32, 256, exec or mixed; prints JSON events/s per round)
//   baseline live RINGBUF_BPF_O SECONDS BURST [WAKEUP_BYTES LATENCY_MS]   (prints JSON; no bytes: kernel wakeups)
//   baseline generate SECONDS CPU      (on CPU: waits for a byte on stdin, calls getegid() for SECONDS, prints JSON)
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Must match struct settings in ringbuf.bpf.c.
struct settings {
	uint32_t fill_events;
	uint32_t fill_ring;
	uint32_t tgid;
	uint32_t burst;
};

// What the sample callback accumulates: the work index.ts's consumers do per event.
struct tally {
	uint64_t count;
	uint64_t sum;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// CPU seconds (user + system) this process has used: the consumer's cost (the generator is a child).
static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0) die("sched_setaffinity");
}

// Reads the first field of each event (seq, a u64, in struct ev32, ev256 and ev_mixed) and sums it.
static int on_sample(void *ctx, void *data, size_t size)
{
	struct tally *t = ctx;
	t->sum += *(const uint64_t *)data;
	t->count++;
	return 0;
}

// The same for struct ev_exec, whose first field (pid, the sequence number) is a u32.
static int on_exec(void *ctx, void *data, size_t size)
{
	struct tally *t = ctx;
	t->sum += *(const uint32_t *)data;
	t->count++;
	return 0;
}

// The event shapes of ringbuf.bpf.c: the ring each is in and the filler's number for it.
static const struct shape {
	const char *name;
	const char *ring;
	uint32_t fill;
	ring_buffer_sample_fn sample;
} shapes[] = {
	{ "32", "rb32", 0, on_sample },
	{ "256", "rb256", 1, on_sample },
	{ "exec", "rbexec", 2, on_exec },
	{ "mixed", "rbmixed", 3, on_sample },
};

static struct bpf_object *open_and_load(const char *path)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	if (!obj) die("bpf_object__open_file");
	if (bpf_object__load(obj) != 0) die("bpf_object__load");
	return obj;
}

static int map_fd(struct bpf_object *obj, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(obj, name);
	if (!map) die(name);
	return bpf_map__fd(map);
}

static void configure(struct bpf_object *obj, struct settings s)
{
	uint32_t zero = 0;
	if (bpf_map_update_elem(map_fd(obj, "settings"), &zero, &s, BPF_ANY) != 0) die("bpf_map_update_elem(settings)");
}

static uint32_t map_id(int fd)
{
	struct bpf_map_info info = { 0 };
	uint32_t len = sizeof(info);
	if (bpf_map_get_info_by_fd(fd, &info, &len) != 0) die("bpf_map_get_info_by_fd");
	return info.id;
}

// Pre-fills one ring with `events` events, then times ring_buffer__consume until all are read.
static int drain(const char *path, const char *name, uint32_t events, int rounds)
{
	const struct shape *shape = NULL;
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (strcmp(shapes[i].name, name) == 0) shape = &shapes[i];
	if (!shape) {
		fprintf(stderr, "baseline: no event shape %s\n", name);
		return 2;
	}
	struct bpf_object *obj = open_and_load(path);
	configure(obj, (struct settings){ .fill_events = events, .fill_ring = shape->fill });
	struct tally tally;
	struct ring_buffer *rb = ring_buffer__new(map_fd(obj, shape->ring), shape->sample, &tally, NULL);
	if (!rb) die("ring_buffer__new");
	int fill = bpf_program__fd(bpf_object__find_program_by_name(obj, "fill"));
	uint64_t expected = (uint64_t)events * (events - 1) / 2;

	// Round 0 warms up (page faults in the ring's consumer mapping, caches) and is not printed. Each
	// round's rate is measured in wall time and in CPU time (the latter is what other processes on the
	// CPU do not disturb).
	double cpu_rates[rounds + 1];
	printf("{\"rates\":[");
	for (int round = 0; round <= rounds; round++) {
		LIBBPF_OPTS(bpf_test_run_opts, run);
		if (bpf_prog_test_run_opts(fill, &run) != 0) die("bpf_prog_test_run_opts(fill)");
		if (run.retval != events) {
			fprintf(stderr, "baseline: the filler emitted %u events, expected %u\n", run.retval, events);
			return 1;
		}
		tally = (struct tally){ 0 };
		double t = now(), cpu = cpu_seconds();
		while (tally.count < events) {
			int err = ring_buffer__consume(rb);
			if (err < 0) {
				errno = -err;
				die("ring_buffer__consume");
			}
		}
		double rate = events / (now() - t);
		cpu_rates[round] = events / (cpu_seconds() - cpu);
		if (tally.count != events || tally.sum != expected) {
			fprintf(stderr, "baseline: consumed %llu events summing to %llu, expected %u summing to %llu\n",
				(unsigned long long)tally.count, (unsigned long long)tally.sum, events,
				(unsigned long long)expected);
			return 1;
		}
		if (round > 0) printf("%s%.0f", round > 1 ? "," : "", rate);
	}
	printf("],\"cpuRates\":[");
	for (int round = 1; round <= rounds; round++) printf("%s%.0f", round > 1 ? "," : "", cpu_rates[round]);
	printf("]}\n");
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}

// Calls getegid() (the real syscall: glibc does not cache it) for `seconds` once a byte arrives on stdin.
static int generate(double seconds, int cpu)
{
	pin(cpu);
	char go;
	if (read(0, &go, 1) != 1) die("read(go)");
	uint64_t calls = 0;
	double start = now(), end = start + seconds, t = start;
	while (t < end) {
		for (int i = 0; i < 64; i++) syscall(SYS_getegid);
		calls += 64;
		t = now();
	}
	printf("{\"calls\":%llu,\"seconds\":%.6f}\n", (unsigned long long)calls, t - start);
	return 0;
}

static volatile sig_atomic_t generator_exited;

static void on_sigchld(int sig)
{
	(void)sig;
	generator_exited = 1;
}

// Starts `self generate seconds 1` with pipes on its stdin (the go byte) and stdout (its JSON line).
static pid_t spawn_generator(double seconds, int *go_fd, FILE **result)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0) die("pipe");
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		char arg[32];
		snprintf(arg, sizeof(arg), "%f", seconds);
		execl("/proc/self/exe", "baseline", "generate", arg, "1", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*go_fd = in[1];
	*result = fdopen(out[0], "r");
	return pid;
}

// The events the program could not reserve, summed over CPUs (bpfkit.bpf.h's per-CPU count).
static uint64_t dropped(struct bpf_object *obj, uint32_t ring_id)
{
	int cpus = libbpf_num_possible_cpus();
	uint64_t counts[cpus], total = 0;
	if (bpf_map_lookup_elem(map_fd(obj, "bpfkit_ringbuf_dropped"), &ring_id, counts) != 0) return 0;
	for (int i = 0; i < cpus; i++) total += counts[i];
	return total;
}

// Consumes the generator's events for its whole run: with wakeup_bytes 0 the kernel wakes us as it likes;
// else (the threshold policy) only once wakeup_bytes wait, and we drain at least every latency_ms.
static int live(const char *path, double seconds, uint32_t burst, uint64_t wakeup_bytes, int latency_ms)
{
	struct bpf_object *obj = open_and_load(path);
	int ring_fd = map_fd(obj, "rb32");
	uint32_t ring_id = map_id(ring_fd);
	if (wakeup_bytes > 0 &&
	    bpf_map_update_elem(map_fd(obj, "bpfkit_ringbuf_config"), &ring_id, &wakeup_bytes, BPF_ANY) != 0)
		die("bpf_map_update_elem(bpfkit_ringbuf_config)");
	struct tally tally = { 0 };
	struct ring_buffer *rb = ring_buffer__new(ring_fd, on_sample, &tally, NULL);
	if (!rb) die("ring_buffer__new");
	struct bpf_link *link = bpf_program__attach(bpf_object__find_program_by_name(obj, "live"));
	if (!link) die("bpf_program__attach(live)");

	// No SA_RESTART: the generator's exit interrupts epoll_wait.
	struct sigaction sa = { .sa_handler = on_sigchld };
	sigaction(SIGCHLD, &sa, NULL);
	int go;
	FILE *result;
	pid_t pid = spawn_generator(seconds, &go, &result);
	configure(obj, (struct settings){ .tgid = pid, .burst = burst });

	double start = now(), last = start, cpu = cpu_seconds();
	if (write(go, "g", 1) != 1) die("write(go)");
	uint64_t expected = UINT64_MAX, drops = 0;
	unsigned long long calls = 0;
	int timeout = wakeup_bytes > 0 ? latency_ms : 100;
	while (tally.count < expected) {
		int n = ring_buffer__poll(rb, timeout);
		if (n == -EINTR) n = 0;
		if (n < 0) {
			errno = -n;
			die("ring_buffer__poll");
		}
		// epoll_wait timed out: the latency bound of the threshold policy.
		if (n == 0 && wakeup_bytes > 0) n = ring_buffer__consume(rb);
		if (n > 0) last = now();
		if (generator_exited && expected == UINT64_MAX) {
			double ran;
			if (waitpid(pid, NULL, 0) != pid) die("waitpid");
			if (fscanf(result, "{\"calls\":%llu,\"seconds\":%lf}", &calls, &ran) != 2) die("generator output");
			drops = dropped(obj, ring_id);
			expected = calls * burst - drops;
		}
	}
	// The consumer's CPU time per second of the run (the wait after the last event is spent blocked).
	cpu = (cpu_seconds() - cpu) / (last - start);
	if (tally.count != expected) {
		fprintf(stderr, "baseline: consumed %llu events, expected %llu\n", (unsigned long long)tally.count,
			(unsigned long long)expected);
		return 1;
	}
	printf("{\"events\":%llu,\"dropped\":%llu,\"produced\":%llu,\"seconds\":%.6f,\"rate\":%.0f,\"cpu\":%.4f}\n",
	       (unsigned long long)tally.count, (unsigned long long)drops, calls * burst, last - start,
	       tally.count / (last - start), cpu);
	bpf_link__destroy(link);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "drain") == 0)
		return drain(argv[2], argv[3], strtoul(argv[4], NULL, 10), atoi(argv[5]));
	if ((argc == 5 || argc == 7) && strcmp(argv[1], "live") == 0)
		return live(argv[2], atof(argv[3]), strtoul(argv[4], NULL, 10), argc == 7 ? strtoull(argv[5], NULL, 10) : 0,
			    argc == 7 ? atoi(argv[6]) : 0);
	if (argc == 4 && strcmp(argv[1], "generate") == 0) return generate(atof(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: %s drain RINGBUF_BPF_O SHAPE EVENTS ROUNDS\n"
			"       %s live RINGBUF_BPF_O SECONDS BURST [WAKEUP_BYTES LATENCY_MS]\n"
			"       %s generate SECONDS CPU\n",
		argv[0], argv[0], argv[0]);
	return 2;
}
