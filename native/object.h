// BpfObject: one libbpf bpf_object from open to close, with load() off the JS thread.
#pragma once

#include <napi.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "addon.h"

struct bpf_map;
struct bpf_program;
struct bpf_object;

namespace bpfkit {

class ObjectHandle : public Napi::ObjectWrap<ObjectHandle>, public Resource {
 public:
  enum class State { Opened, Loading, Loaded, Failed, Closed };
  enum class Need { Open, BeforeLoad, Loaded };

  static Napi::Function Init(Napi::Env env);
  explicit ObjectHandle(const Napi::CallbackInfo& info);
  ~ObjectHandle() override;

  void Release() override;

  // Throws a BpfError (ECLOSED, EBUSY or EBADSTATE) unless the object's state allows `op`.
  void Require(Napi::Env env, const char* op, Need need) const;

  struct bpf_object* Get() const { return object_; }
  int LogLevel() const { return logLevel_; }
  // Hands what libbpf printed during a call to this object's logger (or the global one).
  void Deliver(Napi::Env env, const std::vector<LogLine>& lines) { addon_->Deliver(env, lines, logger_); }

  // The memory of a global-data map (.data, .bss, .rodata…): before load, libbpf's initial image; after
  // load, the kernel's map mmap()ed here (read-only for .rodata) until close(). `data` is null when
  // the kernel cannot mmap() the map: callers then use syscalls.
  struct Region {
    uint8_t* data;
    size_t size;
    bool writable;
  };
  Region GlobalRegion(Napi::Env env, struct bpf_map* map, const char* op);

  // What the verifier wrote into `program`'s log buffer at load (null when it has none).
  const char* ProgramLog(struct bpf_program* program) const;

  // Runs on the worker thread: loads unless close() came first.
  void LoadInBackground(int* err, std::vector<LogLine>* lines);
  void FinishLoad(Napi::Env env, int err, const std::vector<LogLine>& lines, Napi::Promise::Deferred deferred);

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Btf(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);

  Addon* addon_;
  struct bpf_object* object_ = nullptr;
  State state_ = State::Opened;
  // close() during load(): the worker thread may be inside bpf_object__load. close() cancels a load
  // that has not started and waits for one that has, so nothing stays in the kernel once it returns
  // (also when a worker thread exits mid-load).
  std::mutex loadMutex_;
  std::condition_variable loadDone_;
  bool loadRunning_ = false;
  bool loadCancelled_ = false;
  std::vector<std::pair<struct bpf_map*, Region>> mapped_;  // munmap()ed by Release()
  std::vector<uint8_t> bytes_;  // bpf_object__open_mem's input must outlive the object
  std::vector<std::unique_ptr<char[]>> logs_;  // the programs' verifier log buffers, set at load()
  int logLevel_;
  Napi::FunctionReference logger_;
};

}  // namespace bpfkit
