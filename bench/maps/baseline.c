// The C libbpf baseline of the maps benchmark: the same bpf_map_* measurements, printed as JSON ops/s.
//   baseline MAPS_BPF_O SINGLE_OPS BATCH_ENTRIES CONN_ENTRIES
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// Must match struct value in maps.bpf.c.
struct value {
	uint64_t packets;
	uint64_t bytes;
	uint32_t flags;
	uint32_t pad;
};

// Must match struct conn_key and struct conn_stats in maps.bpf.c.
struct conn_key {
	uint32_t saddr;
	uint32_t daddr;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
};

struct conn_stats {
	char tag[4];
	uint32_t flags;
	uint64_t packets;
	uint64_t bytes;
};

// Same as bpfkit's batch chunk for lookups (lib/map.ts).
#define CHUNK 4096

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Each measurement's rate in wall time and in CPU time (which other processes on the CPU disturb less).
struct timer {
	double wall, cpu;
};

static struct timer start(void)
{
	return (struct timer){ now(), cpu_now() };
}

static struct timer rate(double count, struct timer since)
{
	return (struct timer){ count / (now() - since.wall), count / (cpu_now() - since.cpu) };
}

static void die(const char *what)
{
	fprintf(stderr, "baseline: %s: %s\n", what, strerror(errno));
	exit(1);
}

// The value the benchmark stores under key k (index.ts builds the same).
static struct value value_of(uint32_t k)
{
	return (struct value){ .packets = k, .bytes = (uint64_t)k * 64, .flags = k & 0xff };
}

// The connection entry i (index.ts builds the same); padding zeroed, as bpfkit's encoder zeroes it.
static void conn_of(uint32_t i, struct conn_key *k, struct conn_stats *v)
{
	memset(k, 0, sizeof(*k));
	k->saddr = 0x0a000000 + i;
	k->daddr = 0x0a000001;
	k->sport = 1024 + i % 60000;
	k->dport = 443;
	k->proto = i & 1 ? 17 : 6;
	memset(v, 0, sizeof(*v));
	memcpy(v->tag, i & 1 ? "udp" : "tcp", 3);
	v->flags = i & 0xff;
	v->packets = i;
	v->bytes = (uint64_t)i * 1500;
}

// Reads every entry of map fd into keys/values, CHUNK at a time, until ENOENT; returns how many.
static uint32_t lookup_all(int fd, void *keys, size_t key_size, void *values, size_t value_size, uint32_t limit)
{
	uint32_t total = 0, count;
	uint8_t token[64];
	for (int first = 1; total <= limit; first = 0) {
		count = CHUNK;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : token, token, (uint8_t *)keys + total * key_size,
					      (uint8_t *)values + total * value_size, &count, NULL);
		if (rc != 0 && errno != ENOENT) die("bpf_map_lookup_batch");
		total += count;
		if (rc != 0) break;
	}
	return total;
}

