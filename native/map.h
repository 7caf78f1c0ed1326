// BpfMap: one BPF map — of an object (a libbpf bpf_map), or of its own (created, opened from a pin or by
// id) — its definition, and byte-level access to its entries, every size checked before the syscall.
#pragma once

#include <linux/bpf.h>
#include <napi.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "object.h"

struct bpf_map;

namespace bpfkit {

class MapHandle : public Napi::ObjectWrap<MapHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  // new BpfMapHandle(objectHandle, External<bpf_map>) for an object's map (or a map-in-map's template),
  // or a map of its own holding one fd: new BpfMapHandle({ pinned: path } | { id } | { fd } | { create }).
  explicit MapHandle(const Napi::CallbackInfo& info);
  ~MapHandle() override;

  // Closes the fd of a map opened from a pin (an object's maps belong to the object).
  void Release() override;

  // The MapHandle behind `value`, or nullptr: checked by type tag, not by prototype, which JS can forge.
  static MapHandle* From(Napi::Env env, Napi::Value value);

  // The map's fd once it exists in the kernel; throws otherwise. Ring buffers are built from these.
  int LoadedFd(Napi::Env env, const char* op) const;
  // The fd of a loaded object's `map`, or a BpfError when load() did not create it (autocreate off:
  // libbpf's placeholder fd is no map, and an mmap() of it faults on first touch).
  static int CreatedFd(Napi::Env env, const char* op, const struct bpf_map* map);
  std::string NameOf() const;

  // listMaps() → the kernel's view of every map, system-wide.
  static Napi::Value List(const Napi::CallbackInfo& info);

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value Type(const Napi::CallbackInfo& info);
  Napi::Value KeySize(const Napi::CallbackInfo& info);
  Napi::Value ValueSize(const Napi::CallbackInfo& info);
  Napi::Value ValueBytes(const Napi::CallbackInfo& info);
  Napi::Value MaxEntries(const Napi::CallbackInfo& info);
  void SetMaxEntries(const Napi::CallbackInfo& info, const Napi::Value& value);
  void SetKeySize(const Napi::CallbackInfo& info, const Napi::Value& value);
  void SetValueSize(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value MapFlags(const Napi::CallbackInfo& info);
  void SetMapFlags(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value NumaNode(const Napi::CallbackInfo& info);
  void SetNumaNode(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value MapExtra(const Napi::CallbackInfo& info);
  void SetMapExtra(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value Autocreate(const Napi::CallbackInfo& info);
  void SetAutocreate(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value InnerMap(const Napi::CallbackInfo& info);
  Napi::Value SetInnerMap(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value IsInternal(const Napi::CallbackInfo& info);
  Napi::Value BtfKeyTypeId(const Napi::CallbackInfo& info);
  Napi::Value BtfValueTypeId(const Napi::CallbackInfo& info);
  Napi::Value BtfId(const Napi::CallbackInfo& info);
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value PinPath(const Napi::CallbackInfo& info);
  void SetPinPath(const Napi::CallbackInfo& info, const Napi::Value& value);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value LookupAndDelete(const Napi::CallbackInfo& info);
  Napi::Value Update(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value NextKey(const Napi::CallbackInfo& info);
  Napi::Value LookupBatch(const Napi::CallbackInfo& info);
  Napi::Value UpdateBatch(const Napi::CallbackInfo& info);
  Napi::Value DeleteBatch(const Napi::CallbackInfo& info);
  Napi::Value Scratch(const Napi::CallbackInfo& info);
  Napi::Value Freeze(const Napi::CallbackInfo& info);
  Napi::Value AttachStructOps(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Unpin(const Napi::CallbackInfo& info);
  Napi::Value Reuse(const Napi::CallbackInfo& info);
  Napi::Value ReadGlobal(const Napi::CallbackInfo& info);
  Napi::Value WriteGlobal(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  // The map's definition (after load, the kernel's), also for maps that have no bpf_map.
  enum bpf_map_type TypeOf() const;
  size_t KeySizeOf() const;
  size_t ValueSizeOf() const;
  // Size of one value as the syscall sees it: per-CPU maps hold one 8-byte-aligned slot per possible CPU.
  size_t ValueBytes() const;
  // An object's map, before load(), for a setter.
  struct bpf_map* Settable(Napi::Env env, const char* op) const;
  uint32_t U32(Napi::Env env, const char* op, const Napi::Value& value, const char* what) const;
  int Create(Napi::Env env, Napi::Object spec, std::string* what);
  void RequireOpen(Napi::Env env, const char* op) const;
  // A Uint8Array argument of exactly `size` bytes (at least `size` when `atLeast`), or a BpfError
  // before any syscall.
  uint8_t* Sized(Napi::Env env, const char* op, const Napi::Value& value, size_t size, const char* what,
                 bool atLeast = false) const;
  // The key argument: a buffer of key size, or nothing for maps without keys (queue, stack, bloom filter).
  const uint8_t* KeyArg(Napi::Env env, const char* op, const Napi::Value& value) const;
  // The typed API's key and value (see Scratch), and the handle while it lives: its destructor clears
  // `map`, so that the functions scratch() made, which reach it without unwrapping, never dangle.
  struct ScratchSpace {
    MapHandle* map = nullptr;
    std::vector<uint8_t> bytes;
    size_t keyBytes = 0;
    uint8_t* Key() { return map->KeySizeOf() == 0 ? nullptr : bytes.data(); }
    uint8_t* Value() { return bytes.data() + keyBytes; }
    // Whether the space still has room for the map's key and value, as they are now.
    bool Fits() const {
      return keyBytes == ((map->KeySizeOf() + 7) & ~static_cast<size_t>(7)) && bytes.size() == keyBytes + map->ValueBytes();
    }
  };
  using ScratchRef = std::shared_ptr<ScratchSpace>;
  // The ScratchSpace of a function made by scratch(), or a BpfError once its map is gone.
  static ScratchSpace& SpaceOf(const Napi::CallbackInfo& info, const char* op);
  static Napi::Value LookupScratch(const Napi::CallbackInfo& info);
  static Napi::Value UpdateScratch(const Napi::CallbackInfo& info);
  static Napi::Value DeleteScratch(const Napi::CallbackInfo& info);

  // An object's map
  ObjectHandle* owner_ = nullptr;
  Napi::ObjectReference ownerRef_;
  struct bpf_map* map_ = nullptr;
  // BTF type ids as the object declares them: libbpf zeroes them at load for map types the kernel
  // takes without BTF (queue, stack…), whose values are still typed by the object's BTF.
  uint32_t btfKeyTypeId_ = 0;
  uint32_t btfValueTypeId_ = 0;
  // A map opened from a pin
  Addon* addon_ = nullptr;
  int fd_ = -1;
  struct bpf_map_info info_ = {};
  std::string pinPath_;
  // Shared with the JS Buffer over its bytes and with the functions scratch() made.
  ScratchRef scratch_;
};

}  // namespace bpfkit
