// BpfProgram: one bpf_program of an object, or a loaded program opened from a pin or by id; its
// identity, pre-load settings, pins, and attach calls that make links.
#pragma once

#include <linux/bpf.h>
#include <napi.h>

#include <string>

#include "object.h"

struct bpf_link;
struct bpf_program;

namespace bpfkit {

class ProgramHandle : public Napi::ObjectWrap<ProgramHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  // new BpfProgramHandle(objectHandle, External<bpf_program>): an object's program (the object owns it);
  // new BpfProgramHandle({ pinned: path } | { id }): a loaded program of its own, holding one fd.
  explicit ProgramHandle(const Napi::CallbackInfo& info);
  ~ProgramHandle() override;

  // Closes the fd of a program opened from a pin or by id (an object's programs belong to the object).
  void Release() override;

  // The ProgramHandle behind `value`, or nullptr: checked by type tag, not by prototype.
  static ProgramHandle* From(Napi::Env env, Napi::Value value);

  // The loaded program's fd; throws unless it is loaded.
  int LoadedFd(Napi::Env env, const char* op) const;

  // listPrograms() → the kernel's view of every loaded program, system-wide.
  static Napi::Value List(const Napi::CallbackInfo& info);

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Section(const Napi::CallbackInfo& info);
  Napi::Value Type(const Napi::CallbackInfo& info);
  void SetType(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value ExpectedAttachType(const Napi::CallbackInfo& info);
  void SetExpectedAttachType(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value Flags(const Napi::CallbackInfo& info);
  void SetFlags(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value LogLevel(const Napi::CallbackInfo& info);
  void SetLogLevel(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value VerifierLog(const Napi::CallbackInfo& info);
  Napi::Value Autoload(const Napi::CallbackInfo& info);
  void SetAutoload(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value PinPath(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Unpin(const Napi::CallbackInfo& info);
  Napi::Value SetAttachTarget(const Napi::CallbackInfo& info);
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value AttachTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachRawTracepoint(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobe(const Napi::CallbackInfo& info);
  Napi::Value AttachUprobeMulti(const Napi::CallbackInfo& info);
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
  Napi::Value Close(const Napi::CallbackInfo& info);

  // Runs an attach call — `attach(std::unique_ptr<Attachment>& out, int programFd)` returns 0 or an errno — and wraps
  // what it made in a LinkHandle (or throws its error), then delivers libbpf's messages; a throwing
  // logger releases the new link rather than leaking it.
  template <typename F>
  Napi::Value AttachWith(Napi::Env env, const char* op, F attach);
  // The object's bpf_program for libbpf's calls; a program opened from a pin or by id has none.
  struct bpf_program* ObjectProgram(Napi::Env env, const char* op) const;
  // An object's program, before load(), for a setter.
  struct bpf_program* Settable(Napi::Env env, const char* op) const;
  void Deliver(Napi::Env env, const std::vector<LogLine>& lines);
  std::string NameOf() const;

  // An object's program
  ObjectHandle* owner_ = nullptr;
  Napi::ObjectReference ownerRef_;
  struct bpf_program* program_ = nullptr;
  // A program opened from a pin or by id
  Addon* addon_ = nullptr;
  int fd_ = -1;
  struct bpf_prog_info info_ = {};
  std::string pinPath_;
};

}  // namespace bpfkit
