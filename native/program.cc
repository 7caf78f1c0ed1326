// BpfProgram: one bpf_program of an object: its identity, autoload, and attach calls that make links.
#include "program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "errors.h"
#include "link.h"

namespace bpfkit {

using Need = ObjectHandle::Need;

Napi::Function ProgramHandle::Init(Napi::Env env) {
  return DefineClass(env, "BpfProgramHandle", {
      InstanceAccessor<&ProgramHandle::Name>("name"),
      InstanceAccessor<&ProgramHandle::Section>("section"),
      InstanceAccessor<&ProgramHandle::Type>("type"),
      InstanceAccessor<&ProgramHandle::ExpectedAttachType>("expectedAttachType"),
      InstanceAccessor<&ProgramHandle::Autoload, &ProgramHandle::SetAutoload>("autoload"),
      InstanceAccessor<&ProgramHandle::Fd>("fd"),
      InstanceMethod<&ProgramHandle::SetAttachTarget>("setAttachTarget"),
      InstanceMethod<&ProgramHandle::Attach>("attach"),
      InstanceMethod<&ProgramHandle::AttachTracepoint>("attachTracepoint"),
      InstanceMethod<&ProgramHandle::AttachRawTracepoint>("attachRawTracepoint"),
      InstanceMethod<&ProgramHandle::AttachUprobe>("attachUprobe"),
      InstanceMethod<&ProgramHandle::AttachUsdt>("attachUsdt"),
      InstanceMethod<&ProgramHandle::AttachKprobe>("attachKprobe"),
      InstanceMethod<&ProgramHandle::AttachKprobeMulti>("attachKprobeMulti"),
      InstanceMethod<&ProgramHandle::AttachKsyscall>("attachKsyscall"),
      InstanceMethod<&ProgramHandle::AttachPerfEvent>("attachPerfEvent"),
      InstanceMethod<&ProgramHandle::AttachTrace>("attachTrace"),
      InstanceMethod<&ProgramHandle::AttachLsm>("attachLsm"),
      InstanceMethod<&ProgramHandle::AttachIter>("attachIter"),
      InstanceMethod<&ProgramHandle::LinkCreate>("linkCreate"),
      InstanceMethod<&ProgramHandle::AttachSocket>("attachSocket"),
      InstanceMethod<&ProgramHandle::AttachXdpNetlink>("attachXdpNetlink"),
      InstanceMethod<&ProgramHandle::AttachTcClsact>("attachTcClsact"),
      InstanceMethod<&ProgramHandle::Info>("info"),
      InstanceMethod<&ProgramHandle::TestRun>("testRun"),
  });
}

// Made by BpfObjectHandle.programs(): new BpfProgramHandle(objectHandle, External<bpf_program>)
ProgramHandle::ProgramHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramHandle>(info) {
  if (info.Length() < 2 || !info[1].IsExternal() || !info[0].IsObject()) {
    throw BpfError(info.Env(), "BpfProgram", "EINVAL", "programs come from BpfObject.programs");
  }
  owner_ = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
  ownerRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  program_ = info[1].As<Napi::External<struct bpf_program>>().Data();
}

Napi::Value ProgramHandle::Name(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_program__name", Need::Open);
  return Napi::String::New(info.Env(), bpf_program__name(program_));
}

Napi::Value ProgramHandle::Section(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_program__section_name", Need::Open);
  return Napi::String::New(info.Env(), bpf_program__section_name(program_));
}

Napi::Value ProgramHandle::Type(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_program__type", Need::Open);
  const char* name = libbpf_bpf_prog_type_str(bpf_program__type(program_));
  return Napi::String::New(info.Env(), name != nullptr ? name : "unknown");
}

Napi::Value ProgramHandle::ExpectedAttachType(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_program__expected_attach_type", Need::Open);
  const char* name = libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(program_));
  return Napi::String::New(info.Env(), name != nullptr ? name : "unknown");
}

Napi::Value ProgramHandle::Autoload(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_program__autoload", Need::Open);
  return Napi::Boolean::New(info.Env(), bpf_program__autoload(program_));
}

