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
#include <cstring>
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "kernel_object.h"
#include "link.h"

namespace bpfkit {

using Need = ObjectHandle::Need;

namespace {

// Room for testRun's output packet or context: more than the kernel writes back (a context is under a
// page; an XDP packet with all its fragments is at most MAX_SKB_FRAGS + 1 pages, 184 KiB at the most).
constexpr uint32_t kMaxTestRunOut = 1u << 20;

constexpr napi_type_tag kProgramTag = {0x6270666b69747072ULL, 0x6f6748616e646c65ULL};

// libbpf's names (libbpf_bpf_*_type_str) back to the enum: the name as libbpf spells it, or -1.
int ProgTypeByName(const std::string& name) {
  for (int type = 0;; type++) {
    const char* candidate = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(type));
    if (candidate == nullptr) return -1;
    if (name == candidate) return type;
  }
}

int AttachTypeByName(const std::string& name) {
  for (int type = 0;; type++) {
    const char* candidate = libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(type));
    if (candidate == nullptr) return -1;
    if (name == candidate) return type;
  }
}

// The kernel's view of the program behind `fd` as a ProgramInfo object, or an errno.
int ProgramInfoOf(Napi::Env env, int fd, Napi::Object* out) {
  struct bpf_prog_info info = {};
  uint32_t length = sizeof(info);
  if (bpf_prog_get_info_by_fd(fd, &info, &length) != 0) return errno;
  std::vector<uint32_t> mapIds(info.nr_map_ids);
  if (!mapIds.empty()) {
    uint32_t count = info.nr_map_ids;
    memset(&info, 0, sizeof(info));
    info.nr_map_ids = count;
    info.map_ids = reinterpret_cast<uintptr_t>(mapIds.data());
    length = sizeof(info);
    if (bpf_prog_get_info_by_fd(fd, &info, &length) != 0) return errno;
    mapIds.resize(std::min(count, info.nr_map_ids));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", info.id);
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", info.tag[i]);
  result.Set("tag", tag);
  const char* type = libbpf_bpf_prog_type_str(static_cast<enum bpf_prog_type>(info.type));
  result.Set("type", type != nullptr ? type : "unknown");
  result.Set("name", info.name);
  result.Set("instructions", info.xlated_prog_len / 8);
  result.Set("jitedSize", info.jited_prog_len);
  result.Set("verifiedInstructions", info.verified_insns);
  result.Set("runCount", Napi::BigInt::New(env, static_cast<uint64_t>(info.run_cnt)));
  result.Set("runTimeNs", Napi::BigInt::New(env, static_cast<uint64_t>(info.run_time_ns)));
  result.Set("recursionMisses", Napi::BigInt::New(env, static_cast<uint64_t>(info.recursion_misses)));
  result.Set("loadTime", Napi::BigInt::New(env, static_cast<uint64_t>(info.load_time)));
  result.Set("uid", info.created_by_uid);
  result.Set("btfId", info.btf_id);
  Napi::Array maps = Napi::Array::New(env, mapIds.size());
  for (size_t i = 0; i < mapIds.size(); i++) maps.Set(static_cast<uint32_t>(i), mapIds[i]);
  result.Set("mapIds", maps);
  *out = result;
  return 0;
}

}  // namespace

