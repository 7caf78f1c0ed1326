// BpfMap: one BPF map — of an object (a libbpf bpf_map), or of its own (created, opened from a pin or by
// id) — its definition, and byte-level access to its entries, every size checked before the syscall.
#include "map.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "btf.h"
#include "errors.h"
#include "kernel_object.h"
#include "link.h"

namespace bpfkit {

using Need = ObjectHandle::Need;

namespace {

// A Buffer for the kernel to fill, zeroed first: no byte of the process's heap reaches JavaScript even
// where the kernel writes less (and memory checkers, which do not know that a per-CPU lookup writes one
// value per CPU, see what they read as defined).
Napi::Buffer<uint8_t> Zeroed(Napi::Env env, size_t size) {
  auto buffer = Napi::Buffer<uint8_t>::New(env, size);
  memset(buffer.Data(), 0, size);
  return buffer;
}

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

// The kernel's view of the map behind `fd` as a MapInfo object, or an errno.
int MapInfoOf(Napi::Env env, int fd, Napi::Object* out) {
  struct bpf_map_info info = {};
  uint32_t length = sizeof(info);
  if (bpf_map_get_info_by_fd(fd, &info, &length) != 0) return errno;
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", info.id);
  const char* type = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(info.type));
  result.Set("type", type != nullptr ? type : "unknown");
  result.Set("name", info.name);
  result.Set("keySize", info.key_size);
  result.Set("valueSize", info.value_size);
  result.Set("maxEntries", info.max_entries);
  result.Set("flags", info.map_flags);
  result.Set("btfId", info.btf_id);
  result.Set("btfKeyTypeId", info.btf_key_type_id);
  result.Set("btfValueTypeId", info.btf_value_type_id);
  *out = result;
  return 0;
}

}  // namespace

