// Addon entry: per-environment state, libbpf print routing, error classes and the cleanup hook.
#include "addon.h"

#include <bpf/libbpf.h>
#include <net/if.h>

#include <cstdarg>
#include <cstdio>
#include <string>
#include <utility>

#include "btf.h"
#include "capabilities.h"
#include "errors.h"
#include "link.h"
#include "map.h"
#include "object.h"
#include "perf_buffer.h"
#include "probe.h"
#include "program.h"
#include "ring_buffer.h"
#include "user_ring_buffer.h"

#ifndef BPFKIT_SOURCE_HASH
#define BPFKIT_SOURCE_HASH "unknown"
#endif

namespace bpfkit {

namespace {

thread_local LogCapture* currentCapture = nullptr;

int Print(enum libbpf_print_level level, const char* format, va_list args) {
  LogCapture* capture = currentCapture;
  if (capture == nullptr) {
    // Printed outside any bpfkit call, so there is no environment to route to: keep warnings visible.
    if (level == LIBBPF_WARN) vfprintf(stderr, format, args);
    return 0;
  }
  if (static_cast<int>(level) > capture->minLevel) return 0;
  va_list sizing;
  va_copy(sizing, args);
  int length = vsnprintf(nullptr, 0, format, sizing);
  va_end(sizing);
  if (length <= 0) return 0;
  std::string text(static_cast<size_t>(length), '\0');
  vsnprintf(text.data(), text.size() + 1, format, args);
  capture->lines.push_back({static_cast<int>(level), std::move(text)});
  return 0;
}

}  // namespace

LogCapture::LogCapture(int minLevel) : minLevel(minLevel), previous_(currentCapture) {
  currentCapture = this;
}

LogCapture::~LogCapture() { currentCapture = previous_; }

Addon::Addon(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(Print);
  DefineAddon(exports, {
      InstanceMethod("setErrorClass", &Addon::SetErrorClass),
      InstanceMethod("setLogger", &Addon::SetLogger),
      InstanceMethod("liveResources", &Addon::LiveResources),
      InstanceMethod("probeProgramType", &Addon::Forward<ProbeProgramType>),
      InstanceMethod("probeMapType", &Addon::Forward<ProbeMapType>),
      InstanceMethod("probeHelper", &Addon::Forward<ProbeHelper>),
      InstanceMethod("probeAttach", &Addon::Forward<ProbeAttach>),
      InstanceMethod("probeNames", &Addon::Forward<ProbeNames>),
      InstanceMethod("listPrograms", &Addon::Forward<ProgramHandle::List>),
      InstanceMethod("listMaps", &Addon::Forward<MapHandle::List>),
      InstanceMethod("listLinks", &Addon::Forward<LinkHandle::List>),
      InstanceMethod("dropCapabilities", &Addon::DropCapabilities),
      InstanceMethod("ifNameToIndex", &Addon::IfNameToIndex),
      InstanceMethod("releaseUntied", &Addon::ReleaseUntied),
      InstanceValue("libbpfVersion", Napi::String::New(env, libbpf_version_string())),
      InstanceValue("sourceHash", Napi::String::New(env, BPFKIT_SOURCE_HASH)),
      InstanceValue("possibleCpus", Napi::Number::New(env, libbpf_num_possible_cpus())),
  });
  objectClass = Napi::Persistent(ObjectHandle::Init(env));
  programClass = Napi::Persistent(ProgramHandle::Init(env));
  mapClass = Napi::Persistent(MapHandle::Init(env));
  btfClass = Napi::Persistent(BtfHandle::Init(env));
  linkClass = Napi::Persistent(LinkHandle::Init(env));
  ringBufferClass = Napi::Persistent(RingBufferHandle::Init(env));
  perfBufferClass = Napi::Persistent(PerfBufferHandle::Init(env));
  userRingBufferClass = Napi::Persistent(UserRingBufferHandle::Init(env));
  exports.Set("BpfObject", objectClass.Value());
  exports.Set("RingBuffer", ringBufferClass.Value());
  exports.Set("PerfBuffer", perfBufferClass.Value());
  exports.Set("UserRingBuffer", userRingBufferClass.Value());
  exports.Set("BpfProgram", programClass.Value());
  exports.Set("BpfMap", mapClass.Value());
  exports.Set("Btf", btfClass.Value());
  exports.Set("Link", linkClass.Value());
  // A worker that exits (or a process that ends) without close() still detaches everything it made.
  napi_add_async_cleanup_hook(env, Cleanup, this, nullptr);
}

void Addon::Cleanup(napi_async_cleanup_hook_handle handle, void* data) {
  auto* addon = static_cast<Addon*>(data);
  addon->ReleaseAll();
  if (addon->closingHandles_ == 0) {
    napi_remove_async_cleanup_hook(handle);
  } else {
    addon->pendingCleanup_ = handle;
  }
}

void Addon::HandleClosed() {
  if (--closingHandles_ == 0 && pendingCleanup_ != nullptr) {
    napi_remove_async_cleanup_hook(pendingCleanup_);
    pendingCleanup_ = nullptr;
  }
}

Addon::~Addon() { ReleaseAll(); }

void Addon::ReleaseAll() {
  // Release() may untrack; iterate over a copy. Links and readers go before the objects they use.
  std::vector<Resource*> resources(live_.begin(), live_.end());
  for (Resource* resource : resources) {
    if (resource->DependsOnObject()) resource->Release();
  }
  for (Resource* resource : resources) {
    if (!resource->DependsOnObject()) resource->Release();
  }
  live_.clear();
}

void Addon::Deliver(Napi::Env env, const std::vector<LogLine>& lines, const Napi::FunctionReference& sink) {
  const Napi::FunctionReference& target = sink.IsEmpty() ? logger_ : sink;
  if (target.IsEmpty()) return;
  for (const LogLine& line : lines) {
    target.Call({Napi::Number::New(env, line.level), Napi::String::New(env, line.text)});
  }
}

Napi::Value Addon::SetErrorClass(const Napi::CallbackInfo& info) {
  bpfError = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

Napi::Value Addon::SetLogger(const Napi::CallbackInfo& info) {
  if (info[0].IsFunction()) {
    logger_ = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    logger_.Reset();
  }
  logLevel = info[1].As<Napi::Number>().Int32Value();
  return info.Env().Undefined();
}

Napi::Value Addon::DropCapabilities(const Napi::CallbackInfo& info) { return bpfkit::DropCapabilities(info); }

// process.exit() and the terminating signals end the process without the environment's cleanup hooks:
// lib/exit.ts calls this from the 'exit' event and from SIGINT/SIGTERM/SIGHUP, so attachments the kernel
// does not undo on its own (netlink XDP, clsact filters) go too. Everything else stays usable for the
// user's own 'exit' handlers; the kernel closes the fds.
// Each one's libbpf messages go to its object's logger, as close() would send them, once all are
// released (a logger that throws cannot keep one attached).
Napi::Value Addon::ReleaseUntied(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Resource*> resources(live_.begin(), live_.end());
  std::vector<std::pair<Napi::ObjectReference, std::vector<LogLine>>> said;
  for (Resource* resource : resources) {
    if (resource->TiedToProcess()) continue;
    Napi::Object owner = resource->LogOwner();
    ObjectHandle* object = owner.IsEmpty() ? nullptr : ObjectHandle::Unwrap(owner);
    std::vector<LogLine> lines = Captured(object != nullptr ? object->LogLevel() : logLevel, [&] { resource->Release(); });
    said.emplace_back(owner.IsEmpty() ? Napi::ObjectReference() : Napi::Persistent(owner), std::move(lines));
  }
  for (auto& [owner, lines] : said) {
    if (owner.IsEmpty()) {
      Deliver(env, lines, Napi::FunctionReference());
    } else {
      ObjectHandle::Unwrap(owner.Value())->Deliver(env, lines);
    }
  }
  return env.Undefined();
}

Napi::Value Addon::IfNameToIndex(const Napi::CallbackInfo& info) {
  std::string name = StringArg(info.Env(), info[0], "if_nametoindex", "the interface name");
  return Napi::Number::New(info.Env(), if_nametoindex(name.c_str()));
}

// How many kernel resources this environment holds open: the leak tests read it.
Napi::Value Addon::LiveResources(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(live_.size()));
}

}  // namespace bpfkit

using BpfkitAddon = bpfkit::Addon;
NODE_API_ADDON(BpfkitAddon)
