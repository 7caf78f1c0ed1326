// EventReader: what the ring buffer and perf buffer readers share — watching an epoll fd with
// uv_poll on the JS thread (plus a latency timer), draining into an EventBatch, handing each batch
// to JS with one call (this.onbatch), pause/resume, statistics and release.
//
// How the fd reports readiness decides how pause and resume watch it:
// - kRewatch (ring buffers): the rings sit edge-triggered in the reader's own epoll set (see
//   ring_buffer.cc), which is readable from a kernel wakeup until a drain takes it, so that it can be
//   unwatched and watched again without losing one. Pausing stops watching (a paused reader with a
//   wakeup pending would otherwise wake the loop on every turn); resuming watches again.
// - kOnce (perf buffers): a perf event fd is readable once per kernel wakeup, and every poll of it
//   consumes that, including the one the kernel makes when an epoll set (libuv's) adds the fd. Each
//   re-registration could so swallow the only wakeup of records that then wait for the next one. The
//   fd is therefore registered once, when the reader starts, and stays so until it is released:
//   pausing only stops draining (and lets the process exit); a drain follows the registration, each
//   resume and each batch that filled up, since no further wakeup comes for what is already there.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "addon.h"
#include "batch.h"

namespace bpfkit {

// The maps that one reader (or one user ring buffer writer) of this process owns: a map has one
// consumer position (or one producer position), so a second would take the first one's records or
// corrupt them. Kernel map ids, shared by every thread's addon instance as the maps are; each goes
// back when its owner drops it or is destroyed.
class MapClaims {
 public:
  // Claims map `fd` (named `name`), or a BpfError EBUSY that says `what` ("a reader") already has it.
  void Claim(Napi::Env env, const char* op, int fd, const std::string& name, const char* what, const char* hint);
  void Drop();
  ~MapClaims() { Drop(); }

 private:
  std::vector<uint32_t> ids_;
};

class EventReader : public Resource {
 public:
  ~EventReader() override = default;

  // Stops watching and frees the reader's kernel side (Free). Idempotent; never calls into JS.
  void Release() override;
  bool DependsOnObject() const override { return true; }

  // The JS methods every reader has, for the subclasses' DefineClass.
  template <typename T>
  static std::vector<Napi::ClassPropertyDescriptor<T>> Methods() {
    using Wrap = Napi::ObjectWrap<T>;
    return {
        Wrap::InstanceMethod("resume", &T::Resume),
        Wrap::InstanceMethod("pause", &T::Pause),
        Wrap::InstanceMethod("setLatency", &T::SetLatency),
        Wrap::InstanceMethod("close", &T::Close),
        Wrap::InstanceMethod("stats", &T::Stats),
        Wrap::InstanceAccessor("views", &T::Views, nullptr),
    };
  }

  // The JS methods every reader has.
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value SetLatency(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Views(const Napi::CallbackInfo& info);

 protected:
  EventReader(Napi::Env env, const char* name) : addon_(Addon::Of(env)), env_(env), name_(name) {}

  struct BatchSizes {
    uint32_t events;
    uint32_t bytes;
  };
  // options.batchEvents/batchBytes, within the limits lib/events/reader.ts checks (allocations are
  // made from them up front: a failure must never abort the process).
  static BatchSizes ReadBatchSizes(Napi::Env env, const char* op, Napi::Object options);

  enum class Readiness { kRewatch, kOnce };

  // Claims map `fd` (named `name`) for this reader, before anything reads it: one reader per map in
  // the process, worker threads included, or EBUSY. A second reader would take the first one's
  // events: a ring has one consumer position, and libbpf's perf_buffer__new points a perf event
  // array's per-CPU slots at its own buffers (and freeing it empties them). Dropped at Release, or
  // when a constructor that claimed fails.
  void Claim(Napi::Env env, const char* op, int fd, const std::string& name);

  // Starts the machinery over the reader's epoll fd; created paused. On failure it releases (Free
  // included) and throws.
  void Start(Napi::Env env, int epollFd, Readiness readiness, uint32_t batchEvents, uint32_t hardEvents,
             size_t batchBytes);
  // Drains what is waiting into batch_ (stopping once it is full, where libbpf lets it). Returns an
  // error (< 0), 0, or > 0 when records are left that no kernel wakeup will announce: the reader then
  // drains again in the next loop turn.
  virtual int Consume() = 0;
  // Frees what the subclass holds (libbpf's perf_buffer, or the ring mappings).
  virtual void Free() = 0;
  // Subclasses add their own figures (lost samples…).
  virtual void AddStats(Napi::Object stats) {}
  // The JS wrapper, and keeping it alive while reading (ObjectWrap's Ref/Unref).
  virtual Napi::Object Self() = 0;
  virtual void Hold(bool hold) = 0;
  bool Open() const { return started_; }
  // Whether a timer drains at least every latencyMs (the threshold wakeup policy), wakeup or not.
  bool Timed() const { return latencyMs_ > 0; }

  Addon* addon_;
  std::optional<EventBatch> batch_;

 private:
  static void OnReadable(uv_poll_t* poll, int status, int events);
  static void OnTimer(uv_timer_t* timer);
  static void OnCheck(uv_check_t* check);
  void Drain();
  void DrainSoon();
  void Stop();
  void Report(const Napi::Error& error);
  void CloseHandle(uv_handle_t* handle);
  // Runs a drain (or a report) from a libuv callback, turning a throwing listener into an uncaught
  // exception as with any Node event.
  template <typename F>
  void FromLoop(F work);

  MapClaims claims_;
  Napi::Env env_;
  const char* name_;
  bool started_ = false;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  // Drains once in the next loop turn's idle phase (DrainSoon): at resume, at a change of policy, and
  // after a drain that left records no wakeup will announce. Not a 0 ms timer: libuv runs a timer
  // restarted from its own callback again in the same timers phase, so a backlog would be drained
  // batch after batch with nothing else running.
  uv_idle_t* next_ = nullptr;
  Readiness readiness_ = Readiness::kRewatch;
  // kOnce: the check phase of the loop turns in which libuv registers the fd (the idle handle keeps
  // those turns from blocking); see Start.
  uv_check_t* check_ = nullptr;
  uv_idle_t* idle_ = nullptr;
  int checks_ = 0;
  uint64_t latencyMs_ = 0;
  bool polling_ = false;
  std::unique_ptr<Napi::AsyncContext> context_;
  uint64_t events_ = 0;
  uint64_t bytes_ = 0;
  uint64_t batches_ = 0;
};

}  // namespace bpfkit