void ProgramHandle::SetAutoload(const Napi::CallbackInfo& info, const Napi::Value& value) {
  owner_->Require(info.Env(), "bpf_program__set_autoload", Need::BeforeLoad);
  int err = -bpf_program__set_autoload(program_, value.ToBoolean().Value());
  if (err != 0) throw BpfError(info.Env(), "bpf_program__set_autoload", err);
}

Napi::Value ProgramHandle::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), LoadedFd(info.Env(), "bpf_program__fd"));
}

// setAttachTarget(functionName): the kernel function an fentry/fexit/fmod_ret/LSM program attaches to,
// chosen before load instead of in the SEC() name.
Napi::Value ProgramHandle::SetAttachTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__set_attach_target";
  owner_->Require(env, op, Need::BeforeLoad);
  if (!info[0].IsString()) throw BpfError(env, op, "EINVAL", "the target must be a function name");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  int err = 0;
  std::vector<LogLine> lines = Captured(owner_->LogLevel(), [&] { err = -bpf_program__set_attach_target(program_, 0, name.c_str()); });
  owner_->Deliver(env, lines);
  if (err != 0) throw BpfError(env, op, err, std::string("program '") + bpf_program__name(program_) + "' → " + name);
  return env.Undefined();
}

int ProgramHandle::LoadedFd(Napi::Env env, const char* op) const {
  owner_->Require(env, op, Need::Loaded);
  int fd = bpf_program__fd(program_);
  if (fd < 0) {
    throw BpfError(env, op, "EBADSTATE",
                   std::string("program '") + bpf_program__name(program_) + "' was not loaded (autoload is off)");
  }
  return fd;
}

template <typename F>
Napi::Value ProgramHandle::AttachWith(Napi::Env env, const char* op, F attach) {
  int fd = LoadedFd(env, op);
  std::unique_ptr<Attachment> attachment;
  int err = 0;
  std::vector<LogLine> lines = Captured(owner_->LogLevel(), [&] { err = attach(attachment, fd); });
  if (attachment == nullptr) {
    owner_->Deliver(env, lines);
    throw BpfError(env, op, err != 0 ? err : EINVAL, std::string("program '") + bpf_program__name(program_) + "'");
  }
  Napi::Object wrapped = LinkHandle::New(env, std::move(attachment), ownerRef_.Value());
  try {
    owner_->Deliver(env, lines);
  } catch (...) {
    LinkHandle::Unwrap(wrapped)->Release();
    throw;
  }
  return wrapped;
}

namespace {

// Takes a libbpf attach call's result: the link, or its errno.
int Take(struct bpf_link* link, std::unique_ptr<Attachment>& out) {
  if (link == nullptr) return errno;
  out = std::make_unique<LibbpfLinks>(std::vector<struct bpf_link*>{link});
  return 0;
}

std::string StringArg(Napi::Env env, const Napi::Value& value, const char* op, const char* what) {
  if (!value.IsString()) throw BpfError(env, op, "EINVAL", std::string(what) + " must be a string");
  return value.As<Napi::String>().Utf8Value();
}

int IntArg(Napi::Env env, const Napi::Value& value, const char* op, const char* what) {
  double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0.5;
  if (!(number >= INT32_MIN && number <= INT32_MAX) || number != std::trunc(number)) {
    throw BpfError(env, op, "EINVAL", std::string(what) + " must be a 32-bit integer");
  }
  return static_cast<int>(number);
}

uint64_t CookieArg(Napi::Env env, const Napi::Value& value, const char* op) {
  if (value.IsUndefined() || value.IsNull()) return 0;
  if (!value.IsBigInt()) throw BpfError(env, op, "EINVAL", "cookie must be a bigint");
  bool lossless = true;
  return value.As<Napi::BigInt>().Uint64Value(&lossless);
}

}  // namespace

// attach(): libbpf's auto-attach from the SEC() name. EOPNOTSUPP means the section names no target.
Napi::Value ProgramHandle::Attach(const Napi::CallbackInfo& info) {
  return AttachWith(info.Env(), "bpf_program__attach",
                    [this](auto& out, int) { return Take(bpf_program__attach(program_), out); });
}

