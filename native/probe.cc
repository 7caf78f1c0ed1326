// Probes: what the running kernel supports — program types, map types, helpers and attach types — each
// asked of the kernel on its own, through libbpf's probes or a tiny program.
#include "probe.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace bpfkit {

namespace {

struct Helper {
  const char* name;
  enum bpf_func_id id;
};

// Every helper the UAPI header knows, by the name BPF C calls it without `bpf_`.
#define BPFKIT_HELPER(name, value, ...) {#name, static_cast<enum bpf_func_id>(value)},
constexpr Helper kHelpers[] = {___BPF_FUNC_MAPPER(BPFKIT_HELPER)};
#undef BPFKIT_HELPER

int ProgTypeByName(const std::string& name) {
  for (int type = BPF_PROG_TYPE_UNSPEC + 1;; type++) {
    const char* candidate = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type));
    if (candidate == nullptr) return -1;
    if (name == candidate) return type;
  }
}

int MapTypeByName(const std::string& name) {
  for (int type = BPF_MAP_TYPE_UNSPEC + 1;; type++) {
    const char* candidate = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type));
    if (candidate == nullptr) return -1;
    if (name == candidate) return type;
  }
}

// A program that returns 0, of `type` for `attach` (to BTF type `btfId` of vmlinux when not 0).
int LoadNothing(enum bpf_prog_type type, enum bpf_attach_type attach, int btfId) {
  struct bpf_insn insns[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = attach);
  if (btfId > 0) opts.attach_btf_id = static_cast<uint32_t>(btfId);
  return bpf_prog_load(type, nullptr, "GPL", insns, 2, &opts);
}

// Whether a program of `type` for `attach` loads and links to `btfName` (a vmlinux func or typedef):
// trampolines (fentry, fexit, fmod_ret, LSM) may load on a kernel that cannot attach them. The link
// lives for an instant and its program does nothing.
bool ProbeBtfAttach(const struct btf* vmlinux, enum bpf_prog_type type, enum bpf_attach_type attach,
                    const char* btfName, int btfKind) {
  int btfId = vmlinux == nullptr ? -1 : btf__find_by_name_kind(vmlinux, btfName, btfKind);
  if (btfId <= 0) return false;
  int prog = LoadNothing(type, attach, btfId);
  if (prog < 0) return false;
  int link = bpf_link_create(prog, 0, attach, nullptr);
  bool ok = link >= 0;
  if (ok) close(link);
  close(prog);
  return ok;
}

// Whether the kernel makes links of an attach type, asked with a target that cannot exist: a kernel
// that has the link type refuses the target (ENOENT, ESRCH, EBADF…); one that has not says EINVAL (an
// unknown attach type) or EOPNOTSUPP (built without it).
bool ProbeLinkType(enum bpf_prog_type type, enum bpf_attach_type attach, const struct bpf_link_create_opts* opts) {
  int prog = LoadNothing(type, attach, 0);
  if (prog < 0) return false;
  int link = bpf_link_create(prog, 0, attach, opts);
  int err = link < 0 ? errno : 0;
  if (link >= 0) close(link);
  close(prog);
  return err != EINVAL && err != EOPNOTSUPP && err != kENOTSUPP;
}

bool ProbeAttachKind(const std::string& kind, const struct btf* vmlinux, bool* known) {
  *known = true;
  if (kind == "tp_btf") return ProbeBtfAttach(vmlinux, BPF_PROG_TYPE_TRACING, BPF_TRACE_RAW_TP, "btf_trace_sched_switch", BTF_KIND_TYPEDEF);
  if (kind == "fentry") return ProbeBtfAttach(vmlinux, BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY, "bpf_fentry_test1", BTF_KIND_FUNC);
  if (kind == "fexit") return ProbeBtfAttach(vmlinux, BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT, "bpf_fentry_test1", BTF_KIND_FUNC);
  if (kind == "fmod_ret") {
    // A security_* hook: fmod_ret may change those without CONFIG_FUNCTION_ERROR_INJECTION (Debian has none).
    return ProbeBtfAttach(vmlinux, BPF_PROG_TYPE_TRACING, BPF_MODIFY_RETURN, "security_file_open", BTF_KIND_FUNC);
  }
  if (kind == "lsm") return ProbeBtfAttach(vmlinux, BPF_PROG_TYPE_LSM, BPF_LSM_MAC, "bpf_lsm_file_open", BTF_KIND_FUNC);
  if (kind == "iter") return ProbeBtfAttach(vmlinux, BPF_PROG_TYPE_TRACING, BPF_TRACE_ITER, "bpf_iter_task", BTF_KIND_FUNC);
  if (kind == "kprobe_multi") {
    const char* nowhere[] = {"bpfkit_probe_no_such_function"};
    LIBBPF_OPTS(bpf_link_create_opts, opts, .kprobe_multi = {.flags = 0, .cnt = 1, .syms = nowhere});
    return ProbeLinkType(BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI, &opts);
  }
  if (kind == "uprobe_multi") {
    unsigned long offset = 0;
    LIBBPF_OPTS(bpf_link_create_opts, opts, .uprobe_multi = {.flags = 0, .cnt = 1, .path = "/bpfkit-probe-no-such-file", .offsets = &offset});
    return ProbeLinkType(BPF_PROG_TYPE_KPROBE, BPF_TRACE_UPROBE_MULTI, &opts);
  }
  if (kind == "tcx") {
    LIBBPF_OPTS(bpf_link_create_opts, opts);
    return ProbeLinkType(BPF_PROG_TYPE_SCHED_CLS, BPF_TCX_INGRESS, &opts);
  }
  *known = false;
  return false;
}

}  // namespace

