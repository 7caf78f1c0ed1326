// EventReader: what the ring buffer and perf buffer readers share — watching an epoll fd with
// uv_poll on the JS thread (plus a latency timer), draining into an EventBatch, handing each batch
// to JS with one call (this.onbatch), pause/resume, statistics and release.
#include "reader.h"

#include <bpf/bpf.h>

#include <mutex>
#include <set>
#include <string>

#include "errors.h"

namespace bpfkit {

namespace {

constexpr uint32_t kMaxBatchEvents = 1u << 20;
constexpr uint32_t kMaxBatchBytes = 1u << 28;

// The kernel ids of the maps that readers of this process read (see EventReader::Claim): shared by
// every thread's addon instance, as the maps are.
std::mutex claimedMutex;
std::set<uint32_t> claimed;

}  // namespace

void MapClaims::Claim(Napi::Env env, const char* op, int fd, const std::string& name, const char* what, const char* hint) {
  struct bpf_map_info info = {};
  uint32_t length = sizeof(info);
  if (bpf_map_get_info_by_fd(fd, &info, &length) != 0) throw BpfError(env, "bpf_map_get_info_by_fd", errno, name);
  {
    std::lock_guard<std::mutex> lock(claimedMutex);
    if (claimed.insert(info.id).second) {
      ids_.push_back(info.id);
      return;
    }
  }
  throw BpfError(env, op, "EBUSY", "map '" + name + "' already has " + what + " in this process", hint);
}

void MapClaims::Drop() {
  std::lock_guard<std::mutex> lock(claimedMutex);
  for (uint32_t id : ids_) claimed.erase(id);
  ids_.clear();
}

void EventReader::Claim(Napi::Env env, const char* op, int fd, const std::string& name) {
  claims_.Claim(env, op, fd, name, "a reader",
                "one reader per map: its 'data' and 'batch' listeners, iterators and stream() share its events; "
                "close the other reader first");
}

EventReader::BatchSizes EventReader::ReadBatchSizes(Napi::Env env, const char* op, Napi::Object options) {
  uint32_t events = options.Get("batchEvents").ToNumber().Uint32Value();
  uint32_t bytes = options.Get("batchBytes").ToNumber().Uint32Value();
  if (events == 0 || events > kMaxBatchEvents || bytes == 0 || bytes > kMaxBatchBytes) {
    throw BpfError(env, op, "EINVAL", "batch sizes out of range");
  }
  return {events, bytes};
}

void EventReader::Start(Napi::Env env, int epollFd, Readiness readiness, uint32_t batchEvents, uint32_t hardEvents,
                        size_t batchBytes) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  readiness_ = readiness;
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(loop, timer_);
  next_ = new uv_idle_t;
  next_->data = this;
  uv_idle_init(loop, next_);
  uv_unref(reinterpret_cast<uv_handle_t*>(next_));
  poll_ = new uv_poll_t;
  poll_->data = this;
  started_ = true;
  int err = uv_poll_init(loop, poll_, epollFd);
  if (err != 0) {
    delete poll_;
    poll_ = nullptr;
  } else if (readiness_ == Readiness::kOnce) {
    // Watched from now until released (see the top of reader.h), without keeping the process alive
    // while paused. libuv adds the fd to its epoll set in the poll phase of this loop turn or, when
    // this runs in a poll callback, of the next; the check phases of both turns drain (when reading)
    // what that registration's own poll swallowed, and the idle handle keeps those turns from waiting.
    err = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (err == 0) {
      uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
      check_ = new uv_check_t;
      check_->data = this;
      uv_check_init(loop, check_);
      uv_check_start(check_, OnCheck);
      uv_unref(reinterpret_cast<uv_handle_t*>(check_));
      idle_ = new uv_idle_t;
      uv_idle_init(loop, idle_);
      uv_idle_start(idle_, [](uv_idle_t*) {});
      uv_unref(reinterpret_cast<uv_handle_t*>(idle_));
      checks_ = 2;
    }
  }
  if (err != 0) {
    const char* op = poll_ == nullptr ? "uv_poll_init" : "uv_poll_start";
    Release();
    throw BpfError(env, op, -err);
  }
  context_ = std::make_unique<Napi::AsyncContext>(env, (std::string("bpfkit:") + name_).c_str(), Self());
  batch_.emplace(env, batchEvents, hardEvents, batchBytes);
  addon_->Track(this);
}

