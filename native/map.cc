// BpfMap: one BPF map — of an object (a libbpf bpf_map) or opened from a pin — and byte-level access to
// its entries, every size checked before the syscall.
#include "map.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "errors.h"
#include "link.h"

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

uint32_t Count(Napi::Env env, const char* op, const Napi::Value& value) {
  if (!value.IsNumber()) throw BpfError(env, op, "EINVAL", "count must be a number");
  double count = value.As<Napi::Number>().DoubleValue();
  if (!(count >= 0 && count <= 0xffffffff)) throw BpfError(env, op, "EINVAL", "count out of range");
  return static_cast<uint32_t>(count);
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
      InstanceAccessor<&MapHandle::MapFlags>("mapFlags"),
      InstanceAccessor<&MapHandle::IsInternal>("isInternal"),
      InstanceAccessor<&MapHandle::BtfKeyTypeId>("btfKeyTypeId"),
      InstanceAccessor<&MapHandle::BtfValueTypeId>("btfValueTypeId"),
      InstanceAccessor<&MapHandle::BtfId>("btfId"),
      InstanceAccessor<&MapHandle::Fd>("fd"),
      InstanceAccessor<&MapHandle::Id>("id"),
      InstanceAccessor<&MapHandle::PinPath, &MapHandle::SetPinPath>("pinPath"),
      InstanceMethod<&MapHandle::Lookup>("lookup"),
      InstanceMethod<&MapHandle::LookupAndDelete>("lookupAndDelete"),
      InstanceMethod<&MapHandle::Update>("update"),
      InstanceMethod<&MapHandle::Delete>("delete"),
      InstanceMethod<&MapHandle::NextKey>("nextKey"),
      InstanceMethod<&MapHandle::LookupBatch>("lookupBatch"),
      InstanceMethod<&MapHandle::UpdateBatch>("updateBatch"),
      InstanceMethod<&MapHandle::DeleteBatch>("deleteBatch"),
      InstanceMethod<&MapHandle::Scratch>("scratch"),
      InstanceMethod<&MapHandle::Freeze>("freeze"),
      InstanceMethod<&MapHandle::AttachStructOps>("attachStructOps"),
      InstanceMethod<&MapHandle::Pin>("pin"),
      InstanceMethod<&MapHandle::Unpin>("unpin"),
      InstanceMethod<&MapHandle::Reuse>("reuse"),
      InstanceMethod<&MapHandle::ReadGlobal>("readGlobal"),
      InstanceMethod<&MapHandle::WriteGlobal>("writeGlobal"),
      InstanceMethod<&MapHandle::Close>("close"),
  });
}

MapHandle::MapHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MapHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 2 && info[0].IsObject() && info[1].IsExternal()) {
    owner_ = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
    ownerRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    map_ = info[1].As<Napi::External<struct bpf_map>>().Data();
    btfKeyTypeId_ = bpf_map__btf_key_type_id(map_);
    btfValueTypeId_ = bpf_map__btf_value_type_id(map_);
  } else if (info.Length() == 1 && info[0].IsObject() && info[0].As<Napi::Object>().Get("pinned").IsString()) {
    std::string path = info[0].As<Napi::Object>().Get("pinned").As<Napi::String>().Utf8Value();
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0) throw BpfError(env, "bpf_obj_get", errno, path);
    // A pin may hold a program or a link, whose info would read as nonsense map info.
    char kind[32] = {};
    std::string link = "/proc/self/fd/" + std::to_string(fd);
    if (readlink(link.c_str(), kind, sizeof(kind) - 1) < 0 || std::string(kind) != "anon_inode:bpf-map") {
      close(fd);
      throw BpfError(env, "bpf_obj_get", "EINVAL", path + " is not a pinned map (" + (kind[0] ? kind : "unknown") + ")");
    }
    uint32_t length = sizeof(info_);
    if (bpf_obj_get_info_by_fd(fd, &info_, &length) != 0) {
      int err = errno;
      close(fd);
      throw BpfError(env, "bpf_map_get_info_by_fd", err, path);
    }
    addon_ = Addon::Of(env);
    fd_ = fd;
    addon_->Track(this);
  } else {
    throw BpfError(env, "BpfMap", "EINVAL", "maps come from BpfObject.maps or BpfMap.openPinned");
  }
  napi_type_tag_object(env, Value(), &kMapTag);
}

