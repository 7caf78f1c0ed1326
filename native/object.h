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
#include "arena.h"

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

  // The cleanup hook and the finalizer: a load still running is waited for (the object must not
  // outlive its environment). close() instead leaves a running load to finish on its own thread.
  void Release() override;

  // Throws a BpfError (ECLOSED, EBUSY or EBADSTATE) unless the object's state allows `op`.
  void Require(Napi::Env env, const char* op, Need need) const;

  struct bpf_object* Get() const { return object_; }
  int LogLevel() const { return logLevel_; }
  // Hands what libbpf printed during a call to this object's logger (or the global one). The logger is
  // the user's code, run while the call still uses the object: `delivering` tells lib/object.ts to
  // keep a close() it makes for when the call has returned.
  void Deliver(Napi::Env env, const std::vector<LogLine>& lines);

  // The memory of a global-data map (.data, .bss, .rodata…): before load, libbpf's initial image; after
  // load, the kernel's map mmap()ed here (read-only for .rodata) until close(). `data` is null when
  // the kernel cannot mmap() the map: callers then use syscalls.
  struct Region {
    uint8_t* data;
    size_t size;
    bool writable;
    int fd = -1;  // the map's, once loaded
  };
  Region GlobalRegion(Napi::Env env, struct bpf_map* map, const char* op);

  // What the verifier wrote into `program`'s log buffer at load (null when it has none).
  const char* ProgramLog(struct bpf_program* program) const;

  // Runs on the worker thread: loads unless close() came first. When close() comes during the load,
  // this thread closes the object once the load returns, so close() itself never waits for it.
  void LoadInBackground(int* err, std::vector<LogLine>* lines);
  void FinishLoad(Napi::Env env, int err, const std::vector<LogLine>& lines, Napi::Promise::Deferred deferred);

 private:
  Napi::Value Name(const Napi::CallbackInfo& info);
  Napi::Value GetState(const Napi::CallbackInfo& info);
  Napi::Value Delivering(const Napi::CallbackInfo& info);
  Napi::Value Programs(const Napi::CallbackInfo& info);
  Napi::Value Maps(const Napi::CallbackInfo& info);
  Napi::Value Btf(const Napi::CallbackInfo& info);
  Napi::Value Load(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  // Unmaps the global sections and closes the object (unless a running load owns it now).
  void Destroy();

  Addon* addon_;
  struct bpf_object* object_ = nullptr;
  State state_ = State::Opened;
  int delivering_ = 0;
  // close() during load(): the worker thread may be inside bpf_object__load. close() cancels a load
  // that has not started; one that has keeps the object (and the bytes and BTF it reads) until it
  // returns, then closes it on its thread. Teardown (a worker thread exiting mid-load) waits for it.
  std::mutex loadMutex_;
  std::condition_variable loadDone_;
  bool loadRunning_ = false;
  bool loadCancelled_ = false;
  std::vector<std::pair<struct bpf_map*, Region>> mapped_;  // munmap()ed by Destroy()
  std::vector<uint8_t> bytes_;  // bpf_object__open_mem's input must outlive the object
  // The programs' verifier log buffers, set at load(): anonymous mappings, so untouched pages cost
  // nothing and the memory reads as zeros (also to memory checkers, which do not see what the kernel
  // writes into a log when it refuses a program).
  struct Unmap {
    void operator()(char* log) const;
  };
  std::vector<std::unique_ptr<char, Unmap>> logs_;
  // extraBtf: the merged BTF in a memfd that libbpf reads at load as /proc/self/fd/N. Nothing lands in
  // the file system, and the kernel frees it with the process however that ends.
  int btfFd_ = -1;
  // Fixed-address arena ranges held from load() until libbpf maps the arenas there (arena.h).
  std::vector<ArenaReservation> arenas_;
  int logLevel_;
  Napi::FunctionReference logger_;
};

}  // namespace bpfkit
