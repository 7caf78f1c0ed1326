// Btf: one libbpf struct btf (an object's, the running kernel's, a file's or a loaded one's) and its type table.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

#include "object.h"

struct btf;

namespace bpfkit {

// Copies `ids` of `source`, and every type they reach, into a new BTF and loads it into the kernel, for a
// map of its own. Pointers become void pointers (a map holds no kernel pointers to follow). Returns the
// BTF's fd (the caller closes it) with the copies' ids in `copied`, or a negative errno.
int LoadTypes(const struct btf* source, const std::vector<uint32_t>& ids, std::vector<uint32_t>* copied);

class BtfHandle : public Napi::ObjectWrap<BtfHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  // new BtfHandle({ path } | { vmlinux: true } | { id }) owns its btf;
  // new BtfHandle(objectHandle, External<btf>) borrows the object's, valid while the object is open.
  explicit BtfHandle(const Napi::CallbackInfo& info);
  ~BtfHandle() override;

  // The btf behind a JS BtfHandle, or a BpfError.
  static const struct btf* Of(Napi::Env env, Napi::Value value, const char* op);

 private:
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value Types(const Napi::CallbackInfo& info);
  Napi::Value Find(const Napi::CallbackInfo& info);
  Napi::Value DumpC(const Napi::CallbackInfo& info);
  Napi::Value RawData(const Napi::CallbackInfo& info);
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value AddTypes(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // The btf, or a BpfError when it was closed or its object was.
  const struct btf* Require(Napi::Env env, const char* op) const;
  Napi::Object Type(Napi::Env env, const struct btf* btf, uint32_t id) const;

  struct btf* btf_ = nullptr;
  bool owned_ = false;
  ObjectHandle* owner_ = nullptr;
  Napi::ObjectReference ownerRef_;
};

}  // namespace bpfkit
