// Probes: what the running kernel supports (program types, map types, helpers), through libbpf.
#pragma once

#include <napi.h>

namespace bpfkit {

// probe() → { programTypes: { name: boolean }, mapTypes: { name: boolean }, helpers: { name: boolean } }
Napi::Value Probe(const Napi::CallbackInfo& info);

}  // namespace bpfkit