MapHandle::~MapHandle() {
  if (scratch_) scratch_->map = nullptr;
  Release();
}

void MapHandle::Release() {
  if (fd_ < 0) return;
  close(fd_);
  fd_ = -1;
  addon_->Untrack(this);
}

MapHandle* MapHandle::From(Napi::Env env, Napi::Value value) {
  bool tagged = false;
  if (!value.IsObject() || napi_check_object_type_tag(env, value, &kMapTag, &tagged) != napi_ok || !tagged) {
    return nullptr;
  }
  return Unwrap(value.As<Napi::Object>());
}

void MapHandle::RequireOpen(Napi::Env env, const char* op) const {
  if (owner_ != nullptr) {
    owner_->Require(env, op, Need::Open);
  } else if (fd_ < 0) {
    throw BpfError(env, op, "ECLOSED", "the map is closed");
  }
}

enum bpf_map_type MapHandle::TypeOf() const {
  return map_ != nullptr ? bpf_map__type(map_) : static_cast<enum bpf_map_type>(info_.type);
}

size_t MapHandle::KeySizeOf() const { return map_ != nullptr ? bpf_map__key_size(map_) : info_.key_size; }

size_t MapHandle::ValueSizeOf() const { return map_ != nullptr ? bpf_map__value_size(map_) : info_.value_size; }

std::string MapHandle::NameOf() const { return map_ != nullptr ? bpf_map__name(map_) : info_.name; }

size_t MapHandle::ValueBytes() const {
  size_t size = ValueSizeOf();
  if (!IsPerCpu(TypeOf())) return size;
  int cpus = libbpf_num_possible_cpus();
  return ((size + 7) & ~static_cast<size_t>(7)) * static_cast<size_t>(cpus > 0 ? cpus : 1);
}

int MapHandle::LoadedFd(Napi::Env env, const char* op) const {
  if (map_ == nullptr) {
    RequireOpen(env, op);
    return fd_;
  }
  owner_->Require(env, op, Need::Loaded);
  int fd = bpf_map__fd(map_);
  if (fd < 0) throw BpfError(env, op, "EBADSTATE", "map '" + NameOf() + "' was not created");
  return fd;
}

uint8_t* MapHandle::Sized(Napi::Env env, const char* op, const Napi::Value& value, size_t size, const char* what,
                          bool atLeast) const {
  // One napi call: it fails for anything that is not a typed array. This runs on every map operation.
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    throw BpfError(env, op, "EINVAL", std::string(what) + " must be a Buffer or Uint8Array");
  }
  if (atLeast ? length < size : length != size) {
    throw BpfError(env, op, "EINVAL",
                   "map '" + NameOf() + "': " + what + " is " + std::to_string(length) + " bytes, expected " +
                       (atLeast ? "at least " : "") + std::to_string(size));
  }
  return static_cast<uint8_t*>(data);
}

const uint8_t* MapHandle::KeyArg(Napi::Env env, const char* op, const Napi::Value& value) const {
  if (KeySizeOf() == 0 && (value.IsNull() || value.IsUndefined())) return nullptr;
  return Sized(env, op, value, KeySizeOf(), "key");
}

Napi::Value MapHandle::Name(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__name");
  return Napi::String::New(info.Env(), NameOf());
}

Napi::Value MapHandle::Type(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__type");
  const char* name = libbpf_bpf_map_type_str(TypeOf());
  return Napi::String::New(info.Env(), name != nullptr ? name : "unknown");
}

Napi::Value MapHandle::KeySize(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__key_size");
  return Napi::Number::New(info.Env(), static_cast<double>(KeySizeOf()));
}

Napi::Value MapHandle::ValueSize(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__value_size");
  return Napi::Number::New(info.Env(), static_cast<double>(ValueSizeOf()));
}

Napi::Value MapHandle::ValueBytes(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__value_size");
  return Napi::Number::New(info.Env(), static_cast<double>(ValueBytes()));
}

Napi::Value MapHandle::MaxEntries(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__max_entries");
  return Napi::Number::New(info.Env(), map_ != nullptr ? bpf_map__max_entries(map_) : info_.max_entries);
}