// attachTracepoint(category, name)
Napi::Value ProgramHandle::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_tracepoint";
  std::string category = StringArg(env, info[0], op, "category");
  std::string name = StringArg(env, info[1], op, "name");
  return AttachWith(env, op, [&](auto& out, int) {
    return Take(bpf_program__attach_tracepoint(program_, category.c_str(), name.c_str()), out);
  });
}

// attachRawTracepoint(name)
Napi::Value ProgramHandle::AttachRawTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_raw_tracepoint";
  std::string name = StringArg(env, info[0], op, "name");
  return AttachWith(env, op, [&](auto& out, int) { return Take(bpf_program__attach_raw_tracepoint(program_, name.c_str()), out); });
}

// attachUprobe(binaryPath, symbol | null, offset, pid, retprobe, cookie)
Napi::Value ProgramHandle::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_uprobe_opts";
  std::string binary = StringArg(env, info[0], op, "binary");
  std::string symbol = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  int offset = IntArg(env, info[2], op, "offset");
  int pid = IntArg(env, info[3], op, "pid");
  bool retprobe = info[4].ToBoolean().Value();
  uint64_t cookie = CookieArg(env, info[5], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie, .retprobe = retprobe,
                .func_name = symbol.empty() ? nullptr : symbol.c_str());
    return Take(bpf_program__attach_uprobe_opts(program_, pid, binary.c_str(), static_cast<size_t>(offset), &opts), out);
  });
}

// attachUsdt(binaryPath, provider, name, pid, cookie)
Napi::Value ProgramHandle::AttachUsdt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_usdt";
  std::string binary = StringArg(env, info[0], op, "binary");
  std::string provider = StringArg(env, info[1], op, "provider");
  std::string name = StringArg(env, info[2], op, "name");
  int pid = IntArg(env, info[3], op, "pid");
  uint64_t cookie = CookieArg(env, info[4], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_usdt_opts, opts, .usdt_cookie = cookie);
    struct bpf_link* link = bpf_program__attach_usdt(program_, pid, binary.c_str(), provider.c_str(), name.c_str(), &opts);
    if (link == nullptr) return errno;
    out = std::make_unique<LibbpfLinks>(std::vector<struct bpf_link*>{link}, false);
    return 0;
  });
}

// attachKprobe(symbol, offset, retprobe, cookie)
Napi::Value ProgramHandle::AttachKprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_kprobe_opts";
  std::string symbol = StringArg(env, info[0], op, "symbol");
  int offset = IntArg(env, info[1], op, "offset");
  bool retprobe = info[2].ToBoolean().Value();
  uint64_t cookie = CookieArg(env, info[3], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_kprobe_opts, opts, .bpf_cookie = cookie, .offset = static_cast<size_t>(offset), .retprobe = retprobe);
    return Take(bpf_program__attach_kprobe_opts(program_, symbol.c_str(), &opts), out);
  });
}

// attachKprobeMulti(pattern | null, symbols: string[] | null, retprobe, cookies: bigint[] | null)
Napi::Value ProgramHandle::AttachKprobeMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_kprobe_multi_opts";
  std::string pattern = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  std::vector<std::string> symbols;
  if (info[1].IsArray()) {
    Napi::Array array = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < array.Length(); i++) symbols.push_back(StringArg(env, array.Get(i), op, "symbols[i]"));
  }
  bool retprobe = info[2].ToBoolean().Value();
  std::vector<__u64> cookies;
  if (info[3].IsArray()) {
    Napi::Array array = info[3].As<Napi::Array>();
    if (array.Length() != symbols.size()) throw BpfError(env, op, "EINVAL", "one cookie per symbol");
    for (uint32_t i = 0; i < array.Length(); i++) cookies.push_back(CookieArg(env, array.Get(i), op));
  }
  if (pattern.empty() == symbols.empty()) throw BpfError(env, op, "EINVAL", "expected a pattern or symbols");
  std::vector<const char*> names;
  for (const std::string& symbol : symbols) names.push_back(symbol.c_str());
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_kprobe_multi_opts, opts, .syms = names.empty() ? nullptr : names.data(),
                .cookies = cookies.empty() ? nullptr : cookies.data(), .cnt = names.size(), .retprobe = retprobe);
    return Take(bpf_program__attach_kprobe_multi_opts(program_, pattern.empty() ? nullptr : pattern.c_str(), &opts), out);
  });
}