void EventReader::CloseHandle(uv_handle_t* handle) {
  handle->data = addon_;
  addon_->HandleClosing();
  uv_close(handle, [](uv_handle_t* closed) {
    auto* addon = static_cast<Addon*>(closed->data);
    switch (closed->type) {
      case UV_POLL:
        delete reinterpret_cast<uv_poll_t*>(closed);
        break;
      case UV_CHECK:
        delete reinterpret_cast<uv_check_t*>(closed);
        break;
      case UV_IDLE:
        delete reinterpret_cast<uv_idle_t*>(closed);
        break;
      default:
        delete reinterpret_cast<uv_timer_t*>(closed);
    }
    addon->HandleClosed();
  });
}

void EventReader::Release() {
  // Never started (or released already): the claims go with the object, after the subclass's Free.
  if (!started_) return;
  Stop();
  for (uv_handle_t* handle : {reinterpret_cast<uv_handle_t*>(poll_), reinterpret_cast<uv_handle_t*>(timer_),
                              reinterpret_cast<uv_handle_t*>(next_), reinterpret_cast<uv_handle_t*>(check_),
                              reinterpret_cast<uv_handle_t*>(idle_)}) {
    if (handle != nullptr) CloseHandle(handle);
  }
  poll_ = nullptr;
  timer_ = nullptr;
  next_ = nullptr;
  check_ = nullptr;
  idle_ = nullptr;
  Free();
  // After Free: freeing a perf buffer empties the array's slots, which a new reader's may be by then.
  claims_.Drop();
  started_ = false;
  addon_->Untrack(this);
}

void EventReader::Drain() {
  Napi::Env env = env_;
  batch_->Clear();
  batch_->Revive(env);
  int result = Consume();
  batch_->Settle(env);
  if (result < 0) Report(BpfError(env, (std::string(name_) + " consume").c_str(), -result));
  // Records that no wakeup will announce: what the rings say is left, or what a full batch may have
  // left behind in a perf buffer (a perf fd will not report it again).
  bool more = result > 0 || (batch_->Full() && readiness_ == Readiness::kOnce);
  if (uint32_t count = batch_->Count(); count > 0) {
    events_ += count;
    batches_ += 1;
    bytes_ += batch_->Bytes();
    Napi::Object self = Self();
    Napi::Value onbatch = self.Get("onbatch");
    if (onbatch.IsFunction()) {
      try {
        onbatch.As<Napi::Function>().MakeCallback(self, {batch_->Buffer(), Napi::Number::New(env, count)}, *context_);
      } catch (...) {
        // A listener threw: its error goes on, and what is left is still drained (no wakeup will
        // announce it).
        if (more && started_ && polling_) DrainSoon();
        throw;
      }
    }
  }
  // The listener may have paused or closed the reader.
  if (more && started_ && polling_) DrainSoon();
}

// Drains once in the next loop turn's idle phase (see next_ in reader.h).
void EventReader::DrainSoon() {
  uv_idle_start(next_, [](uv_idle_t* idle) {
    uv_idle_stop(idle);
    auto* self = static_cast<EventReader*>(idle->data);
    if (!self->started_ || !self->polling_) return;
    self->FromLoop([&] { self->Drain(); });
  });
}

void EventReader::Report(const Napi::Error& error) {
  Napi::Object self = Self();
  Napi::Value onerror = self.Get("onerror");
  if (onerror.IsFunction()) onerror.As<Napi::Function>().MakeCallback(self, {error.Value()}, *context_);
}

// Pauses: no more drains until Resume.
void EventReader::Stop() {
  if (!polling_) return;
  if (readiness_ == Readiness::kOnce) {
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  } else {
    uv_poll_stop(poll_);
  }
  uv_timer_stop(timer_);
  uv_idle_stop(next_);
  polling_ = false;
  Hold(false);
}