void MapHandle::SetMaxEntries(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__set_max_entries";
  if (map_ == nullptr) throw BpfError(env, op, "EBADSTATE", "a pinned map already exists in the kernel");
  owner_->Require(env, op, Need::BeforeLoad);
  if (!value.IsNumber()) throw BpfError(env, op, "EINVAL", "maxEntries must be a number");
  uint32_t entries = value.As<Napi::Number>().Uint32Value();
  // libbpf maps a global-data or struct_ops map's memory at open for the declared size, maps the
  // kernel's over it at load with the new one, and unmaps the new size at close: a larger size there
  // unmaps the process's neighbouring memory. An arena's initial data is copied into its first pages.
  size_t initial = 0;
  if (bpf_map__initial_value(map_, &initial) != nullptr) {
    if (bpf_map__type(map_) != BPF_MAP_TYPE_ARENA) {
      throw BpfError(env, op, "EINVAL",
                     "map '" + NameOf() + "' holds the object's own data (a global section or struct_ops): its size is fixed by the object");
    }
    if (static_cast<uint64_t>(entries) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) < initial) {
      throw BpfError(env, op, "EINVAL", "arena '" + NameOf() + "' needs at least " + std::to_string(initial) + " bytes for its variables");
    }
  }
  int err = -bpf_map__set_max_entries(map_, entries);
  if (err != 0) throw BpfError(env, op, err);
}

Napi::Value MapHandle::MapFlags(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__map_flags");
  return Napi::Number::New(info.Env(), map_ != nullptr ? bpf_map__map_flags(map_) : info_.map_flags);
}

Napi::Value MapHandle::IsInternal(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__is_internal");
  return Napi::Boolean::New(info.Env(), map_ != nullptr && bpf_map__is_internal(map_));
}

Napi::Value MapHandle::BtfKeyTypeId(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__btf_key_type_id");
  return Napi::Number::New(info.Env(), map_ != nullptr ? btfKeyTypeId_ : info_.btf_key_type_id);
}

Napi::Value MapHandle::BtfValueTypeId(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__btf_value_type_id");
  return Napi::Number::New(info.Env(), map_ != nullptr ? btfValueTypeId_ : info_.btf_value_type_id);
}

// The kernel's id of the BTF a pinned map was created with (0 when none); object maps use the object's BTF.
Napi::Value MapHandle::BtfId(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map_get_info_by_fd");
  return Napi::Number::New(info.Env(), map_ != nullptr ? 0 : info_.btf_id);
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

Napi::Value MapHandle::PinPath(const Napi::CallbackInfo& info) {
  return pinPath_.empty() ? info.Env().Null() : Napi::String::New(info.Env(), pinPath_);
}

// lookup(key: Buffer | null, flags?) → Buffer | undefined. Without a key (queue, stack): peek.
// lookup(key, flags, out: Buffer) → whether found, the value copied into `out`; for a bloom filter,
// lookup(null, 0, value) tells whether value may be present.
Napi::Value MapHandle::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_lookup_elem";
  int fd = LoadedFd(env, op);
  const uint8_t* key = KeyArg(env, op, info[0]);
  if (TypeOf() == BPF_MAP_TYPE_BLOOM_FILTER) {
    uint8_t* value = Sized(env, op, info[2], ValueBytes(), "value");
    int err = bpf_map_lookup_elem_flags(fd, nullptr, value, Flags(info[1])) == 0 ? 0 : errno;
    if (err != 0 && err != ENOENT) throw BpfError(env, op, err, NameOf());
    return Napi::Boolean::New(env, err == 0);
  }
  if (!info[2].IsUndefined()) {
    uint8_t* out = Sized(env, op, info[2], ValueBytes(), "value");
    int err = bpf_map_lookup_elem_flags(fd, key, out, Flags(info[1])) == 0 ? 0 : errno;
    if (err != 0 && err != ENOENT) throw BpfError(env, op, err, NameOf());
    return Napi::Boolean::New(env, err == 0);
  }
  auto value = Napi::Buffer<uint8_t>::New(env, ValueBytes());
  if (bpf_map_lookup_elem_flags(fd, key, value.Data(), Flags(info[1])) != 0) {
    int err = errno;
    if (err == ENOENT) return env.Undefined();
    throw BpfError(env, op, err, NameOf());
  }
  return value;
}

