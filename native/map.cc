// BpfMap: one bpf_map of an object: its definition and raw key/value access, sizes checked before syscalls.
#include "map.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace bpfkit {

using Need = ObjectHandle::Need;

namespace {

bool IsPerCpu(enum bpf_map_type type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

constexpr napi_type_tag kMapTag = {0x6270666b69746d61ULL, 0x7048616e646c6531ULL};

uint64_t Flags(const Napi::Value& value) {
  return value.IsNumber() ? static_cast<uint64_t>(value.As<Napi::Number>().Int64Value()) : 0;
}

}  // namespace

Napi::Function MapHandle::Init(Napi::Env env) {
  return DefineClass(env, "BpfMapHandle", {
      InstanceAccessor<&MapHandle::Name>("name"),
      InstanceAccessor<&MapHandle::Type>("type"),
      InstanceAccessor<&MapHandle::KeySize>("keySize"),
      InstanceAccessor<&MapHandle::ValueSize>("valueSize"),
      InstanceAccessor<&MapHandle::ValueBytes>("valueBytes"),
      InstanceAccessor<&MapHandle::MaxEntries, &MapHandle::SetMaxEntries>("maxEntries"),
      InstanceAccessor<&MapHandle::IsInternal>("isInternal"),
      InstanceAccessor<&MapHandle::Fd>("fd"),
      InstanceAccessor<&MapHandle::Id>("id"),
      InstanceMethod<&MapHandle::Lookup>("lookup"),
      InstanceMethod<&MapHandle::Update>("update"),
      InstanceMethod<&MapHandle::Delete>("delete"),
      InstanceMethod<&MapHandle::NextKey>("nextKey"),
  });
}

// Made by BpfObjectHandle.maps(): new BpfMapHandle(objectHandle, External<bpf_map>)
MapHandle::MapHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MapHandle>(info) {
  if (info.Length() < 2 || !info[1].IsExternal() || !info[0].IsObject()) {
    throw BpfError(info.Env(), "BpfMap", "EINVAL", "maps come from BpfObject.maps");
  }
  owner_ = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
  ownerRef_ = Napi::Persistent(info[0].As<Napi::Object>());
  map_ = info[1].As<Napi::External<struct bpf_map>>().Data();
  napi_type_tag_object(info.Env(), Value(), &kMapTag);
}

MapHandle* MapHandle::From(Napi::Env env, Napi::Value value) {
  bool tagged = false;
  if (!value.IsObject() || napi_check_object_type_tag(env, value, &kMapTag, &tagged) != napi_ok || !tagged) {
    return nullptr;
  }
  return Unwrap(value.As<Napi::Object>());
}

size_t MapHandle::ValueBytes() const {
  size_t size = bpf_map__value_size(map_);
  if (!IsPerCpu(bpf_map__type(map_))) return size;
  return ((size + 7) & ~static_cast<size_t>(7)) * static_cast<size_t>(libbpf_num_possible_cpus());
}

int MapHandle::LoadedFd(Napi::Env env, const char* op) const {
  owner_->Require(env, op, Need::Loaded);
  int fd = bpf_map__fd(map_);
  if (fd < 0) throw BpfError(env, op, "EBADSTATE", std::string("map '") + bpf_map__name(map_) + "' was not created");
  return fd;
}

Napi::Buffer<uint8_t> MapHandle::Sized(Napi::Env env, const char* op, const Napi::Value& value, size_t size,
                                       const char* what) const {
  if (!value.IsBuffer()) throw BpfError(env, op, "EINVAL", std::string(what) + " must be a Buffer");
  auto buffer = value.As<Napi::Buffer<uint8_t>>();
  if (buffer.Length() != size) {
    throw BpfError(env, op, "EINVAL",
                   std::string("map '") + bpf_map__name(map_) + "': " + what + " is " +
                       std::to_string(buffer.Length()) + " bytes, expected " + std::to_string(size));
  }
  return buffer;
}

Napi::Value MapHandle::Name(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__name", Need::Open);
  return Napi::String::New(info.Env(), bpf_map__name(map_));
}

Napi::Value MapHandle::Type(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__type", Need::Open);
  const char* name = libbpf_bpf_map_type_str(bpf_map__type(map_));
  return Napi::String::New(info.Env(), name != nullptr ? name : "unknown");
}

Napi::Value MapHandle::KeySize(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__key_size", Need::Open);
  return Napi::Number::New(info.Env(), bpf_map__key_size(map_));
}

Napi::Value MapHandle::ValueSize(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__value_size", Need::Open);
  return Napi::Number::New(info.Env(), bpf_map__value_size(map_));
}

Napi::Value MapHandle::ValueBytes(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__value_size", Need::Open);
  return Napi::Number::New(info.Env(), static_cast<double>(ValueBytes()));
}

Napi::Value MapHandle::MaxEntries(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__max_entries", Need::Open);
  return Napi::Number::New(info.Env(), bpf_map__max_entries(map_));
}

void MapHandle::SetMaxEntries(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  owner_->Require(env, "bpf_map__set_max_entries", Need::BeforeLoad);
  if (!value.IsNumber()) throw BpfError(env, "bpf_map__set_max_entries", "EINVAL", "maxEntries must be a number");
  int err = -bpf_map__set_max_entries(map_, value.As<Napi::Number>().Uint32Value());
  if (err != 0) throw BpfError(env, "bpf_map__set_max_entries", err);
}

Napi::Value MapHandle::IsInternal(const Napi::CallbackInfo& info) {
  owner_->Require(info.Env(), "bpf_map__is_internal", Need::Open);
  return Napi::Boolean::New(info.Env(), bpf_map__is_internal(map_));
}

Napi::Value MapHandle::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), LoadedFd(info.Env(), "bpf_map__fd"));
}