Napi::Function MapHandle::Init(Napi::Env env) {
  return DefineClass(env, "BpfMapHandle", {
      InstanceAccessor<&MapHandle::Name>("name"),
      InstanceAccessor<&MapHandle::Type>("type"),
      InstanceAccessor<&MapHandle::KeySize, &MapHandle::SetKeySize>("keySize"),
      InstanceAccessor<&MapHandle::ValueSize, &MapHandle::SetValueSize>("valueSize"),
      InstanceAccessor<&MapHandle::ValueBytes>("valueBytes"),
      InstanceAccessor<&MapHandle::MaxEntries, &MapHandle::SetMaxEntries>("maxEntries"),
      InstanceAccessor<&MapHandle::MapFlags, &MapHandle::SetMapFlags>("flags"),
      InstanceAccessor<&MapHandle::NumaNode, &MapHandle::SetNumaNode>("numaNode"),
      InstanceAccessor<&MapHandle::MapExtra, &MapHandle::SetMapExtra>("mapExtra"),
      InstanceAccessor<&MapHandle::Autocreate, &MapHandle::SetAutocreate>("autocreate"),
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
      InstanceMethod<&MapHandle::InnerMap>("innerMap"),
      InstanceMethod<&MapHandle::SetInnerMap>("setInnerMap"),
      InstanceMethod<&MapHandle::Info>("info"),
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
  } else if (info.Length() == 1 && info[0].IsObject()) {
    Napi::Object source = info[0].As<Napi::Object>();
    const char* op;
    std::string what;
    int fd;
    if (source.Get("pinned").IsString()) {
      op = "bpf_obj_get";
      what = StringArg(env, source.Get("pinned"), op, "the path");
      fd = bpf_obj_get(what.c_str());
    } else if (source.Get("id").IsNumber()) {
      op = "bpf_map_get_fd_by_id";
      uint32_t id = source.Get("id").As<Napi::Number>().Uint32Value();
      what = "map id " + std::to_string(id);
      fd = bpf_map_get_fd_by_id(id);
    } else if (source.Get("fd").IsNumber()) {
      op = "fcntl(F_DUPFD_CLOEXEC)";
      int given = source.Get("fd").As<Napi::Number>().Int32Value();
      what = "fd " + std::to_string(given);
      fd = given < 0 ? (errno = EBADF, -1) : fcntl(given, F_DUPFD_CLOEXEC, 0);
    } else if (source.Get("create").IsObject()) {
      op = "bpf_map_create";
      fd = Create(env, source.Get("create").As<Napi::Object>(), &what);
    } else {
      throw BpfError(env, "BpfMap", "EINVAL", "expected { pinned }, { id }, { fd } or { create }");
    }
    if (fd < 0) throw BpfError(env, op, errno, what);
    // A pin or an fd may hold a program or a link, whose info would read as nonsense map info.
    std::string kind = FdKind(fd);
    if (kind != "anon_inode:bpf-map") {
      close(fd);
      throw BpfError(env, op, "EINVAL", what + " is not a map (" + (kind.empty() ? "unknown" : kind) + ")");
    }
    uint32_t length = sizeof(info_);
    if (bpf_map_get_info_by_fd(fd, &info_, &length) != 0) {
      int err = errno;
      close(fd);
      throw BpfError(env, "bpf_map_get_info_by_fd", err, what);
    }
    addon_ = Addon::Of(env);
    fd_ = fd;
    addon_->Track(this);
  } else {
    throw BpfError(env, "BpfMap", "EINVAL", "maps come from BpfObject.maps, BpfMap.create, BpfMap.openPinned or BpfMap.fromId");
  }
  napi_type_tag_object(env, Value(), &kMapTag);
}

// Creates a map of its own (bpf_map_create) from { type, name, keySize, valueSize, maxEntries, flags,
// numaNode, mapExtra, innerMap, btf, keyTypeId, valueTypeId }: with `btf`, the key and value types and
// what they reach are copied into a BTF of their own that the kernel keeps with the map. Returns the fd,
// or -1 with errno set.
int MapHandle::Create(Napi::Env env, Napi::Object spec, std::string* what) {
  const char* op = "bpf_map_create";
  auto number = [&](const char* key) -> double {
    Napi::Value value = spec.Get(key);
    return value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  };
  std::string typeName = spec.Get("type").IsString() ? StringArg(env, spec.Get("type"), op, "type") : "";
  int type = -1;
  for (int candidate = 1;; candidate++) {
    const char* name = libbpf_bpf_map_type_str(static_cast<enum bpf_map_type>(candidate));
    if (name == nullptr) break;
    if (typeName == name) type = candidate;
  }
  if (type < 0) throw BpfError(env, op, "EINVAL", "unknown map type '" + typeName + "'");
  std::string name = spec.Get("name").IsString() ? StringArg(env, spec.Get("name"), op, "name") : "";
  *what = name.empty() ? typeName + " map" : "map '" + name + "'";
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  opts.map_flags = static_cast<uint32_t>(number("flags"));
  opts.numa_node = static_cast<uint32_t>(number("numaNode"));
  if (opts.numa_node != 0) opts.map_flags |= BPF_F_NUMA_NODE;
  Napi::Value extra = spec.Get("mapExtra");
  bool lossless = true;
  if (extra.IsBigInt()) opts.map_extra = extra.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw BpfError(env, op, "EINVAL", "mapExtra must be a 64-bit unsigned bigint");
  if (!spec.Get("innerMap").IsUndefined()) {
    MapHandle* inner = From(env, spec.Get("innerMap"));
    if (inner == nullptr) throw BpfError(env, op, "EINVAL", "innerMap must be a map");
    opts.inner_map_fd = static_cast<uint32_t>(inner->LoadedFd(env, op));
  }
  int btfFd = -1;
  if (!spec.Get("btf").IsUndefined()) {
    const struct btf* source = BtfHandle::Of(env, spec.Get("btf"), op);
    std::vector<uint32_t> ids = {static_cast<uint32_t>(number("keyTypeId")), static_cast<uint32_t>(number("valueTypeId"))};
    std::vector<uint32_t> copied;
    btfFd = LoadTypes(source, ids, &copied);
    if (btfFd < 0) {
      int err = -btfFd;
      throw BpfError(env, "btf__load_into_kernel", err, "the BTF of " + *what);
    }
    opts.btf_fd = static_cast<uint32_t>(btfFd);
    opts.btf_key_type_id = copied[0];
    opts.btf_value_type_id = copied[1];
  }
  int fd = bpf_map_create(static_cast<enum bpf_map_type>(type), name.empty() ? nullptr : name.c_str(),
                          static_cast<uint32_t>(number("keySize")), static_cast<uint32_t>(number("valueSize")),
                          static_cast<uint32_t>(number("maxEntries")), &opts);
  int err = errno;
  if (btfFd >= 0) close(btfFd);
  errno = err;
  return fd;
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
  return CreatedFd(env, op, map_);
}

int MapHandle::CreatedFd(Napi::Env env, const char* op, const struct bpf_map* map) {
  int fd = bpf_map__fd(map);
  if (fd < 0 || !bpf_map__autocreate(map)) {
    throw BpfError(env, op, "EBADSTATE", std::string("map '") + bpf_map__name(map) + "' was not created (autocreate is off)");
  }
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

struct bpf_map* MapHandle::Settable(Napi::Env env, const char* op) const {
  if (map_ == nullptr) throw BpfError(env, op, "EBADSTATE", "the map exists in the kernel already: set it before load()");
  owner_->Require(env, op, Need::BeforeLoad);
  return map_;
}

uint32_t MapHandle::U32(Napi::Env env, const char* op, const Napi::Value& value, const char* what) const {
  double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : -1;
  if (!(number >= 0 && number <= 0xffffffff) || number != static_cast<double>(static_cast<uint32_t>(number))) {
    throw BpfError(env, op, "EINVAL", std::string(what) + " must be a 32-bit unsigned integer");
  }
  return static_cast<uint32_t>(number);
}

// The pre-load setters: libbpf refuses what it cannot change (EBUSY once created) with its errno.
void MapHandle::SetKeySize(const Napi::CallbackInfo& info, const Napi::Value& value) {
  const char* op = "bpf_map__set_key_size";
  struct bpf_map* map = Settable(info.Env(), op);
  int err = -bpf_map__set_key_size(map, U32(info.Env(), op, value, "keySize"));
  if (err != 0) throw BpfError(info.Env(), op, err, NameOf());
}

void MapHandle::SetValueSize(const Napi::CallbackInfo& info, const Napi::Value& value) {
  const char* op = "bpf_map__set_value_size";
  struct bpf_map* map = Settable(info.Env(), op);
  int err = -bpf_map__set_value_size(map, U32(info.Env(), op, value, "valueSize"));
  if (err != 0) throw BpfError(info.Env(), op, err, NameOf());
}

void MapHandle::SetMapFlags(const Napi::CallbackInfo& info, const Napi::Value& value) {
  const char* op = "bpf_map__set_map_flags";
  struct bpf_map* map = Settable(info.Env(), op);
  int err = -bpf_map__set_map_flags(map, U32(info.Env(), op, value, "flags"));
  if (err != 0) throw BpfError(info.Env(), op, err, NameOf());
}

Napi::Value MapHandle::NumaNode(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__numa_node");
  return Napi::Number::New(info.Env(), map_ != nullptr ? bpf_map__numa_node(map_) : 0);
}

void MapHandle::SetNumaNode(const Napi::CallbackInfo& info, const Napi::Value& value) {
  const char* op = "bpf_map__set_numa_node";
  struct bpf_map* map = Settable(info.Env(), op);
  int err = -bpf_map__set_numa_node(map, U32(info.Env(), op, value, "numaNode"));
  if (err != 0) throw BpfError(info.Env(), op, err, NameOf());
}

Napi::Value MapHandle::MapExtra(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__map_extra");
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(map_ != nullptr ? bpf_map__map_extra(map_) : info_.map_extra));
}

void MapHandle::SetMapExtra(const Napi::CallbackInfo& info, const Napi::Value& value) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__set_map_extra";
  struct bpf_map* map = Settable(env, op);
  if (!value.IsBigInt()) throw BpfError(env, op, "EINVAL", "mapExtra must be a bigint");
  bool lossless = true;
  uint64_t extra = value.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw BpfError(env, op, "EINVAL", "mapExtra must be a 64-bit unsigned bigint");
  int err = -bpf_map__set_map_extra(map, extra);
  if (err != 0) throw BpfError(env, op, err, NameOf());
}