// lookupAndDelete(key: Buffer | null, flags?) → Buffer | undefined: pop for a queue or stack.
Napi::Value MapHandle::LookupAndDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_lookup_and_delete_elem";
  int fd = LoadedFd(env, op);
  const uint8_t* key = KeyArg(env, op, info[0]);
  auto value = Napi::Buffer<uint8_t>::New(env, ValueBytes());
  if (bpf_map_lookup_and_delete_elem_flags(fd, key, value.Data(), Flags(info[1])) != 0) {
    int err = errno;
    if (err == ENOENT) return env.Undefined();
    throw BpfError(env, op, err, NameOf());
  }
  return value;
}

// update(key: Buffer | null, value: Buffer, flags?)
Napi::Value MapHandle::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_update_elem";
  int fd = LoadedFd(env, op);
  const uint8_t* key = KeyArg(env, op, info[0]);
  uint8_t* value = Sized(env, op, info[1], ValueBytes(), "value");
  if (bpf_map_update_elem(fd, key, value, Flags(info[2])) != 0) throw BpfError(env, op, errno, NameOf());
  return env.Undefined();
}

// delete(key: Buffer) → whether the key was there
Napi::Value MapHandle::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_delete_elem";
  int fd = LoadedFd(env, op);
  const uint8_t* key = Sized(env, op, info[0], KeySizeOf(), "key");
  if (bpf_map_delete_elem(fd, key) != 0) {
    int err = errno;
    if (err == ENOENT) return Napi::Boolean::New(env, false);
    throw BpfError(env, op, err, NameOf());
  }
  return Napi::Boolean::New(env, true);
}

// nextKey(key: Buffer | null) → Buffer | undefined (null starts from the first key)
Napi::Value MapHandle::NextKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_get_next_key";
  int fd = LoadedFd(env, op);
  size_t size = KeySizeOf();
  const void* current = nullptr;
  if (!info[0].IsNull() && !info[0].IsUndefined()) current = Sized(env, op, info[0], size, "key");
  auto next = Napi::Buffer<uint8_t>::New(env, size);
  if (bpf_map_get_next_key(fd, current, next.Data()) != 0) {
    int err = errno;
    if (err == ENOENT) return env.Undefined();
    throw BpfError(env, op, err, NameOf());
  }
  return next;
}

// lookupBatch(inToken: Buffer | null, outToken: Buffer, keys: Buffer, values: Buffer, count, andDelete?)
// → { count, done } or null when the map type has no batch operations. The tokens are the kernel's
// opaque cursor (at least max(keySize, 4) bytes); keys and values hold `count` entries.
Napi::Value MapHandle::LookupBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool andDelete = info[5].ToBoolean();
  const char* op = andDelete ? "bpf_map_lookup_and_delete_batch" : "bpf_map_lookup_batch";
  int fd = LoadedFd(env, op);
  size_t tokenSize = std::max<size_t>(KeySizeOf(), 4);
  uint32_t count = Count(env, op, info[4]);
  void* in = info[0].IsNull() ? nullptr : Sized(env, op, info[0], tokenSize, "batch token", true);
  void* out = Sized(env, op, info[1], tokenSize, "batch token", true);
  uint8_t* keys = Sized(env, op, info[2], count * KeySizeOf(), "keys", true);
  uint8_t* values = Sized(env, op, info[3], count * ValueBytes(), "values", true);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  int rc = andDelete ? bpf_map_lookup_and_delete_batch(fd, in, out, keys, values, &count, &opts)
                     : bpf_map_lookup_batch(fd, in, out, keys, values, &count, &opts);
  int err = rc == 0 ? 0 : errno;
  if (err == kENOTSUPP || err == EOPNOTSUPP) return env.Null();
  if (err != 0 && err != ENOENT) throw BpfError(env, op, err, NameOf());
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", count);
  result.Set("done", err == ENOENT);
  return result;
}