// Removes keys[0..n) (all present), untimed, between phases.
static void delete_all(int fd, uint32_t *keys, uint32_t n)
{
	uint32_t count = n;
	if (bpf_map_delete_batch(fd, keys, &count, NULL) != 0 || count != n)
		die("bpf_map_delete_batch (clear)");
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s MAPS_BPF_O SINGLE_OPS BATCH_ENTRIES CONN_ENTRIES\n", argv[0]);
		return 2;
	}
	uint32_t ops = strtoul(argv[2], NULL, 10);
	uint32_t n = strtoul(argv[3], NULL, 10);
	uint32_t conns = strtoul(argv[4], NULL, 10);

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) die("bpf_object__open_file");
	if (bpf_object__load(obj) != 0) die("bpf_object__load");
	struct bpf_map *map = bpf_object__find_map_by_name(obj, "flows");
	if (!map) die("bpf_object__find_map_by_name");
	int fd = bpf_map__fd(map);

	// Inputs built (and their pages touched) before any timing, as index.ts builds its arrays.
	uint32_t *keys = malloc(n * sizeof(*keys));
	struct value *values = malloc(n * sizeof(*values));
	// Room for n entries plus one chunk, so a full-size chunk always fits.
	uint32_t *out_keys = malloc((n + CHUNK) * sizeof(*out_keys));
	struct value *out_values = malloc((n + CHUNK) * sizeof(*out_values));
	if (!keys || !values || !out_keys || !out_values) die("malloc");
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = i;
		values[i] = value_of(i);
	}
	memset(out_keys, 0, (n + CHUNK) * sizeof(*out_keys));
	memset(out_values, 0, (n + CHUNK) * sizeof(*out_values));
	uint64_t check = 0;

	// 1. Single-element update: ops updates cycling over n keys (the first pass inserts).
	struct timer t = start();
	for (uint32_t i = 0; i < ops; i++) {
		uint32_t k = i % n;
		if (bpf_map_update_elem(fd, &k, &values[k], BPF_ANY) != 0) die("bpf_map_update_elem");
	}
	struct timer update = rate(ops, t);

	// 2. Single-element lookup of the same keys.
	t = start();
	for (uint32_t i = 0; i < ops; i++) {
		uint32_t k = i % n;
		struct value v;
		if (bpf_map_lookup_elem(fd, &k, &v) != 0) die("bpf_map_lookup_elem");
		check += v.packets;
	}
	struct timer lookup = rate(ops, t);

	// 3. Batch update of n entries into the emptied map, one call.
	delete_all(fd, keys, n);
	uint32_t count = n;
	t = start();
	if (bpf_map_update_batch(fd, keys, values, &count, NULL) != 0 || count != n) die("bpf_map_update_batch");
	struct timer update_batch = rate(n, t);

	// 4. Batch lookup of every entry, CHUNK at a time, until ENOENT.
	t = start();
	uint32_t total = lookup_all(fd, out_keys, sizeof(*out_keys), out_values, sizeof(*out_values), n);
	struct timer lookup_batch = rate(total, t);
	if (total != n) {
		fprintf(stderr, "baseline: bpf_map_lookup_batch read %u entries, expected %u\n", total, n);
		return 1;
	}
	for (uint32_t i = 0; i < total; i++) check += out_values[i].bytes;

	// 5. Batch delete of every key, one call.
	count = n;
	t = start();
	if (bpf_map_delete_batch(fd, keys, &count, NULL) != 0 || count != n) die("bpf_map_delete_batch");
	struct timer delete_batch = rate(n, t);

	// 6. Connections (struct key, value with a char[4] and u64s): batch update, then batch lookup of all.
	int conn_fd = bpf_map__fd(bpf_object__find_map_by_name(obj, "conns"));
	struct conn_key *ckeys = calloc(conns + CHUNK, sizeof(*ckeys));
	struct conn_stats *cvalues = calloc(conns + CHUNK, sizeof(*cvalues));
	struct conn_key *out_ckeys = calloc(conns + CHUNK, sizeof(*out_ckeys));
	struct conn_stats *out_cvalues = calloc(conns + CHUNK, sizeof(*out_cvalues));
	if (!ckeys || !cvalues || !out_ckeys || !out_cvalues) die("calloc");
	for (uint32_t i = 0; i < conns; i++) conn_of(i, &ckeys[i], &cvalues[i]);
	count = conns;
	t = start();
	if (bpf_map_update_batch(conn_fd, ckeys, cvalues, &count, NULL) != 0 || count != conns) die("bpf_map_update_batch(conns)");
	struct timer conn_update_batch = rate(conns, t);
	t = start();
	total = lookup_all(conn_fd, out_ckeys, sizeof(*out_ckeys), out_cvalues, sizeof(*out_cvalues), conns);
	struct timer conn_lookup_batch = rate(total, t);
	if (total != conns) {
		fprintf(stderr, "baseline: bpf_map_lookup_batch(conns) read %u entries, expected %u\n", total, conns);
		return 1;
	}
	for (uint32_t i = 0; i < total; i++) check += out_cvalues[i].packets;
	count = conns;
	if (bpf_map_delete_batch(conn_fd, ckeys, &count, NULL) != 0 || count != conns) die("bpf_map_delete_batch(conns)");

	const char *format = "{\"update\":%.0f,\"lookup\":%.0f,\"updateBatch\":%.0f,\"lookupBatch\":%.0f,\"deleteBatch\":%.0f,"
			     "\"connUpdateBatch\":%.0f,\"connLookupBatch\":%.0f";
	printf(format, update.wall, lookup.wall, update_batch.wall, lookup_batch.wall, delete_batch.wall, conn_update_batch.wall,
	       conn_lookup_batch.wall);
	printf(",\"cpu\":");
	printf(format, update.cpu, lookup.cpu, update_batch.cpu, lookup_batch.cpu, delete_batch.cpu, conn_update_batch.cpu,
	       conn_lookup_batch.cpu);
	printf("},\"check\":%llu}\n", (unsigned long long)check);
	bpf_object__close(obj);
	return 0;
}
