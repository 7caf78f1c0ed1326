// BpfProgram: one bpf_program of an object: its identity, autoload, and attach calls that make links.
#pragma once

#include <napi.h>

#include "object.h"

struct bpf_link;
struct bpf_program;

namespace bpfkit {

class ProgramHandle : public Napi::ObjectWrap<ProgramHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ProgramHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Section(const Napi::CallbackInfo& info);
  Napi::Value Type(const Napi::CallbackInfo& info);
  Napi::Value ExpectedAttachType(const Napi::CallbackInfo& info);
  Napi::Value Autoload(const Napi::CallbackInfo& info);
  void SetAutoload(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value SetAttachTarget(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachUsdt(const Napi::CallbackInfo& info);
  Napi::Value AttachKprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachKprobeMulti(const Napi::CallbackInfo& info);
  Napi::Value AttachKsyscall(const Napi::CallbackInfo& info);
  Napi::Value AttachPerfEvent(const Napi::CallbackInfo& info);
  Napi::Value AttachTrace(const Napi::CallbackInfo& info);
  Napi::Value AttachLsm(const Napi::CallbackInfo& info);
  Napi::Value AttachIter(const Napi::CallbackInfo& info);
  Napi::Value LinkCreate(const Napi::CallbackInfo& info);
  Napi::Value AttachSocket(const Napi::CallbackInfo& info);
  Napi::Value AttachXdpNetlink(const Napi::CallbackInfo& info);
  Napi::Value AttachTcClsact(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value TestRun(const Napi::CallbackInfo& info);

  // Runs an attach call — `attach(std::unique_ptr<Attachment>& out, int programFd)` returns 0 or an errno — and wraps
  // what it made in a LinkHandle (or throws its error), then delivers libbpf's messages; a throwing
  // logger releases the new link rather than leaking it.
  template <typename F>
  Napi::Value AttachWith(Napi::Env env, const char* op, F attach);
  int LoadedFd(Napi::Env env, const char* op) const;

  ObjectHandle* owner_;
  Napi::ObjectReference ownerRef_;
  struct bpf_program* program_;
};

}  // namespace bpfkit