Napi::Function ProgramHandle::Init(Napi::Env env) {
  return DefineClass(env, "BpfProgramHandle", {
      InstanceAccessor<&ProgramHandle::Name>("name"),
      InstanceAccessor<&ProgramHandle::Section>("section"),
      InstanceAccessor<&ProgramHandle::Type, &ProgramHandle::SetType>("type"),
      InstanceAccessor<&ProgramHandle::ExpectedAttachType, &ProgramHandle::SetExpectedAttachType>("expectedAttachType"),
      InstanceAccessor<&ProgramHandle::Flags, &ProgramHandle::SetFlags>("flags"),
      InstanceAccessor<&ProgramHandle::LogLevel, &ProgramHandle::SetLogLevel>("logLevel"),
      InstanceAccessor<&ProgramHandle::VerifierLog>("verifierLog"),
      InstanceAccessor<&ProgramHandle::Autoload, &ProgramHandle::SetAutoload>("autoload"),
      InstanceAccessor<&ProgramHandle::Fd>("fd"),
      InstanceAccessor<&ProgramHandle::PinPath>("pinPath"),
      InstanceMethod<&ProgramHandle::Pin>("pin"),
      InstanceMethod<&ProgramHandle::Unpin>("unpin"),
      InstanceMethod<&ProgramHandle::SetAttachTarget>("setAttachTarget"),
      InstanceMethod<&ProgramHandle::Attach>("attach"),
      InstanceMethod<&ProgramHandle::AttachTracepoint>("attachTracepoint"),
      InstanceMethod<&ProgramHandle::AttachRawTracepoint>("attachRawTracepoint"),
      InstanceMethod<&ProgramHandle::AttachUprobe>("attachUprobe"),
      InstanceMethod<&ProgramHandle::AttachUprobeMulti>("attachUprobeMulti"),
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
      InstanceMethod<&ProgramHandle::Close>("close"),
  });
}

ProgramHandle::ProgramHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProgramHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 2 && info[1].IsExternal() && info[0].IsObject()) {
    owner_ = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
    ownerRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    program_ = info[1].As<Napi::External<struct bpf_program>>().Data();
  } else if (info.Length() == 1 && info[0].IsObject()) {
    Napi::Object source = info[0].As<Napi::Object>();
    int fd = -1;
    const char* op;
    std::string what;
    if (source.Get("pinned").IsString()) {
      op = "bpf_obj_get";
      what = StringArg(env, source.Get("pinned"), op, "the path");
      fd = bpf_obj_get(what.c_str());
    } else if (source.Get("id").IsNumber()) {
      op = "bpf_prog_get_fd_by_id";
      uint32_t id = source.Get("id").As<Napi::Number>().Uint32Value();
      what = "program id " + std::to_string(id);
      fd = bpf_prog_get_fd_by_id(id);
    } else {
      throw BpfError(env, "BpfProgram", "EINVAL", "expected { pinned: path } or { id }");
    }
    if (fd < 0) throw BpfError(env, op, errno, what);
    // A pin may hold a map or a link, whose info would read as nonsense program info.
    std::string kind = FdKind(fd);
    if (kind != "anon_inode:bpf-prog") {
      close(fd);
      throw BpfError(env, op, "EINVAL", what + " is not a program (" + (kind.empty() ? "unknown" : kind) + ")");
    }
    uint32_t length = sizeof(info_);
    if (bpf_prog_get_info_by_fd(fd, &info_, &length) != 0) {
      int err = errno;
      close(fd);
      throw BpfError(env, "bpf_prog_get_info_by_fd", err, what);
    }
    addon_ = Addon::Of(env);
    fd_ = fd;
    addon_->Track(this);
  } else {
    throw BpfError(env, "BpfProgram", "EINVAL", "programs come from BpfObject.programs, BpfProgram.openPinned or BpfProgram.fromId");
  }
  napi_type_tag_object(env, Value(), &kProgramTag);
}

ProgramHandle::~ProgramHandle() { Release(); }

void ProgramHandle::Release() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
  addon_->Untrack(this);
}

ProgramHandle* ProgramHandle::From(Napi::Env env, Napi::Value value) {
  bool tagged = false;
  if (!value.IsObject() || napi_check_object_type_tag(env, value, &kProgramTag, &tagged) != napi_ok || !tagged) {
    return nullptr;
  }
  return Unwrap(value.As<Napi::Object>());
}

std::string ProgramHandle::NameOf() const { return program_ != nullptr ? bpf_program__name(program_) : info_.name; }