Napi::Value MapHandle::Autocreate(const Napi::CallbackInfo& info) {
  RequireOpen(info.Env(), "bpf_map__autocreate");
  return Napi::Boolean::New(info.Env(), map_ == nullptr || bpf_map__autocreate(map_));
}

void MapHandle::SetAutocreate(const Napi::CallbackInfo& info, const Napi::Value& value) {
  const char* op = "bpf_map__set_autocreate";
  struct bpf_map* map = Settable(info.Env(), op);
  int err = -bpf_map__set_autocreate(map, value.ToBoolean().Value());
  if (err != 0) throw BpfError(info.Env(), op, err, NameOf());
}

// innerMap() → the definition of a map-in-map's inner maps, from its __array(values, …) declaration:
// { type, keySize, valueSize, maxEntries, flags, btfKeyTypeId, btfValueTypeId }, or null. libbpf frees
// this template at load, so it is copied out, never handed out.
Napi::Value MapHandle::InnerMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RequireOpen(env, "bpf_map__inner_map");
  struct bpf_map* inner = map_ != nullptr ? bpf_map__inner_map(map_) : nullptr;
  if (inner == nullptr) return env.Null();
  Napi::Object result = Napi::Object::New(env);
  const char* type = libbpf_bpf_map_type_str(bpf_map__type(inner));
  result.Set("type", type != nullptr ? type : "unknown");
  result.Set("keySize", bpf_map__key_size(inner));
  result.Set("valueSize", bpf_map__value_size(inner));
  result.Set("maxEntries", bpf_map__max_entries(inner));
  result.Set("flags", bpf_map__map_flags(inner));
  result.Set("btfKeyTypeId", bpf_map__btf_key_type_id(inner));
  result.Set("btfValueTypeId", bpf_map__btf_value_type_id(inner));
  return result;
}