// attachKsyscall(syscall, retprobe, cookie): a kprobe on the syscall's handler, whatever the kernel calls it.
Napi::Value ProgramHandle::AttachKsyscall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_ksyscall";
  std::string syscall = StringArg(env, info[0], op, "syscall");
  bool retprobe = info[1].ToBoolean().Value();
  uint64_t cookie = CookieArg(env, info[2], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_ksyscall_opts, opts, .bpf_cookie = cookie, .retprobe = retprobe);
    return Take(bpf_program__attach_ksyscall(program_, syscall.c_str(), &opts), out);
  });
}

// attachPerfEvent(type, config: bigint, sample: number, frequency: boolean, cpus: number[], pid, cookie)
// opens one perf event per entry of `cpus` (-1: any CPU, following `pid`) and attaches to each.
Napi::Value ProgramHandle::AttachPerfEvent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_perf_event_opts";
  struct perf_event_attr attr = {};
  attr.size = sizeof(attr);
  attr.type = static_cast<uint32_t>(IntArg(env, info[0], op, "type"));
  if (!info[1].IsBigInt()) throw BpfError(env, op, "EINVAL", "config must be a bigint");
  bool lossless = true;
  attr.config = info[1].As<Napi::BigInt>().Uint64Value(&lossless);
  double sample = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
  if (info[3].ToBoolean().Value()) {
    attr.freq = 1;
    attr.sample_freq = static_cast<uint64_t>(sample);
  } else {
    attr.sample_period = static_cast<uint64_t>(sample);
  }
  if (!info[4].IsArray()) throw BpfError(env, op, "EINVAL", "cpus must be an array");
  Napi::Array cpuArray = info[4].As<Napi::Array>();
  std::vector<int> cpus;
  for (uint32_t i = 0; i < cpuArray.Length(); i++) cpus.push_back(IntArg(env, cpuArray.Get(i), op, "cpus[i]"));
  int pid = IntArg(env, info[5], op, "pid");
  uint64_t cookie = CookieArg(env, info[6], op);
  return AttachWith(env, "perf_event_open", [&](auto& out, int fd) {
    std::vector<FdLinks::Entry> entries;
    int err = 0;
    for (int cpu : cpus) {
      int pfd = static_cast<int>(syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC));
      if (pfd < 0) {
        err = errno;
        break;
      }
      // A BPF link of its own (not libbpf's perf link, whose destroy disables the event even when pinned).
      LIBBPF_OPTS(bpf_link_create_opts, opts, .perf_event = {.bpf_cookie = cookie});
      int link = bpf_link_create(fd, pfd, BPF_PERF_EVENT, &opts);
      if (link < 0) {
        err = errno;
        close(pfd);
        break;
      }
      entries.push_back({link, pfd});
    }
    if (err != 0) {
      for (const FdLinks::Entry& entry : entries) {
        close(entry.link);
        close(entry.owned);
      }
      return err;
    }
    out = std::make_unique<FdLinks>(std::move(entries));
    return 0;
  });
}

// attachTrace(): fentry/fexit/fmod_ret to the function named at open.
Napi::Value ProgramHandle::AttachTrace(const Napi::CallbackInfo& info) {
  return AttachWith(info.Env(), "bpf_program__attach_trace",
                    [this](auto& out, int) { return Take(bpf_program__attach_trace(program_), out); });
}

// attachLsm(): the LSM hook named at open.
Napi::Value ProgramHandle::AttachLsm(const Napi::CallbackInfo& info) {
  return AttachWith(info.Env(), "bpf_program__attach_lsm",
                    [this](auto& out, int) { return Take(bpf_program__attach_lsm(program_), out); });
}