struct bpf_program* ProgramHandle::ObjectProgram(Napi::Env env, const char* op) const {
  if (program_ == nullptr) {
    if (fd_ < 0) throw BpfError(env, op, "ECLOSED", "the program is closed");
    throw BpfError(env, op, "EINVAL",
                   "program '" + NameOf() + "' was opened from a pin or by id: it attaches only through bpf_link_create "
                   "(XDP, TC, cgroup and netns programs); attach it from its object for the rest");
  }
  owner_->Require(env, op, Need::Open);
  return program_;
}

struct bpf_program* ProgramHandle::Settable(Napi::Env env, const char* op) const {
  if (program_ == nullptr) throw BpfError(env, op, "EBADSTATE", "a program opened from a pin or by id is loaded already");
  owner_->Require(env, op, Need::BeforeLoad);
  return program_;
}

void ProgramHandle::Deliver(Napi::Env env, const std::vector<LogLine>& lines) {
  if (owner_ != nullptr) {
    owner_->Deliver(env, lines);
  } else {
    addon_->Deliver(env, lines, Napi::FunctionReference());
  }
}

Napi::Value ProgramHandle::Name(const Napi::CallbackInfo& info) {
  if (program_ != nullptr) owner_->Require(info.Env(), "bpf_program__name", Need::Open);
  return Napi::String::New(info.Env(), NameOf());
}

Napi::Value ProgramHandle::Section(const Napi::CallbackInfo& info) {
  if (program_ == nullptr) return Napi::String::New(info.Env(), "");
  owner_->Require(info.Env(), "bpf_program__section_name", Need::Open);
  return Napi::String::New(info.Env(), bpf_program__section_name(program_));
}

Napi::Value ProgramHandle::Type(const Napi::CallbackInfo& info) {
  enum bpf_prog_type type = static_cast<enum bpf_prog_type>(info_.type);
  if (program_ != nullptr) {
    owner_->Require(info.Env(), "bpf_program__type", Need::Open);
    type = bpf_program__type(program_);
  }
  const char* name = libbpf_bpf_prog_type_str(type);
  return Napi::String::New(info.Env(), name != nullptr ? name : "unknown");
}

// type = 'xdp' before load: libbpf's name of the program type (bpf_program__set_type).
void ProgramHandle::SetType(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__set_type";
  struct bpf_program* program = Settable(env, op);
  int type = value.IsString() ? ProgTypeByName(StringArg(env, value, op, "the type")) : -1;
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown program type");
  int err = -bpf_program__set_type(program, static_cast<enum bpf_prog_type>(type));
  if (err != 0) throw BpfError(env, op, err, NameOf());
}

Napi::Value ProgramHandle::ExpectedAttachType(const Napi::CallbackInfo& info) {
  if (program_ == nullptr) return Napi::String::New(info.Env(), "");
  owner_->Require(info.Env(), "bpf_program__expected_attach_type", Need::Open);
  const char* name = libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(program_));
  return Napi::String::New(info.Env(), name != nullptr ? name : "unknown");
}

void ProgramHandle::SetExpectedAttachType(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__set_expected_attach_type";
  struct bpf_program* program = Settable(env, op);
  int type = value.IsString() ? AttachTypeByName(StringArg(env, value, op, "the attach type")) : -1;
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown attach type");
  int err = -bpf_program__set_expected_attach_type(program, static_cast<enum bpf_attach_type>(type));
  if (err != 0) throw BpfError(env, op, err, NameOf());
}

Napi::Value ProgramHandle::Flags(const Napi::CallbackInfo& info) {
  if (program_ == nullptr) return Napi::Number::New(info.Env(), 0);
  owner_->Require(info.Env(), "bpf_program__flags", Need::Open);
  return Napi::Number::New(info.Env(), bpf_program__flags(program_));
}

