// UserRingBuffer: libbpf's user_ring_buffer over a BPF_MAP_TYPE_USER_RINGBUF map: records written here,
// drained by BPF programs with bpf_user_ringbuf_drain().
#include "user_ring_buffer.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "errors.h"
#include "map.h"

namespace bpfkit {

Napi::Function UserRingBufferHandle::Init(Napi::Env env) {
  return DefineClass(env, "UserRingBufferHandle", {
      InstanceMethod<&UserRingBufferHandle::Write>("write"),
      InstanceMethod<&UserRingBufferHandle::Close>("close"),
  });
}

UserRingBufferHandle::UserRingBufferHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<UserRingBufferHandle>(info), addon_(Addon::Of(info.Env())) {
  Napi::Env env = info.Env();
  const char* op = "user_ring_buffer__new";
  MapHandle* map = MapHandle::From(env, info[0]);
  if (map == nullptr) throw BpfError(env, op, "EINVAL", "expected a BpfMap handle");
  int fd = map->LoadedFd(env, op);
  claims_.Claim(env, op, fd, map->NameOf(), "a writer",
                "one writer per map (a user ring buffer has one producer position): write through the other, or close it first");
  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] {
    ring_ = user_ring_buffer__new(fd, nullptr);
    err = ring_ == nullptr ? errno : 0;
  });
  addon_->Deliver(env, lines, Napi::FunctionReference());
  if (ring_ == nullptr) throw BpfError(env, op, err);
  map_ = Napi::Persistent(info[0].As<Napi::Object>());
  addon_->Track(this);
}

UserRingBufferHandle::~UserRingBufferHandle() { Release(); }

void UserRingBufferHandle::Release() {
  if (ring_ == nullptr) return;
  user_ring_buffer__free(ring_);
  ring_ = nullptr;
  claims_.Drop();
  addon_->Untrack(this);
}

// write(record: Uint8Array) → true, or false when the ring has no room for it (nothing written).
Napi::Value UserRingBufferHandle::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "user_ring_buffer__reserve";
  if (ring_ == nullptr) throw BpfError(env, op, "ECLOSED", "the user ring buffer is closed");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw BpfError(env, op, "EINVAL", "the record must be a Uint8Array");
  }
  Napi::Uint8Array record = info[0].As<Napi::Uint8Array>();
  if (record.ElementLength() == 0) throw BpfError(env, op, "EINVAL", "the record is empty");
  void* sample = user_ring_buffer__reserve(ring_, static_cast<uint32_t>(record.ElementLength()));
  if (sample == nullptr) {
    if (errno == ENOSPC) return Napi::Boolean::New(env, false);
    throw BpfError(env, op, errno);
  }
  memcpy(sample, record.Data(), record.ElementLength());
  user_ring_buffer__submit(ring_, sample);
  return Napi::Boolean::New(env, true);
}

Napi::Value UserRingBufferHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  map_.Reset();
  return info.Env().Undefined();
}

}  // namespace bpfkit
