// UserRingBuffer: libbpf's user_ring_buffer over a BPF_MAP_TYPE_USER_RINGBUF map: records written here,
// drained by BPF programs with bpf_user_ringbuf_drain().
#pragma once

#include <napi.h>

#include "addon.h"
#include "reader.h"

struct user_ring_buffer;

namespace bpfkit {

class UserRingBufferHandle : public Napi::ObjectWrap<UserRingBufferHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  // new UserRingBufferHandle(map: BpfMapHandle)
  explicit UserRingBufferHandle(const Napi::CallbackInfo& info);
  ~UserRingBufferHandle() override;

  void Release() override;
  bool DependsOnObject() const override { return true; }

 private:
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Addon* addon_;
  // One writer per map in the process: libbpf's user ring buffer is a single producer.
  MapClaims claims_;
  struct user_ring_buffer* ring_ = nullptr;
  Napi::ObjectReference map_;
};

}  // namespace bpfkit