void ProgramHandle::SetFlags(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__set_flags";
  struct bpf_program* program = Settable(env, op);
  if (!value.IsNumber()) throw BpfError(env, op, "EINVAL", "flags must be a number");
  int err = -bpf_program__set_flags(program, value.As<Napi::Number>().Uint32Value());
  if (err != 0) throw BpfError(env, op, err, NameOf());
}

Napi::Value ProgramHandle::LogLevel(const Napi::CallbackInfo& info) {
  if (program_ == nullptr) return Napi::Number::New(info.Env(), 0);
  owner_->Require(info.Env(), "bpf_program__log_level", Need::Open);
  return Napi::Number::New(info.Env(), bpf_program__log_level(program_));
}

void ProgramHandle::SetLogLevel(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__set_log_level";
  struct bpf_program* program = Settable(env, op);
  if (!value.IsNumber()) throw BpfError(env, op, "EINVAL", "logLevel must be a number");
  int err = -bpf_program__set_log_level(program, value.As<Napi::Number>().Uint32Value());
  if (err != 0) throw BpfError(env, op, err, NameOf());
}

// verifierLog → what the verifier wrote into this program's log buffer at load (null when nothing).
Napi::Value ProgramHandle::VerifierLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (program_ == nullptr) return env.Null();
  owner_->Require(env, "bpf_program__log_buf", Need::Open);
  const char* log = owner_->ProgramLog(program_);
  return log == nullptr || log[0] == '\0' ? env.Null() : Napi::String::New(env, log);
}

Napi::Value ProgramHandle::Autoload(const Napi::CallbackInfo& info) {
  if (program_ == nullptr) return Napi::Boolean::New(info.Env(), true);
  owner_->Require(info.Env(), "bpf_program__autoload", Need::Open);
  return Napi::Boolean::New(info.Env(), bpf_program__autoload(program_));
}

void ProgramHandle::SetAutoload(const Napi::CallbackInfo& info, const Napi::Value& value) {
  struct bpf_program* program = Settable(info.Env(), "bpf_program__set_autoload");
  int err = -bpf_program__set_autoload(program, value.ToBoolean().Value());
  if (err != 0) throw BpfError(info.Env(), "bpf_program__set_autoload", err);
}

Napi::Value ProgramHandle::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), LoadedFd(info.Env(), "bpf_program__fd"));
}

int ProgramHandle::LoadedFd(Napi::Env env, const char* op) const {
  if (program_ == nullptr) {
    if (fd_ < 0) throw BpfError(env, op, "ECLOSED", "the program is closed");
    return fd_;
  }
  owner_->Require(env, op, Need::Loaded);
  int fd = bpf_program__fd(program_);
  if (fd < 0) {
    throw BpfError(env, op, "EBADSTATE",
                   std::string("program '") + bpf_program__name(program_) + "' was not loaded (autoload is off)");
  }
  return fd;
}

Napi::Value ProgramHandle::PinPath(const Napi::CallbackInfo& info) {
  return pinPath_.empty() ? info.Env().Null() : Napi::String::New(info.Env(), pinPath_);
}

// pin(path): the loaded program on bpffs, so it outlives this process (bpf_program__pin).
Napi::Value ProgramHandle::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__pin";
  int fd = LoadedFd(env, op);
  std::string path = StringArg(env, info[0], op, "the path on a bpffs mount");
  if (path == pinPath_) return env.Undefined();
  if (!pinPath_.empty()) {
    throw BpfError(env, op, "EBUSY", "the program is already pinned at " + pinPath_ + ": unpin() it first");
  }
  int err = 0;
  std::vector<LogLine> lines = Captured(program_ != nullptr ? owner_->LogLevel() : addon_->logLevel, [&] {
    err = program_ != nullptr ? -bpf_program__pin(program_, path.c_str()) : (bpf_obj_pin(fd, path.c_str()) == 0 ? 0 : errno);
  });
  Deliver(env, lines);
  if (err != 0) throw BpfError(env, op, err, path);
  pinPath_ = path;
  return env.Undefined();
}

