// BpfProgram: one bpf_program of an object: its identity, autoload, and attach calls that make links.
#include "program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
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
      InstanceAccessor<&ProgramHandle::Autoload, &ProgramHandle::SetAutoload>("autoload"),
      InstanceAccessor<&ProgramHandle::Fd>("fd"),
      InstanceAccessor<&ProgramHandle::Id>("id"),
      InstanceMethod<&ProgramHandle::Attach>("attach"),
      InstanceMethod<&ProgramHandle::AttachTracepoint>("attachTracepoint"),
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

Napi::Value ProgramHandle::Id(const Napi::CallbackInfo& info) {
  int fd = LoadedFd(info.Env(), "bpf_prog_get_info_by_fd");
  struct bpf_prog_info prog_info = {};
  uint32_t length = sizeof(prog_info);
  int err = -bpf_obj_get_info_by_fd(fd, &prog_info, &length);
  if (err != 0) throw BpfError(info.Env(), "bpf_prog_get_info_by_fd", err);
  return Napi::Number::New(info.Env(), prog_info.id);
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
  LoadedFd(env, op);
  struct bpf_link* link = nullptr;
  int err = 0;
  std::vector<LogLine> lines = Captured(owner_->LogLevel(), [&] {
    link = attach();
    err = link == nullptr ? errno : 0;
  });
  if (link == nullptr) {
    owner_->Deliver(env, lines);
    throw BpfError(env, op, err, std::string("program '") + bpf_program__name(program_) + "'");
  }
  Napi::Object wrapped = Addon::Of(env)->linkClass.New({Napi::External<struct bpf_link>::New(env, link)});
  try {
    owner_->Deliver(env, lines);
  } catch (...) {
    LinkHandle::Unwrap(wrapped)->Release();
    throw;
  }
  return wrapped;
}

// attach(): libbpf's auto-attach from the SEC() name. EOPNOTSUPP means the section names no target.
Napi::Value ProgramHandle::Attach(const Napi::CallbackInfo& info) {
  return AttachWith(info.Env(), "bpf_program__attach", [this] { return bpf_program__attach(program_); });
}

// attachTracepoint(category, name)
Napi::Value ProgramHandle::AttachTracepoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString()) {
    throw BpfError(env, "bpf_program__attach_tracepoint", "EINVAL", "expected (category, name) strings");
  }
  std::string category = info[0].As<Napi::String>().Utf8Value();
  std::string name = info[1].As<Napi::String>().Utf8Value();
  return AttachWith(env, "bpf_program__attach_tracepoint",
                    [&] { return bpf_program__attach_tracepoint(program_, category.c_str(), name.c_str()); });
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