// updateBatch(keys: Buffer, values: Buffer, count, flags?) → true, or null when the map type has no
// batch operations.
Napi::Value MapHandle::UpdateBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_update_batch";
  int fd = LoadedFd(env, op);
  uint32_t count = Count(env, op, info[2]);
  uint8_t* keys = Sized(env, op, info[0], count * KeySizeOf(), "keys", true);
  uint8_t* values = Sized(env, op, info[1], count * ValueBytes(), "values", true);
  LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = Flags(info[3]));
  uint32_t done = count;
  if (bpf_map_update_batch(fd, keys, values, &done, &opts) != 0) {
    int err = errno;
    if (err == kENOTSUPP || err == EOPNOTSUPP) return env.Null();
    throw BpfError(env, op, err, NameOf() + " (entry " + std::to_string(done) + ")");
  }
  return Napi::Boolean::New(env, true);
}

// deleteBatch(keys: Buffer, count) → { count, missing }: stops at the first key that is not there
// (`missing`), or null when the map type has no batch operations.
Napi::Value MapHandle::DeleteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_delete_batch";
  int fd = LoadedFd(env, op);
  uint32_t count = Count(env, op, info[1]);
  uint8_t* keys = Sized(env, op, info[0], count * KeySizeOf(), "keys", true);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint32_t done = count;
  int err = bpf_map_delete_batch(fd, keys, &done, &opts) == 0 ? 0 : errno;
  if (err == kENOTSUPP || err == EOPNOTSUPP) return env.Null();
  if (err != 0 && err != ENOENT) throw BpfError(env, op, err, NameOf());
  Napi::Object result = Napi::Object::New(env);
  result.Set("count", done);
  result.Set("missing", err == ENOENT);
  return result;
}

// scratch() → { bytes, lookup(flags?), update(flags?), delete() }: the typed API's key (key size,
// padded to 8 bytes) and value (valueBytes) back to back, and functions over them, so that a typed
// get() or set() passes no buffer to check (the sizes were fixed here, once) and no handle to unwrap
// (the functions hold the space, which names the handle). The memory belongs to this handle, the
// Buffer and the functions together.
Napi::Value MapHandle::Scratch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "bpf_map__key_size");
  if (!scratch_) {
    scratch_ = std::make_shared<ScratchSpace>();
    scratch_->map = this;
    scratch_->keyBytes = (KeySizeOf() + 7) & ~static_cast<size_t>(7);
    scratch_->bytes.resize(scratch_->keyBytes + ValueBytes());
  }
  auto release = [](Napi::Env, ScratchRef* held) { delete held; };
  auto function = [&](Napi::Function fn) {
    fn.AddFinalizer(release, new ScratchRef(scratch_));
    return fn;
  };
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Buffer<uint8_t>::New(env, scratch_->bytes.data(), scratch_->bytes.size(),
                                                 [](Napi::Env, uint8_t*, ScratchRef* held) { delete held; }, new ScratchRef(scratch_)));
  // The functions get their space as their data: it outlives them, as they hold a share of it.
  auto* space = scratch_.get();
  result.Set("lookup", function(Napi::Function::New<&MapHandle::LookupScratch>(env, "lookup", space)));
  result.Set("update", function(Napi::Function::New<&MapHandle::UpdateScratch>(env, "update", space)));
  result.Set("delete", function(Napi::Function::New<&MapHandle::DeleteScratch>(env, "delete", space)));
  return result;
}

MapHandle::ScratchSpace& MapHandle::SpaceOf(const Napi::CallbackInfo& info, const char* op) {
  auto* space = static_cast<ScratchSpace*>(info.Data());
  if (space->map == nullptr) throw BpfError(info.Env(), op, "ECLOSED", "the map is gone");
  return *space;
}

// lookup(flags?) → whether found; the value is in the scratch value.
Napi::Value MapHandle::LookupScratch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_lookup_elem";
  ScratchSpace& space = SpaceOf(info, op);
  int fd = space.map->LoadedFd(env, op);
  uint64_t flags = info.Length() == 0 ? 0 : Flags(info[0]);
  // A bloom filter looks up its value; the others their key, into the value.
  const uint8_t* key = space.map->TypeOf() == BPF_MAP_TYPE_BLOOM_FILTER ? nullptr : space.Key();
  int err = bpf_map_lookup_elem_flags(fd, key, space.Value(), flags) == 0 ? 0 : errno;
  if (err != 0 && err != ENOENT) throw BpfError(env, op, err, space.map->NameOf());
  return Napi::Boolean::New(env, err == 0);
}