// attachIter(mapFd): an iterator link (mapFd < 0: no map).
Napi::Value ProgramHandle::AttachIter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_iter";
  int mapFd = IntArg(env, info[0], op, "mapFd");
  return AttachWith(env, op, [&](auto& out, int) {
    union bpf_iter_link_info link_info = {};
    LIBBPF_OPTS(bpf_iter_attach_opts, opts);
    if (mapFd >= 0) {
      link_info.map.map_fd = static_cast<uint32_t>(mapFd);
      opts.link_info = &link_info;
      opts.link_info_len = sizeof(link_info);
    }
    return Take(bpf_program__attach_iter(program_, &opts), out);
  });
}

// linkCreate(targetFdOrIfindex, attachTypeName, flags): bpf_link_create for XDP (with a mode), tcx and
// cgroups, where the attach type or flags are the caller's rather than the SEC() name's.
Napi::Value ProgramHandle::LinkCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_link_create";
  int target = IntArg(env, info[0], op, "target");
  std::string typeName = StringArg(env, info[1], op, "attach type");
  uint32_t flags = static_cast<uint32_t>(IntArg(env, info[2], op, "flags"));
  int type = -1;
  for (int candidate = 0;; candidate++) {
    const char* name = libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(candidate));
    if (name == nullptr) break;
    if (typeName == name) type = candidate;
  }
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown attach type '" + typeName + "'");
  return AttachWith(env, op, [&](auto& out, int fd) {
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
    int link = bpf_link_create(fd, target, static_cast<enum bpf_attach_type>(type), &opts);
    if (link < 0) return errno;
    out = std::make_unique<FdLinks>(std::vector<FdLinks::Entry>{{link, -1}});
    return 0;
  });
}

// attachSocket(fd): SO_ATTACH_BPF.
Napi::Value ProgramHandle::AttachSocket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "setsockopt(SO_ATTACH_BPF)";
  int socketFd = IntArg(env, info[0], op, "fd");
  return AttachWith(env, op, [&](auto& out, int fd) {
    struct stat st = {};
    if (fstat(socketFd, &st) != 0) return errno;
    if (!S_ISSOCK(st.st_mode)) return ENOTSOCK;
    if (setsockopt(socketFd, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof(fd)) != 0) return errno;
    out = std::make_unique<SocketFilter>(socketFd, st.st_dev, st.st_ino);
    return 0;
  });
}

// attachXdpNetlink(ifindex, flags): bpf_xdp_attach, replacing a netlink-attached program.
Napi::Value ProgramHandle::AttachXdpNetlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_xdp_attach";
  int ifindex = IntArg(env, info[0], op, "ifindex");
  uint32_t flags = static_cast<uint32_t>(IntArg(env, info[1], op, "flags"));
  return AttachWith(env, op, [&](auto& out, int fd) {
    int err = -bpf_xdp_attach(ifindex, fd, flags, nullptr);
    if (err != 0) return err;
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) {
      err = errno;
      bpf_xdp_detach(ifindex, flags, nullptr);
      return err;
    }
    out = std::make_unique<XdpNetlink>(ifindex, flags, own);
    return 0;
  });
}

// attachTcClsact(ifindex, egress, priority, handle): a direct-action filter on the clsact qdisc.
Napi::Value ProgramHandle::AttachTcClsact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_tc_attach";
  int ifindex = IntArg(env, info[0], op, "ifindex");
  bool egress = info[1].ToBoolean().Value();
  uint32_t priority = static_cast<uint32_t>(IntArg(env, info[2], op, "priority"));
  uint32_t handle = static_cast<uint32_t>(IntArg(env, info[3], op, "handle"));
  return AttachWith(env, op, [&](auto& out, int fd) {
    struct bpf_prog_info prog_info = {};
    uint32_t length = sizeof(prog_info);
    if (bpf_prog_get_info_by_fd(fd, &prog_info, &length) != 0) return errno;
    bool created = false;
    int err = TcFilter::EnsureHook(ifindex, &created);
    if (err != 0) return err;
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = fd, .handle = handle, .priority = priority);
    err = -bpf_tc_attach(&hook, &opts);
    if (err != 0) {
      if (created) TcFilter::DropOwnedHook(ifindex);
      return err;
    }
    out = std::make_unique<TcFilter>(ifindex, egress, opts.handle, opts.priority, prog_info.id, created);
    return 0;
  });
}

