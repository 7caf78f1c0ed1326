// Arena maps at a fixed address: libbpf 1.5 maps an arena whose map_extra names an address there
// with MAP_FIXED at load, which silently replaces whatever the process already had at that range
// (Node's heap or code, another object's arena) and crashes it later. Before load, each such range
// is reserved with MAP_FIXED_NOREPLACE: a range in use refuses the load, and a free one stays held
// (PROT_NONE, no memory) until libbpf's mapping replaces it.
#pragma once

#include <napi.h>

#include <cstddef>
#include <vector>

struct bpf_object;

namespace bpfkit {

struct ArenaReservation {
  void* address;
  size_t size;
};

// Reserves the fixed range of every arena map of `object`. A range that is in use (or invalid)
// releases what was reserved and throws a BpfError naming the map and the range.
std::vector<ArenaReservation> ReserveArenas(Napi::Env env, struct bpf_object* object);

// After load: unmaps each reservation that libbpf did not map its arena over (a load that failed
// before it got there, or one that never ran). Thread-safe: it only reads /proc/self/maps.
void ReleaseArenas(std::vector<ArenaReservation>* reservations);

}  // namespace bpfkit