// update(flags?): writes the scratch value under the scratch key.
Napi::Value MapHandle::UpdateScratch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_update_elem";
  ScratchSpace& space = SpaceOf(info, op);
  int fd = space.map->LoadedFd(env, op);
  uint64_t flags = info.Length() == 0 ? 0 : Flags(info[0]);
  if (bpf_map_update_elem(fd, space.Key(), space.Value(), flags) != 0) throw BpfError(env, op, errno, space.map->NameOf());
  return env.Undefined();
}

// delete() → whether the scratch key was there.
Napi::Value MapHandle::DeleteScratch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map_delete_elem";
  ScratchSpace& space = SpaceOf(info, op);
  int fd = space.map->LoadedFd(env, op);
  if (bpf_map_delete_elem(fd, space.Key()) != 0) {
    int err = errno;
    if (err == ENOENT) return Napi::Boolean::New(env, false);
    throw BpfError(env, op, err, space.map->NameOf());
  }
  return Napi::Boolean::New(env, true);
}

Napi::Value MapHandle::Freeze(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = LoadedFd(env, "bpf_map_freeze");
  if (bpf_map_freeze(fd) != 0) throw BpfError(env, "bpf_map_freeze", errno, NameOf());
  return env.Undefined();
}

// attachStructOps(): registers a struct_ops map's callbacks with the kernel (a TCP congestion control,
// a sched_ext scheduler…). From SEC(".struct_ops.link") it is a BPF link; from SEC(".struct_ops"), the
// registration itself, with no fd of its own.
Napi::Value MapHandle::AttachStructOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__attach_struct_ops";
  LoadedFd(env, op);
  if (map_ == nullptr || TypeOf() != BPF_MAP_TYPE_STRUCT_OPS) {
    throw BpfError(env, op, "EINVAL", "map '" + NameOf() + "' is not a struct_ops map of an object");
  }
  struct bpf_link* link = nullptr;
  int err = 0;
  std::vector<LogLine> lines = Captured(owner_->LogLevel(), [&] {
    link = bpf_map__attach_struct_ops(map_);
    err = link == nullptr ? errno : 0;
  });
  if (link == nullptr) {
    owner_->Deliver(env, lines);
    throw BpfError(env, op, err, NameOf());
  }
  bool hasFd = (bpf_map__map_flags(map_) & BPF_F_LINK) != 0;
  Napi::Object wrapped = LinkHandle::New(env, std::make_unique<LibbpfLinks>(std::vector<struct bpf_link*>{link}, hasFd), ownerRef_.Value());
  try {
    owner_->Deliver(env, lines);
  } catch (...) {
    LinkHandle::Unwrap(wrapped)->Release();
    throw;
  }
  return wrapped;
}

Napi::Value MapHandle::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = LoadedFd(env, "bpf_obj_pin");
  if (!info[0].IsString()) throw BpfError(env, "bpf_obj_pin", "EINVAL", "expected a path on a bpffs mount");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  if (path == pinPath_) return env.Undefined();
  if (!pinPath_.empty()) {
    throw BpfError(env, "bpf_obj_pin", "EBUSY", "the map is already pinned at " + pinPath_ + ": unpin() it first");
  }
  if (bpf_obj_pin(fd, path.c_str()) != 0) throw BpfError(env, "bpf_obj_pin", errno, path);
  pinPath_ = path;
  return env.Undefined();
}

// pinPath = path before load: libbpf's load then reuses a compatible map pinned at `path`, or creates
// the map and pins it there.
void MapHandle::SetPinPath(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__set_pin_path";
  if (map_ == nullptr) throw BpfError(env, op, "EBADSTATE", "a map opened from a pin is pinned already");
  owner_->Require(env, op, Need::BeforeLoad);
  if (!value.IsString() && !value.IsNull()) throw BpfError(env, op, "EINVAL", "expected a path on a bpffs mount, or null");
  std::string path = value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
  int err = -bpf_map__set_pin_path(map_, path.empty() ? nullptr : path.c_str());
  if (err != 0) throw BpfError(env, op, err, path);
  pinPath_ = path;
}

