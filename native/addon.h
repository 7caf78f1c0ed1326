// Per-environment state of the addon: constructors, the error class, libbpf log routing, live resources.
#pragma once

#include <napi.h>

#include <set>
#include <string>
#include <vector>

namespace bpfkit {

// A native object that owns a kernel resource. Release() is idempotent and never calls into JS, so it
// can run from close(), a finalizer or the environment's cleanup hook alike.
class Resource {
 public:
  virtual ~Resource() = default;
  virtual void Release() = 0;
  // Links and readers use their object (a USDT link's detach reads the object's USDT manager): they
  // are released before objects and maps.
  virtual bool DependsOnObject() const { return false; }
  // Whether the kernel undoes this resource when the process ends (fds close). Netlink XDP programs
  // and clsact filters it does not: those are released at process.exit() too.
  virtual bool TiedToProcess() const { return true; }
  // The object whose logger hears libbpf while this resource is released (a link's object), or an
  // empty one for the process-wide logger.
  virtual Napi::Object LogOwner() const { return Napi::Object(); }
};

struct LogLine {
  int level;  // libbpf_print_level: 0 warn, 1 info, 2 debug
  std::string text;
};

// While alive, collects what libbpf prints on this thread (up to minLevel). libbpf's print callback is
// process-global; a thread-local capture routes each message to the environment and object that made
// the call, whichever thread (JS or worker pool) the call runs on.
class LogCapture {
 public:
  explicit LogCapture(int minLevel);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  const int minLevel;
  std::vector<LogLine> lines;

 private:
  LogCapture* previous_;
};

// Runs `call` (libbpf work) with libbpf's messages captured, and returns them. Deliver them only after
// the call's result is owned by something (so a throwing logger cannot leak it) and outside the capture.
template <typename F>
std::vector<LogLine> Captured(int minLevel, F&& call) {
  LogCapture capture(minLevel);
  call();
  return std::move(capture.lines);
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);
  ~Addon();

  static Addon* Of(Napi::Env env) { return env.GetInstanceData<Addon>(); }

  void Track(Resource* resource) { live_.insert(resource); }
  void Untrack(Resource* resource) { live_.erase(resource); }

  // libuv handles being closed. Their close callbacks live in this library, which Node unloads after
  // teardown: the environment's cleanup waits until every one has run.
  void HandleClosing() { closingHandles_++; }
  void HandleClosed();

  // Hands captured libbpf messages to `sink` (an object's logger) or, when empty, to the global logger.
  void Deliver(Napi::Env env, const std::vector<LogLine>& lines, const Napi::FunctionReference& sink);

  Napi::FunctionReference bpfError;
  Napi::FunctionReference objectClass;
  Napi::FunctionReference programClass;
  Napi::FunctionReference mapClass;
  Napi::FunctionReference btfClass;
  Napi::FunctionReference linkClass;
  Napi::FunctionReference ringBufferClass;
  Napi::FunctionReference perfBufferClass;
  Napi::FunctionReference userRingBufferClass;
  int logLevel = 0;

 private:
  Napi::Value SetErrorClass(const Napi::CallbackInfo& info);
  Napi::Value SetLogger(const Napi::CallbackInfo& info);
  Napi::Value IfNameToIndex(const Napi::CallbackInfo& info);
  Napi::Value ReleaseUntied(const Napi::CallbackInfo& info);
  Napi::Value LiveResources(const Napi::CallbackInfo& info);
  // Exports a function of another file as a method of the addon.
  template <Napi::Value (*F)(const Napi::CallbackInfo&)>
  Napi::Value Forward(const Napi::CallbackInfo& info) {
    return F(info);
  }
  Napi::Value DropCapabilities(const Napi::CallbackInfo& info);
  void ReleaseAll();
  static void Cleanup(napi_async_cleanup_hook_handle handle, void* data);

  Napi::FunctionReference logger_;
  std::set<Resource*> live_;
  size_t closingHandles_ = 0;
  napi_async_cleanup_hook_handle pendingCleanup_ = nullptr;
};

}  // namespace bpfkit