Napi::Value ProgramHandle::Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pinPath_.empty()) throw BpfError(env, "bpf_program__unpin", "EBADSTATE", "the program is not pinned by this handle");
  if (unlink(pinPath_.c_str()) != 0 && errno != ENOENT) throw BpfError(env, "bpf_program__unpin", errno, pinPath_);
  pinPath_.clear();
  return env.Undefined();
}

// setAttachTarget(functionName | null, targetProgramFd?) before load: what an fentry, fexit, fmod_ret,
// LSM or freplace program attaches to — a kernel function, or a function of a loaded BPF program.
Napi::Value ProgramHandle::SetAttachTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__set_attach_target";
  struct bpf_program* program = Settable(env, op);
  std::string name = info[0].IsString() ? StringArg(env, info[0], op, "the target function") : std::string();
  int target = 0;
  if (info.Length() >= 2 && info[1].IsNumber()) {
    target = info[1].As<Napi::Number>().Int32Value();
    if (target <= 0) throw BpfError(env, op, "EINVAL", "the target must be a program's fd");
  } else if (info.Length() >= 2 && !info[1].IsUndefined()) {
    ProgramHandle* other = From(env, info[1]);
    if (other == nullptr) throw BpfError(env, op, "EINVAL", "the target must be a program or its fd");
    target = other->LoadedFd(env, op);
  }
  if (name.empty() && target == 0) throw BpfError(env, op, "EINVAL", "expected a function name");
  int err = 0;
  std::vector<LogLine> lines = Captured(owner_->LogLevel(), [&] {
    err = -bpf_program__set_attach_target(program, target, name.empty() ? nullptr : name.c_str());
  });
  Deliver(env, lines);
  if (err != 0) throw BpfError(env, op, err, NameOf() + (name.empty() ? "" : " → " + name));
  return env.Undefined();
}

Napi::Value ProgramHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

// listPrograms() → ProgramInfo of every program loaded in the kernel (bpf_prog_get_next_id), skipping
// those unloaded meanwhile.
Napi::Value ProgramHandle::List(const Napi::CallbackInfo& info) {
  return ListById(info.Env(), "program", bpf_prog_get_next_id, bpf_prog_get_fd_by_id, ProgramInfoOf);
}

template <typename F>
Napi::Value ProgramHandle::AttachWith(Napi::Env env, const char* op, F attach) {
  int fd = LoadedFd(env, op);
  std::unique_ptr<Attachment> attachment;
  int err = 0;
  std::vector<LogLine> lines =
      Captured(owner_ != nullptr ? owner_->LogLevel() : addon_->logLevel, [&] { err = attach(attachment, fd); });
  if (attachment == nullptr) {
    Deliver(env, lines);
    throw BpfError(env, op, err != 0 ? err : EINVAL, "program '" + NameOf() + "'");
  }
  Napi::Object wrapped = LinkHandle::New(env, std::move(attachment), owner_ != nullptr ? ownerRef_.Value() : Napi::Object());
  try {
    Deliver(env, lines);
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
  uint64_t cookie = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw BpfError(env, op, "EINVAL", "cookie must be a 64-bit unsigned bigint");
  return cookie;
}

}  // namespace

// attach(): libbpf's auto-attach from the SEC() name. EOPNOTSUPP means the section names no target.
Napi::Value ProgramHandle::Attach(const Napi::CallbackInfo& info) {
  struct bpf_program* program = ObjectProgram(info.Env(), "bpf_program__attach");
  return AttachWith(info.Env(), "bpf_program__attach",
                    [program](auto& out, int) { return Take(bpf_program__attach(program), out); });
}

// attachTracepoint(category, name)
Napi::Value ProgramHandle::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_tracepoint";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string category = StringArg(env, info[0], op, "category");
  std::string name = StringArg(env, info[1], op, "name");
  return AttachWith(env, op, [&](auto& out, int) {
    return Take(bpf_program__attach_tracepoint(program, category.c_str(), name.c_str()), out);
  });
}

