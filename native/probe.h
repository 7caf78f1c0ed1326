// Probes: what the running kernel supports — program types, map types, helpers and attach types — each
// asked of the kernel on its own, through libbpf's probes or a tiny program.
#pragma once

#include <napi.h>

namespace bpfkit {

Napi::Value ProbeProgramType(const Napi::CallbackInfo& info);
Napi::Value ProbeMapType(const Napi::CallbackInfo& info);
Napi::Value ProbeHelper(const Napi::CallbackInfo& info);
Napi::Value ProbeAttach(const Napi::CallbackInfo& info);
Napi::Value ProbeNames(const Napi::CallbackInfo& info);

}  // namespace bpfkit