Napi::Value MapHandle::Id(const Napi::CallbackInfo& info) {
  int fd = LoadedFd(info.Env(), "bpf_map_get_info_by_fd");
  struct bpf_map_info map_info = {};
  uint32_t length = sizeof(map_info);
  int err = -bpf_obj_get_info_by_fd(fd, &map_info, &length);
  if (err != 0) throw BpfError(info.Env(), "bpf_map_get_info_by_fd", err);
  return Napi::Number::New(info.Env(), map_info.id);
}

// lookup(key: Buffer, flags?) → Buffer | undefined
Napi::Value MapHandle::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_lookup_elem";
  LoadedFd(env, op);
  auto key = Sized(env, op, info[0], bpf_map__key_size(map_), "key");
  auto value = Napi::Buffer<uint8_t>::New(env, ValueBytes());
  int err = -bpf_map__lookup_elem(map_, key.Data(), key.Length(), value.Data(), value.Length(), Flags(info[1]));
  if (err == ENOENT) return env.Undefined();
  if (err != 0) throw BpfError(env, op, err, bpf_map__name(map_));
  return value;
}

// update(key: Buffer, value: Buffer, flags?)
Napi::Value MapHandle::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_update_elem";
  LoadedFd(env, op);
  auto key = Sized(env, op, info[0], bpf_map__key_size(map_), "key");
  auto value = Sized(env, op, info[1], ValueBytes(), "value");
  int err = -bpf_map__update_elem(map_, key.Data(), key.Length(), value.Data(), value.Length(), Flags(info[2]));
  if (err != 0) throw BpfError(env, op, err, bpf_map__name(map_));
  return env.Undefined();
}

// delete(key: Buffer) → whether the key was there
Napi::Value MapHandle::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_delete_elem";
  LoadedFd(env, op);
  auto key = Sized(env, op, info[0], bpf_map__key_size(map_), "key");
  int err = -bpf_map__delete_elem(map_, key.Data(), key.Length(), 0);
  if (err == ENOENT) return Napi::Boolean::New(env, false);
  if (err != 0) throw BpfError(env, op, err, bpf_map__name(map_));
  return Napi::Boolean::New(env, true);
}

// nextKey(key: Buffer | null) → Buffer | undefined (null starts from the first key)
Napi::Value MapHandle::NextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_get_next_key";
  LoadedFd(env, op);
  size_t size = bpf_map__key_size(map_);
  const void* current = nullptr;
  if (!info[0].IsNull() && !info[0].IsUndefined()) current = Sized(env, op, info[0], size, "key").Data();
  auto next = Napi::Buffer<uint8_t>::New(env, size);
  int err = -bpf_map__get_next_key(map_, current, next.Data(), size);
  if (err == ENOENT) return env.Undefined();
  if (err != 0) throw BpfError(env, op, err, bpf_map__name(map_));
  return next;
}

}  // namespace bpfkit