// attachRawTracepoint(name)
Napi::Value ProgramHandle::AttachRawTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_raw_tracepoint";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string name = StringArg(env, info[0], op, "name");
  return AttachWith(env, op, [&](auto& out, int) { return Take(bpf_program__attach_raw_tracepoint(program, name.c_str()), out); });
}

// attachUprobe(binaryPath, symbol | null, offset, pid, retprobe, cookie)
Napi::Value ProgramHandle::AttachUprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_uprobe_opts";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string binary = StringArg(env, info[0], op, "binary");
  std::string symbol = info[1].IsString() ? StringArg(env, info[1], op, "symbol") : "";
  int offset = IntArg(env, info[2], op, "offset");
  int pid = IntArg(env, info[3], op, "pid");
  bool retprobe = info[4].ToBoolean().Value();
  uint64_t cookie = CookieArg(env, info[5], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = cookie, .retprobe = retprobe,
                .func_name = symbol.empty() ? nullptr : symbol.c_str());
    return Take(bpf_program__attach_uprobe_opts(program, pid, binary.c_str(), static_cast<size_t>(offset), &opts), out);
  });
}

// attachUprobeMulti(binaryPath, offsets: number[], pid, retprobe, cookies: bigint[] | null): one uprobe_multi
// link over several file offsets of one binary (Linux >= 6.6).
Napi::Value ProgramHandle::AttachUprobeMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_uprobe_multi";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string binary = StringArg(env, info[0], op, "binary");
  if (!info[1].IsArray()) throw BpfError(env, op, "EINVAL", "offsets must be an array");
  Napi::Array offsetArray = info[1].As<Napi::Array>();
  std::vector<unsigned long> offsets;
  for (uint32_t i = 0; i < offsetArray.Length(); i++) {
    int offset = IntArg(env, offsetArray.Get(i), op, "offsets[i]");
    if (offset < 0) throw BpfError(env, op, "EINVAL", "offsets must not be negative");
    offsets.push_back(static_cast<unsigned long>(offset));
  }
  if (offsets.empty()) throw BpfError(env, op, "EINVAL", "expected at least one offset");
  int pid = IntArg(env, info[2], op, "pid");
  bool retprobe = info[3].ToBoolean().Value();
  std::vector<__u64> cookies;
  if (info[4].IsArray()) {
    Napi::Array array = info[4].As<Napi::Array>();
    if (array.Length() != offsets.size()) throw BpfError(env, op, "EINVAL", "one cookie per offset");
    for (uint32_t i = 0; i < array.Length(); i++) cookies.push_back(CookieArg(env, array.Get(i), op));
  }
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offsets.data(),
                .cookies = cookies.empty() ? nullptr : cookies.data(), .cnt = offsets.size(), .retprobe = retprobe);
    return Take(bpf_program__attach_uprobe_multi(program, pid, binary.c_str(), nullptr, &opts), out);
  });
}

// attachUsdt(binaryPath, provider, name, pid, cookie)
Napi::Value ProgramHandle::AttachUsdt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_usdt";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string binary = StringArg(env, info[0], op, "binary");
  std::string provider = StringArg(env, info[1], op, "provider");
  std::string name = StringArg(env, info[2], op, "name");
  int pid = IntArg(env, info[3], op, "pid");
  uint64_t cookie = CookieArg(env, info[4], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_usdt_opts, opts, .usdt_cookie = cookie);
    struct bpf_link* link = bpf_program__attach_usdt(program, pid, binary.c_str(), provider.c_str(), name.c_str(), &opts);
    if (link == nullptr) return errno;
    out = std::make_unique<LibbpfLinks>(std::vector<struct bpf_link*>{link}, false);
    return 0;
  });
}