// reuse(other: MapHandle) before load: the object uses `other`'s map instead of creating its own.
Napi::Value MapHandle::Reuse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__reuse_fd";
  if (map_ == nullptr) throw BpfError(env, op, "EBADSTATE", "a map opened from a pin exists already");
  owner_->Require(env, op, Need::BeforeLoad);
  MapHandle* other = From(env, info[0]);
  if (other == nullptr) throw BpfError(env, op, "EINVAL", "expected a map");
  int err = -bpf_map__reuse_fd(map_, other->LoadedFd(env, op));
  if (err != 0) throw BpfError(env, op, err, NameOf());
  return env.Undefined();
}

Napi::Value MapHandle::Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (pinPath_.empty()) throw BpfError(env, "bpf_map__unpin", "EBADSTATE", "the map is not pinned by this handle");
  if (unlink(pinPath_.c_str()) != 0 && errno != ENOENT) throw BpfError(env, "bpf_map__unpin", errno, pinPath_);
  pinPath_.clear();
  return env.Undefined();
}

// readGlobal(offset, target: Uint8Array): copies target.length bytes of a global-data map's value, from
// the mmap()ed region when there is one (no syscall).
Napi::Value MapHandle::ReadGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__initial_value";
  if (owner_ == nullptr) throw BpfError(env, op, "EINVAL", "not a global data map");
  owner_->Require(env, op, Need::Open);  // before map_ is touched: close() frees it
  if (!bpf_map__is_internal(map_)) throw BpfError(env, op, "EINVAL", "not a global data map");
  ObjectHandle::Region region = owner_->GlobalRegion(env, map_, op);
  if (!info[0].IsNumber()) throw BpfError(env, op, "EINVAL", "offset must be a number");
  uint32_t offset = info[0].As<Napi::Number>().Uint32Value();
  uint8_t* target = Sized(env, op, info[1], 0, "target", true);
  size_t length = info[1].As<Napi::Uint8Array>().ElementLength();
  if (offset > region.size || length > region.size - offset) throw BpfError(env, op, "EINVAL", "outside the section");
  if (region.data != nullptr) {
    memcpy(target, region.data + offset, length);
  } else {
    std::vector<uint8_t> value(region.size);
    uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(map_), &zero, value.data()) != 0) throw BpfError(env, "bpf_map_lookup_elem", errno);
    memcpy(target, value.data() + offset, length);
  }
  return env.Undefined();
}

// writeGlobal(offset, source: Uint8Array): before load sets initial values; after load writes the
// kernel's memory of .data/.bss sections. Read-only sections refuse writes after load.
Napi::Value MapHandle::WriteGlobal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__set_initial_value";
  if (owner_ == nullptr) throw BpfError(env, op, "EINVAL", "not a global data map");
  owner_->Require(env, op, Need::Open);  // before map_ is touched: close() frees it
  if (!bpf_map__is_internal(map_)) throw BpfError(env, op, "EINVAL", "not a global data map");
  ObjectHandle::Region region = owner_->GlobalRegion(env, map_, op);
  if (!region.writable) {
    throw BpfError(env, op, "EROFS", "'" + NameOf() + "' is read-only once the object is loaded: set it before load()");
  }
  if (!info[0].IsNumber()) throw BpfError(env, op, "EINVAL", "offset must be a number");
  uint32_t offset = info[0].As<Napi::Number>().Uint32Value();
  uint8_t* source = Sized(env, op, info[1], 0, "source", true);
  size_t length = info[1].As<Napi::Uint8Array>().ElementLength();
  if (offset > region.size || length > region.size - offset) throw BpfError(env, op, "EINVAL", "outside the section");
  if (region.data != nullptr) {
    memcpy(region.data + offset, source, length);
    return env.Undefined();
  }
  std::vector<uint8_t> value(region.size);
  uint32_t zero = 0;
  int fd = bpf_map__fd(map_);
  if (bpf_map_lookup_elem(fd, &zero, value.data()) != 0) throw BpfError(env, "bpf_map_lookup_elem", errno);
  memcpy(value.data() + offset, source, length);
  if (bpf_map_update_elem(fd, &zero, value.data(), 0) != 0) throw BpfError(env, "bpf_map_update_elem", errno);
  return env.Undefined();
}

Napi::Value MapHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace bpfkit