// info() → the kernel's view of the loaded program (bpf_prog_get_info_by_fd).
Napi::Value ProgramHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_prog_get_info_by_fd";
  int fd = LoadedFd(env, op);
  struct bpf_prog_info prog_info = {};
  uint32_t length = sizeof(prog_info);
  if (bpf_prog_get_info_by_fd(fd, &prog_info, &length) != 0) throw BpfError(env, op, errno);
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", prog_info.id);
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", prog_info.tag[i]);
  result.Set("tag", tag);
  const char* type = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(prog_info.type));
  result.Set("type", type != nullptr ? type : "unknown");
  result.Set("name", prog_info.name);
  result.Set("instructions", prog_info.xlated_prog_len / 8);
  result.Set("jitedSize", prog_info.jited_prog_len);
  result.Set("verifiedInstructions", prog_info.verified_insns);
  result.Set("runCount", Napi::BigInt::New(env, static_cast<uint64_t>(prog_info.run_cnt)));
  result.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(prog_info.run_time_ns)));
  result.Set("recursionMisses", Napi::BigInt::New(env, static_cast<uint64_t>(prog_info.recursion_misses)));
  result.Set("loadTime", Napi::BigInt::New(env, static_cast<uint64_t>(prog_info.load_time)));
  return result;
}

// testRun(data: Uint8Array | null, ctx: Uint8Array | null, repeat, dataOutSize, ctxOutSize)
// → { retval, duration, data: Buffer | null, ctx: Buffer | null } (BPF_PROG_TEST_RUN)
Napi::Value ProgramHandle::TestRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_prog_test_run_opts";
  int fd = LoadedFd(env, op);
  auto bytes = [&](const Napi::Value& value, const char* what) -> Napi::Uint8Array {
    if (value.IsNull() || value.IsUndefined()) return Napi::Uint8Array();
    if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw BpfError(env, op, "EINVAL", std::string(what) + " must be a Uint8Array");
    }
    return value.As<Napi::Uint8Array>();
  };
  Napi::Uint8Array data = bytes(info[0], "data");
  Napi::Uint8Array ctx = bytes(info[1], "ctx");
  uint32_t repeat = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  uint32_t dataOutSize = info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
  uint32_t ctxOutSize = info[4].IsNumber() ? info[4].As<Napi::Number>().Uint32Value() : 0;
  std::vector<uint8_t> dataOut(dataOutSize);
  std::vector<uint8_t> ctxOut(ctxOutSize);
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (!data.IsEmpty()) {
    opts.data_in = data.Data();
    opts.data_size_in = static_cast<uint32_t>(data.ElementLength());
  }
  if (dataOutSize > 0) {
    opts.data_out = dataOut.data();
    opts.data_size_out = dataOutSize;
  }
  if (!ctx.IsEmpty()) {
    opts.ctx_in = ctx.Data();
    opts.ctx_size_in = static_cast<uint32_t>(ctx.ElementLength());
  }
  // Raw tracepoint and syscall programs refuse ctx_out (a syscall program writes back into ctx_in).
  if (ctxOutSize > 0) {
    opts.ctx_out = ctxOut.data();
    opts.ctx_size_out = ctxOutSize;
  }
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(fd, &opts) != 0) throw BpfError(env, op, errno, bpf_program__name(program_));
  Napi::Object result = Napi::Object::New(env);
  result.Set("retval", static_cast<int32_t>(opts.retval));
  result.Set("duration", opts.duration);
  result.Set("data", dataOutSize > 0 ? Napi::Buffer<uint8_t>::Copy(env, dataOut.data(), opts.data_size_out).As<Napi::Value>()
                                     : env.Null());
  result.Set("ctx", ctxOutSize > 0 ? Napi::Buffer<uint8_t>::Copy(env, ctxOut.data(), opts.ctx_size_out).As<Napi::Value>()
                                   : env.Null());
  return result;
}

}  // namespace bpfkit