// probeProgramType(name) → whether the kernel loads programs of this type (libbpf's name).
Napi::Value ProbeProgramType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "libbpf_probe_bpf_prog_type";
  std::string name = StringArg(env, info[0], op, "the program type");
  int type = ProgTypeByName(name);
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown program type '" + name + "'");
  return Napi::Boolean::New(env, libbpf_probe_bpf_prog_type(static_cast<enum bpf_prog_type>(type), nullptr) == 1);
}

// probeMapType(name) → whether the kernel creates maps of this type (libbpf's name).
Napi::Value ProbeMapType(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "libbpf_probe_bpf_map_type";
  std::string name = StringArg(env, info[0], op, "the map type");
  int type = MapTypeByName(name);
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown map type '" + name + "'");
  return Napi::Boolean::New(env, libbpf_probe_bpf_map_type(static_cast<enum bpf_map_type>(type), nullptr) == 1);
}

// probeHelper(programType, helper) → whether programs of that type may call the helper (`ringbuf_output`).
Napi::Value ProbeHelper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "libbpf_probe_bpf_helper";
  std::string typeName = StringArg(env, info[0], op, "the program type");
  std::string name = StringArg(env, info[1], op, "the helper");
  int type = ProgTypeByName(typeName);
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown program type '" + typeName + "'");
  if (name.rfind("bpf_", 0) == 0) name = name.substr(4);
  for (const Helper& helper : kHelpers) {
    if (helper.id == BPF_FUNC_unspec || name != helper.name) continue;
    return Napi::Boolean::New(env, libbpf_probe_bpf_helper(static_cast<enum bpf_prog_type>(type), helper.id, nullptr) == 1);
  }
  throw BpfError(env, op, "EINVAL", "unknown helper '" + name + "'");
}

// probeAttach(kinds: string[]) → { kind: boolean }: attach types a kernel may lack while it has their
// program type (tp_btf, fentry, fexit, fmod_ret, lsm, iter, kprobe_multi, uprobe_multi, tcx).
Napi::Value ProbeAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_link_create";
  if (!info[0].IsArray()) throw BpfError(env, op, "EINVAL", "expected attach kinds");
  Napi::Array kinds = info[0].As<Napi::Array>();
  struct btf* vmlinux = btf__load_vmlinux_btf();
  Napi::Object result = Napi::Object::New(env);
  for (uint32_t i = 0; i < kinds.Length(); i++) {
    std::string kind = kinds.Get(i).IsString() ? StringArg(env, kinds.Get(i), "probe", "an attach kind") : "";
    bool known = false;
    bool supported = ProbeAttachKind(kind, vmlinux, &known);
    if (!known) {
      btf__free(vmlinux);
      throw BpfError(env, op, "EINVAL", "unknown attach kind '" + kind + "'");
    }
    result.Set(kind, supported);
  }
  btf__free(vmlinux);
  return result;
}

// names() → { programTypes, mapTypes, helpers }: every name the probes take, as libbpf and the UAPI
// header spell them.
Napi::Value ProbeNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array programs = Napi::Array::New(env);
  for (int type = BPF_PROG_TYPE_UNSPEC + 1;; type++) {
    const char* name = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type));
    if (name == nullptr) break;
    programs.Set(programs.Length(), name);
  }
  Napi::Array maps = Napi::Array::New(env);
  for (int type = BPF_MAP_TYPE_UNSPEC + 1;; type++) {
    const char* name = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(type));
    if (name == nullptr) break;
    maps.Set(maps.Length(), name);
  }
  Napi::Array helpers = Napi::Array::New(env);
  for (const Helper& helper : kHelpers) {
    if (helper.id != BPF_FUNC_unspec) helpers.Set(helpers.Length(), helper.name);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("programTypes", programs);
  result.Set("mapTypes", maps);
  result.Set("helpers", helpers);
  return result;
}

}  // namespace bpfkit
