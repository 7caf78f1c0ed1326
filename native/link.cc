// Link: one bpf_link, which keeps a program attached until it is destroyed (or pinned).
#include "link.h"

#include <bpf/libbpf.h>

#include <string>

#include "errors.h"

namespace bpfkit {

Napi::Function LinkHandle::Init(Napi::Env env) {
  return DefineClass(env, "LinkHandle", {
      InstanceAccessor<&LinkHandle::Fd>("fd"),
      InstanceAccessor<&LinkHandle::PinPath>("pinPath"),
      InstanceMethod<&LinkHandle::Pin>("pin"),
      InstanceMethod<&LinkHandle::Unpin>("unpin"),
      InstanceMethod<&LinkHandle::Destroy>("destroy"),
  });
}

// Made by the attach calls of BpfProgramHandle: new LinkHandle(External<bpf_link>)
LinkHandle::LinkHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<LinkHandle>(info), addon_(Addon::Of(info.Env())) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    throw BpfError(info.Env(), "Link", "EINVAL", "links come from a program's attach calls");
  }
  link_ = info[0].As<Napi::External<struct bpf_link>>().Data();
  addon_->Track(this);
}

LinkHandle::~LinkHandle() { Release(); }

void LinkHandle::Release() {
  if (link_ == nullptr) return;
  // A pinned link stays attached after its fd is closed: that is what pinning is for.
  bpf_link__destroy(link_);
  link_ = nullptr;
  addon_->Untrack(this);
}

struct bpf_link* LinkHandle::Require(Napi::Env env, const char* op) const {
  if (link_ == nullptr) throw BpfError(env, op, "ECLOSED", "the link is closed");
  return link_;
}

Napi::Value LinkHandle::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), bpf_link__fd(Require(info.Env(), "bpf_link__fd")));
}

Napi::Value LinkHandle::PinPath(const Napi::CallbackInfo& info) {
  const char* path = bpf_link__pin_path(Require(info.Env(), "bpf_link__pin_path"));
  return path != nullptr ? Napi::String::New(info.Env(), path) : info.Env().Null();
}

Napi::Value LinkHandle::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_link* link = Require(env, "bpf_link__pin");
  if (!info[0].IsString()) throw BpfError(env, "bpf_link__pin", "EINVAL", "expected a path on a bpffs mount");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] { err = -bpf_link__pin(link, path.c_str()); });
  addon_->Deliver(env, lines, Napi::FunctionReference());
  if (err != 0) throw BpfError(env, "bpf_link__pin", err, path);
  return env.Undefined();
}

Napi::Value LinkHandle::Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct bpf_link* link = Require(env, "bpf_link__unpin");
  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] { err = -bpf_link__unpin(link); });
  addon_->Deliver(env, lines, Napi::FunctionReference());
  if (err != 0) throw BpfError(env, "bpf_link__unpin", err);
  return env.Undefined();
}

Napi::Value LinkHandle::Destroy(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace bpfkit
