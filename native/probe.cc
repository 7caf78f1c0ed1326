// Probes: what the running kernel supports (program types, map types, helpers), through libbpf.
#include "probe.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>

namespace bpfkit {

namespace {

struct Helper {
  const char* name;
  enum bpf_func_id id;
};

// The helpers bpfkit and its header rely on, probed from a tracepoint program.
constexpr Helper kHelpers[] = {
    {"map_lookup_elem", BPF_FUNC_map_lookup_elem},
    {"map_update_elem", BPF_FUNC_map_update_elem},
    {"ringbuf_reserve", BPF_FUNC_ringbuf_reserve},
    {"ringbuf_submit", BPF_FUNC_ringbuf_submit},
    {"ringbuf_output", BPF_FUNC_ringbuf_output},
    {"ringbuf_query", BPF_FUNC_ringbuf_query},
    {"perf_event_output", BPF_FUNC_perf_event_output},
    {"get_current_pid_tgid", BPF_FUNC_get_current_pid_tgid},
    {"get_current_comm", BPF_FUNC_get_current_comm},
    {"get_current_task", BPF_FUNC_get_current_task},
    {"probe_read_kernel", BPF_FUNC_probe_read_kernel},
    {"probe_read_user_str", BPF_FUNC_probe_read_user_str},
    {"loop", BPF_FUNC_loop},
};

}  // namespace

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  Napi::Object programs = Napi::Object::New(env);
  for (int type = BPF_PROG_TYPE_UNSPEC + 1;; type++) {
    const char* name = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type));
    if (name == nullptr) break;
    programs.Set(name, libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(type), nullptr) == 1);
  }
  Napi::Object maps = Napi::Object::New(env);
  for (int type = BPF_MAP_TYPE_UNSPEC + 1;; type++) {
    const char* name = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type));
    if (name == nullptr) break;
    maps.Set(name, libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(type), nullptr) == 1);
  }
  Napi::Object helpers = Napi::Object::New(env);
  for (const Helper& helper : kHelpers) {
    helpers.Set(helper.name, libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, helper.id, nullptr) == 1);
  }
  result.Set("programTypes", programs);
  result.Set("mapTypes", maps);
  result.Set("helpers", helpers);
  return result;
}

}  // namespace bpfkit
