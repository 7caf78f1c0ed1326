// Probes: what the running kernel supports (program types, map types, helpers), through libbpf.
#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"

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

// Whether the kernel makes links of an attach type, asked with a program that would fit and a target
// that cannot exist: a kernel that knows the link type refuses the target (ENOENT, ESRCH, ENODEV…);
// one that does not says EINVAL (an unknown attach type) or EOPNOTSUPP (built without it).
bool ProbeLink(enum bpf_prog_type type, enum bpf_attach_type attach, const struct bpf_link_create_opts* link_opts) {
  struct bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, load_opts, .expected_attach_type = attach);
  int prog = bpf_prog_load(type, nullptr, "GPL", insns, 2, &load_opts);
  if (prog < 0) return false;
  int link = bpf_link_create(prog, 0, attach, link_opts);
  int err = link < 0 ? errno : 0;
  if (link >= 0) close(link);
  close(prog);
  return err != EINVAL && err != EOPNOTSUPP && err != kENOTSUPP;
}

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
  // kprobe.multi links need CONFIG_FPROBE (Linux ≥ 5.18; Debian's 6.1 has kprobes without it), probed
  // with a function that does not exist; tcx links (Linux ≥ 6.6), with ifindex 0.
  Napi::Object links = Napi::Object::New(env);
  const char* nowhere[] = {"bpfkit_probe_no_such_function"};
  LIBBPF_OPTS(bpf_link_create_opts, multi, .kprobe_multi = {.flags = 0, .cnt = 1, .syms = nowhere});
  links.Set("kprobe_multi", ProbeLink(BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, &multi));
  LIBBPF_OPTS(bpf_link_create_opts, tcx);
  links.Set("tcx", ProbeLink(BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, &tcx));
  result.Set("links", links);
  result.Set("programTypes", programs);
  result.Set("mapTypes", maps);
  result.Set("helpers", helpers);
  return result;
}

}  // namespace bpfkit