// setInnerMap(map) before load: the inner maps of this map-in-map are like `map` (bpf_map__set_inner_map_fd).
Napi::Value MapHandle::SetInnerMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_map__set_inner_map_fd";
  struct bpf_map* map = Settable(env, op);
  MapHandle* inner = From(env, info[0]);
  if (inner == nullptr) throw BpfError(env, op, "EINVAL", "expected a map");
  int err = -bpf_map__set_inner_map_fd(map, inner->LoadedFd(env, op));
  if (err != 0) throw BpfError(env, op, err, NameOf());
  return env.Undefined();
}

// info() → the kernel's view of the map (bpf_map_get_info_by_fd).
Napi::Value MapHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result;
  int err = MapInfoOf(env, LoadedFd(env, "bpf_map_get_info_by_fd"), &result);
  if (err != 0) throw BpfError(env, "bpf_map_get_info_by_fd", err, NameOf());
  return result;
}

// listMaps() → MapInfo of every map in the kernel (bpf_map_get_next_id).
Napi::Value MapHandle::List(const Napi::CallbackInfo& info) {
  return ListById(info.Env(), "map", bpf_map_get_next_id, bpf_map_get_fd_by_id, MapInfoOf);
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

// pinPath → where pin() pinned the map, or (an object's map, as pinPath or the object's pinRoot set it)
// where load() pins or reuses it.
Napi::Value MapHandle::PinPath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!pinPath_.empty()) return Napi::String::New(env, pinPath_);
  if (map_ == nullptr) return env.Null();
  owner_->Require(env, "bpf_map__pin_path", Need::Open);
  const char* path = bpf_map__pin_path(map_);
  bool loaded = bpf_map__fd(map_) >= 0;
  return path == nullptr || (loaded && !bpf_map__is_pinned(map_)) ? env.Null() : Napi::String::New(env, path);
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
  auto value = Zeroed(env, ValueBytes());
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
  auto value = Zeroed(env, ValueBytes());
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
  auto next = Zeroed(env, size);
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
    // The kernel says how far it got only when it got somewhere.
    throw BpfError(env, op, err, NameOf() + (done < count ? " (entry " + std::to_string(done) + ")" : ""));
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
  // Sizes set before load (keySize, valueSize) make a new space; the old one's functions refuse (SpaceOf).
  if (scratch_ && !scratch_->Fits()) {
    scratch_->map = nullptr;
    scratch_.reset();
  }
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
  // The kernel writes the map's sizes now, whatever they were when the space was made.
  if (!space->Fits()) {
    throw BpfError(info.Env(), op, "EBADSTATE", "map '" + space->map->NameOf() + "' has other key or value sizes than when its typed view was made");
  }
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
  std::string path = StringArg(env, info[0], "bpf_obj_pin", "the path on a bpffs mount");
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
  std::string path = value.IsString() ? StringArg(env, value, op, "the path") : std::string();
  int err = -bpf_map__set_pin_path(map_, path.empty() ? nullptr : path.c_str());
  if (err != 0) throw BpfError(env, op, err, path);
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
  const char* op = "bpf_map__unpin";
  if (owner_ != nullptr) owner_->Require(env, op, Need::Open);  // before map_ is touched: close() frees it
  if (pinPath_.empty() && map_ != nullptr && bpf_map__fd(map_) >= 0 && bpf_map__is_pinned(map_)) {
    // Pinned by load(), at the path pinPath or the object's pinRoot gave.
    int err = -bpf_map__unpin(map_, nullptr);
    if (err != 0 && err != ENOENT) throw BpfError(env, op, err, bpf_map__pin_path(map_));
    return env.Undefined();
  }
  if (pinPath_.empty()) throw BpfError(env, op, "EBADSTATE", "the map is not pinned by this handle");
  if (unlink(pinPath_.c_str()) != 0 && errno != ENOENT) throw BpfError(env, op, errno, pinPath_);
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
    if (bpf_map_lookup_elem(region.fd, &zero, value.data()) != 0) throw BpfError(env, "bpf_map_lookup_elem", errno);
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
  int fd = region.fd;
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
