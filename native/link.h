// Link: one bpf_link, which keeps a program attached until it is destroyed (or pinned).
#pragma once

#include <napi.h>

#include "addon.h"

struct bpf_link;

namespace bpfkit {

class LinkHandle : public Napi::ObjectWrap<LinkHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit LinkHandle(const Napi::CallbackInfo& info);
  ~LinkHandle() override;

  void Release() override;

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value PinPath(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Unpin(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  struct bpf_link* Require(Napi::Env env, const char* op) const;

  Addon* addon_;
  struct bpf_link* link_ = nullptr;
};

}  // namespace bpfkit