template <typename F>
void EventReader::FromLoop(F work) {
  Napi::HandleScope scope(env_);
  try {
    work();
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env_, e.Value());
  }
}

void EventReader::OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* self = static_cast<EventReader*>(poll->data);
  if (!self->started_) return;
  self->FromLoop([&] {
    if (status < 0) {
      // libuv stopped watching the epoll fd: the reader can deliver nothing more, so say so.
      self->Stop();
      uv_poll_stop(self->poll_);
      self->Report(BpfError(self->env_, "uv_poll", -status));
    } else if (self->polling_) {
      self->Drain();  // paused (kOnce): the drain at resume reads what this readiness announced
    }
  });
}

// The latency bound of the threshold wakeup policy: drains even when the kernel was told not to wake us.
void EventReader::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<EventReader*>(timer->data);
  if (!self->started_ || !self->polling_) return;
  self->FromLoop([&] { self->Drain(); });
}

// kOnce: the two loop turns in which libuv registers the fd (see Start).
void EventReader::OnCheck(uv_check_t* check) {
  auto* self = static_cast<EventReader*>(check->data);
  if (!self->started_) return;
  if (--self->checks_ == 0) {
    uv_check_stop(self->check_);
    uv_idle_stop(self->idle_);
  }
  if (self->polling_) self->FromLoop([&] { self->Drain(); });
}

Napi::Value EventReader::Resume(const Napi::CallbackInfo& info) {
  if (!started_) throw BpfError(info.Env(), name_, "ECLOSED", "the reader is closed");
  if (!polling_) {
    if (readiness_ == Readiness::kOnce) {
      uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
    } else if (int err = uv_poll_start(poll_, UV_READABLE, OnReadable); err != 0) {
      throw BpfError(info.Env(), "uv_poll_start", -err);
    }
    // Drain once right away: a perf fd's readiness for what arrived while paused may be spent, and a
    // ring's wakeups for what waits may have been taken by an earlier drain.
    DrainSoon();
    if (latencyMs_ > 0) uv_timer_start(timer_, OnTimer, latencyMs_, latencyMs_);
    polling_ = true;
    Hold(true);  // an active reader stays alive while the kernel can still hand it events
  }
  return info.Env().Undefined();
}

Napi::Value EventReader::Pause(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

// setLatency(ms): drain at least every ms milliseconds while reading (0: only when the kernel wakes us).
Napi::Value EventReader::SetLatency(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!started_) throw BpfError(env, "uv_timer_start", "ECLOSED", "the reader is closed");
  if (!info[0].IsNumber()) throw BpfError(env, "uv_timer_start", "EINVAL", "expected milliseconds");
  uint64_t before = latencyMs_;
  latencyMs_ = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  uv_timer_stop(timer_);
  if (polling_) {
    if (latencyMs_ > 0) {
      uv_timer_start(timer_, OnTimer, latencyMs_, latencyMs_);
    } else if (before > 0) {
      // Back to the kernel's wakeups: a program that read the old policy may still commit a record
      // without a wakeup after the drain below. One more drain, once the old bound has passed.
      uv_timer_start(timer_, OnTimer, before, 0);
    }
    // What waits was held back under the old policy, and will not wake us under the new one.
    DrainSoon();
  }
  return env.Undefined();
}

Napi::Value EventReader::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value EventReader::Stats(const Napi::CallbackInfo& info) {
  Napi::Object stats = Napi::Object::New(info.Env());
  stats.Set("events", static_cast<double>(events_));
  stats.Set("bytes", static_cast<double>(bytes_));
  stats.Set("batches", static_cast<double>(batches_));
  AddStats(stats);
  return stats;
}

// { buffer, offsets, lengths, sources }: the batch arrays, reused by every drain (the buffer is
// replaced when a record needs more room; onbatch passes the current one).
Napi::Value EventReader::Views(const Napi::CallbackInfo& info) {
  if (!batch_) throw BpfError(info.Env(), name_, "ECLOSED", "the reader is closed");
  return batch_->Views(info.Env());
}

}  // namespace bpfkit
