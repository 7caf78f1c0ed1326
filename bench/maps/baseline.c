// The C libbpf baseline of the maps benchmark: the same five bpf_map_* measurements, printed as JSON ops/s.
//   baseline MAPS_BPF_O SINGLE_OPS BATCH_ENTRIES
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

// Same as bpfkit's batch chunk for lookups (lib/map.ts).
#define CHUNK 4096

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

// Removes keys[0..n) (all present), untimed, between phases.
static void delete_all(int fd, uint32_t *keys, uint32_t n)
{
	uint32_t count = n;
	if (bpf_map_delete_batch(fd, keys, &count, NULL) != 0 || count != n)
		die("bpf_map_delete_batch (clear)");
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s MAPS_BPF_O SINGLE_OPS BATCH_ENTRIES\n", argv[0]);
		return 2;
	}
	uint32_t ops = strtoul(argv[2], NULL, 10);
	uint32_t n = strtoul(argv[3], NULL, 10);

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
	double t = now();
	for (uint32_t i = 0; i < ops; i++) {
		uint32_t k = i % n;
		if (bpf_map_update_elem(fd, &k, &values[k], BPF_ANY) != 0) die("bpf_map_update_elem");
	}
	double update = ops / (now() - t);

	// 2. Single-element lookup of the same keys.
	t = now();
	for (uint32_t i = 0; i < ops; i++) {
		uint32_t k = i % n;
		struct value v;
		if (bpf_map_lookup_elem(fd, &k, &v) != 0) die("bpf_map_lookup_elem");
		check += v.packets;
	}
	double lookup = ops / (now() - t);

	// 3. Batch update of n entries into the emptied map, one call.
	delete_all(fd, keys, n);
	uint32_t count = n;
	t = now();
	if (bpf_map_update_batch(fd, keys, values, &count, NULL) != 0 || count != n) die("bpf_map_update_batch");
	double update_batch = n / (now() - t);

	// 4. Batch lookup of every entry, CHUNK at a time, until ENOENT.
	uint32_t total = 0, token = 0;
	t = now();
	for (int first = 1; total <= n; first = 0) {
		count = CHUNK;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, out_keys + total, out_values + total,
					      &count, NULL);
		if (rc != 0 && errno != ENOENT) die("bpf_map_lookup_batch");
		total += count;
		if (rc != 0) break;
	}
	double lookup_batch = total / (now() - t);
	if (total != n) {
		fprintf(stderr, "baseline: bpf_map_lookup_batch read %u entries, expected %u\n", total, n);
		return 1;
	}
	for (uint32_t i = 0; i < total; i++) check += out_values[i].bytes;

	// 5. Batch delete of every key, one call.
	count = n;
	t = now();
	if (bpf_map_delete_batch(fd, keys, &count, NULL) != 0 || count != n) die("bpf_map_delete_batch");
	double delete_batch = n / (now() - t);

	printf("{\"update\":%.0f,\"lookup\":%.0f,\"updateBatch\":%.0f,\"lookupBatch\":%.0f,\"deleteBatch\":%.0f,"
	       "\"check\":%llu}\n",
	       update, lookup, update_batch, lookup_batch, delete_batch, (unsigned long long)check);
	bpf_object__close(obj);
	return 0;
}