// attachKprobe(symbol, offset, retprobe, cookie)
Napi::Value ProgramHandle::AttachKprobe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_kprobe_opts";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string symbol = StringArg(env, info[0], op, "symbol");
  int offset = IntArg(env, info[1], op, "offset");
  bool retprobe = info[2].ToBoolean().Value();
  uint64_t cookie = CookieArg(env, info[3], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_kprobe_opts, opts, .bpf_cookie = cookie, .offset = static_cast<size_t>(offset), .retprobe = retprobe);
    return Take(bpf_program__attach_kprobe_opts(program, symbol.c_str(), &opts), out);
  });
}

// attachKprobeMulti(pattern | null, symbols: string[] | null, retprobe, cookies: bigint[] | null)
Napi::Value ProgramHandle::AttachKprobeMulti(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_kprobe_multi_opts";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string pattern = info[0].IsString() ? StringArg(env, info[0], op, "pattern") : "";
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
    return Take(bpf_program__attach_kprobe_multi_opts(program, pattern.empty() ? nullptr : pattern.c_str(), &opts), out);
  });
}

// attachKsyscall(syscall, retprobe, cookie): a kprobe on the syscall's handler, whatever the kernel calls it.
Napi::Value ProgramHandle::AttachKsyscall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_ksyscall";
  struct bpf_program* program = ObjectProgram(env, op);
  std::string syscall = StringArg(env, info[0], op, "syscall");
  bool retprobe = info[1].ToBoolean().Value();
  uint64_t cookie = CookieArg(env, info[2], op);
  return AttachWith(env, op, [&](auto& out, int) {
    LIBBPF_OPTS(bpf_ksyscall_opts, opts, .bpf_cookie = cookie, .retprobe = retprobe);
    return Take(bpf_program__attach_ksyscall(program, syscall.c_str(), &opts), out);
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
  if (!lossless) throw BpfError(env, op, "EINVAL", "config must be from 0 to 2^64 - 1");
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
  struct bpf_program* program = ObjectProgram(info.Env(), "bpf_program__attach_trace");
  return AttachWith(info.Env(), "bpf_program__attach_trace",
                    [program](auto& out, int) { return Take(bpf_program__attach_trace(program), out); });
}

// attachLsm(): the LSM hook named at open.
Napi::Value ProgramHandle::AttachLsm(const Napi::CallbackInfo& info) {
  struct bpf_program* program = ObjectProgram(info.Env(), "bpf_program__attach_lsm");
  return AttachWith(info.Env(), "bpf_program__attach_lsm",
                    [program](auto& out, int) { return Take(bpf_program__attach_lsm(program), out); });
}

// attachIter(mapFd): an iterator link (mapFd < 0: no map).
Napi::Value ProgramHandle::AttachIter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_program__attach_iter";
  struct bpf_program* program = ObjectProgram(env, op);
  int mapFd = IntArg(env, info[0], op, "mapFd");
  return AttachWith(env, op, [&](auto& out, int) {
    union bpf_iter_link_info link_info = {};
    LIBBPF_OPTS(bpf_iter_attach_opts, opts);
    if (mapFd >= 0) {
      link_info.map.map_fd = static_cast<uint32_t>(mapFd);
      opts.link_info = &link_info;
      opts.link_info_len = sizeof(link_info);
    }
    return Take(bpf_program__attach_iter(program, &opts), out);
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
  Napi::Object result;
  int err = ProgramInfoOf(env, LoadedFd(env, op), &result);
  if (err != 0) throw BpfError(env, op, err, NameOf());
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
  for (auto [size, what] : {std::pair{dataOutSize, "dataOutSize"}, std::pair{ctxOutSize, "ctxOutSize"}}) {
    if (size > kMaxTestRunOut) {
      throw BpfError(env, op, "EINVAL", std::string(what) + " is " + std::to_string(size) + " bytes, more than " +
                     std::to_string(kMaxTestRunOut) + ": more than any packet or context the kernel writes back");
    }
  }
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
  if (bpf_prog_test_run_opts(fd, &opts) != 0) throw BpfError(env, op, errno, NameOf());
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
