// BpfMap: one bpf_map of an object: its definition and raw key/value access, sizes checked before syscalls.
#pragma once

#include <napi.h>

#include <cstddef>

#include "object.h"

struct bpf_map;

namespace bpfkit {

class MapHandle : public Napi::ObjectWrap<MapHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit MapHandle(const Napi::CallbackInfo& info);

  // The MapHandle behind `value`, or nullptr: checked by type tag, not by prototype, which JS can forge.
  static MapHandle* From(Napi::Env env, Napi::Value value);

  // The map's fd once loaded; throws otherwise. Ring buffers are built from these.
  int LoadedFd(Napi::Env env, const char* op) const;

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Type(const Napi::CallbackInfo& info);
  Napi::Value KeySize(const Napi::CallbackInfo& info);
  Napi::Value ValueSize(const Napi::CallbackInfo& info);
  Napi::Value ValueBytes(const Napi::CallbackInfo& info);
  Napi::Value MaxEntries(const Napi::CallbackInfo& info);
  void SetMaxEntries(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value IsInternal(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value Update(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value NextKey(const Napi::CallbackInfo& info);

  // Size of one value as the syscall sees it: per-CPU maps hold one 8-byte-aligned slot per possible CPU.
  size_t ValueBytes() const;
  // A Buffer argument of exactly `size` bytes, or a BpfError before any syscall.
  Napi::Buffer<uint8_t> Sized(Napi::Env env, const char* op, const Napi::Value& value, size_t size,
                              const char* what) const;

  ObjectHandle* owner_;
  Napi::ObjectReference ownerRef_;
  struct bpf_map* map_;
};

}  // namespace bpfkit
