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
  Napi::Value Autoload(const Napi::CallbackInfo& info);
  void SetAutoload(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);
  Napi::Value TestRun(const Napi::CallbackInfo& info);

  // Runs an attach call and wraps the bpf_link it makes (or throws its error), then delivers libbpf's
  // messages; a throwing logger destroys the new link rather than leaking it.
  template <typename F>
  Napi::Value AttachWith(Napi::Env env, const char* op, F attach);
  int LoadedFd(Napi::Env env, const char* op) const;

  ObjectHandle* owner_;
  Napi::ObjectReference ownerRef_;
  struct bpf_program* program_;
};

}  // namespace bpfkit
