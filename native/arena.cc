#include "arena.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <string>

#include "errors.h"

namespace bpfkit {
namespace {

// The kernel refuses arenas above 4 GiB when it creates the map, before libbpf maps anything.
constexpr uint64_t kMaxArenaBytes = 1ULL << 32;

std::string Hex(uint64_t value) {
  char text[24];
  snprintf(text, sizeof(text), "0x%" PRIx64, value);
  return text;
}

// Whether the mapping that starts at `address` is still the PROT_NONE anonymous reservation.
bool StillReserved(const ArenaReservation& r) {
  FILE* maps = fopen("/proc/self/maps", "re");
  if (maps == nullptr) return false;
  char line[512];
  bool reserved = false;
  while (fgets(line, sizeof(line), maps) != nullptr) {
    unsigned long start = 0;
    unsigned long end = 0;
    char perms[5] = {};
    unsigned long inode = 1;
    if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &start, &end, perms, &inode) != 4) continue;
    if (start != reinterpret_cast<uintptr_t>(r.address)) continue;
    reserved = std::string(perms) == "---p" && inode == 0;
    break;
  }
  fclose(maps);
  return reserved;
}

}  // namespace

std::vector<ArenaReservation> ReserveArenas(Napi::Env env, struct bpf_object* object) {
  std::vector<ArenaReservation> reserved;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  struct bpf_map* map;
  bpf_object__for_each_map(map, object) {
    uint64_t at = bpf_map__map_extra(map);
    uint64_t bytes = page * bpf_map__max_entries(map);
    if (bpf_map__type(map) != BPF_MAP_TYPE_ARENA || at == 0 || bytes == 0 || bytes > kMaxArenaBytes) continue;
    void* address = reinterpret_cast<void*>(static_cast<uintptr_t>(at));
    void* got = mmap(address, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE and treat the address as a hint.
    int err = got == MAP_FAILED ? errno : got != address ? EEXIST : 0;
    if (got != MAP_FAILED && got != address) munmap(got, bytes);
    if (err != 0) {
      for (const ArenaReservation& r : reserved) munmap(r.address, r.size);
      std::string range = Hex(at) + "–" + Hex(at + bytes);
      std::string name = bpf_map__name(map);
      if (err == EEXIST) {
        throw BpfError(env, "bpf_object__load", "EEXIST",
                       "arena '" + name + "' asks for the fixed address range " + range +
                           " (map_extra), which this process already uses: libbpf would map the arena over it",
                       "set map_extra to 0 (map.mapExtra = 0n before load) to let the kernel choose the address, "
                       "or pick a range the process does not use (see /proc/<pid>/maps)");
      }
      throw BpfError(env, "bpf_object__load", "EINVAL",
                     "arena '" + name + "' cannot be placed at " + range + " (map_extra): " +
                         (at % page != 0 ? "the address is not page-aligned" : "the address is not a user address"));
    }
    reserved.push_back({address, bytes});
  }
  return reserved;
}

void ReleaseArenas(std::vector<ArenaReservation>* reservations) {
  for (const ArenaReservation& r : *reservations) {
    if (StillReserved(r)) munmap(r.address, r.size);
  }
  reservations->clear();
}

}  // namespace bpfkit
