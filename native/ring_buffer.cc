// RingBuffer: libbpf ring_buffer over one or more maps, drained on the JS thread in batches.
#include "ring_buffer.h"

#include <bpf/libbpf.h>
#include <bpf/libbpf_version.h>

#include <cerrno>

#include "errors.h"
#include "map.h"

// Per-ring consumption (fair across maps) needs libbpf 1.3; older ones drain the rings in order.
#define BPFKIT_HAVE_RING_CONSUME (LIBBPF_MAJOR_VERSION > 1 || (LIBBPF_MAJOR_VERSION == 1 && LIBBPF_MINOR_VERSION >= 3))

namespace bpfkit {

namespace {

// Returned from the sample callback to stop consuming once a batch is full; the record that returned
// it is already stored, and the rest stay in the ring for the next readiness.
constexpr int kBatchFull = -ECANCELED;

// Mirrors the limits lib/events/reader.ts checks: allocation failures must never abort the process.
constexpr uint32_t kMaxBatchEvents = 1u << 20;
constexpr size_t kMaxBatchBytes = 1u << 28;
constexpr size_t kMaxMaps = 1024;

}  // namespace

Napi::Function RingBufferHandle::Init(Napi::Env env) {
  return DefineClass(env, "RingBufferHandle", {
      InstanceMethod<&RingBufferHandle::Resume>("resume"),
      InstanceMethod<&RingBufferHandle::Pause>("pause"),
      InstanceMethod<&RingBufferHandle::SetLatency>("setLatency"),
      InstanceMethod<&RingBufferHandle::Close>("close"),
      InstanceMethod<&RingBufferHandle::Stats>("stats"),
      InstanceAccessor<&RingBufferHandle::Views>("views"),
  });
}

// new RingBufferHandle(maps: BpfMapHandle[], { batchEvents, batchBytes })
// Each drained batch calls this.onbatch(buffer: ArrayBuffer, count). Created paused.
RingBufferHandle::RingBufferHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<RingBufferHandle>(info), addon_(Addon::Of(info.Env())) {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0 ||
      info[0].As<Napi::Array>().Length() > kMaxMaps || !info[1].IsObject()) {
    throw BpfError(env, op, "EINVAL", "expected (maps[], options)");
  }
  Napi::Array maps = info[0].As<Napi::Array>();
  Napi::Object options = info[1].As<Napi::Object>();
  uint32_t batchEvents = options.Get("batchEvents").ToNumber().Uint32Value();
  uint32_t batchBytes = options.Get("batchBytes").ToNumber().Uint32Value();
  if (batchEvents == 0 || batchEvents > kMaxBatchEvents || batchBytes == 0 || batchBytes > kMaxBatchBytes) {
    throw BpfError(env, op, "EINVAL", "batch sizes out of range");
  }

  std::vector<int> fds;
  for (uint32_t i = 0; i < maps.Length(); i++) {
    MapHandle* map = MapHandle::From(env, maps.Get(i));
    if (map == nullptr) throw BpfError(env, op, "EINVAL", "expected BpfMap handles");
    fds.push_back(map->LoadedFd(env, op));
    sources_.push_back(std::make_unique<Source>(Source{this, static_cast<uint16_t>(i)}));
  }

  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] {
    ring_ = ring_buffer__new(fds[0], OnSample, sources_[0].get(), nullptr);
    err = ring_ == nullptr ? errno : 0;
    for (size_t i = 1; err == 0 && i < fds.size(); i++) {
      err = -ring_buffer__add(ring_, fds[i], OnSample, sources_[i].get());
    }
    if (err != 0 && ring_ != nullptr) {
      ring_buffer__free(ring_);
      ring_ = nullptr;
    }
  });
  if (err != 0) {
    addon_->Deliver(env, lines, Napi::FunctionReference());
    throw BpfError(env, op, err);
  }

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  poll_ = new uv_poll_t;
  poll_->data = this;
  timer_ = new uv_timer_t;
  timer_->data = this;
  uv_timer_init(loop, timer_);
  if (int uvErr = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(ring_)); uvErr != 0) {
    delete poll_;
    poll_ = nullptr;
    Release();
    throw BpfError(env, "uv_poll_init", -uvErr);
  }
  context_ = std::make_unique<Napi::AsyncContext>(env, "bpfkit:RingBuffer", Value());
  batch_.emplace(env, batchEvents, batchBytes);
  addon_->Track(this);
  try {
    addon_->Deliver(env, lines, Napi::FunctionReference());
  } catch (...) {
    Release();
    throw;
  }
}

RingBufferHandle::~RingBufferHandle() { Release(); }

void RingBufferHandle::CloseHandle(uv_handle_t* handle) {
  handle->data = addon_;
  addon_->HandleClosing();
  uv_close(handle, [](uv_handle_t* closed) {
    auto* addon = static_cast<Addon*>(closed->data);
    if (closed->type == UV_POLL) {
      delete reinterpret_cast<uv_poll_t*>(closed);
    } else {
      delete reinterpret_cast<uv_timer_t*>(closed);
    }
    addon->HandleClosed();
  });
}

void RingBufferHandle::Release() {
  if (ring_ == nullptr) return;
  Stop();
  if (poll_ != nullptr) CloseHandle(reinterpret_cast<uv_handle_t*>(poll_));
  if (timer_ != nullptr) CloseHandle(reinterpret_cast<uv_handle_t*>(timer_));
  poll_ = nullptr;
  timer_ = nullptr;
  ring_buffer__free(ring_);
  ring_ = nullptr;
  addon_->Untrack(this);
}

int RingBufferHandle::OnSample(void* context, void* data, size_t size) {
  auto* source = static_cast<Source*>(context);
  return source->self->batch_->Store(data, size, source->index) ? 0 : kBatchFull;
}

int RingBufferHandle::Consume() {
#if BPFKIT_HAVE_RING_CONSUME
  size_t rings = sources_.size();
  size_t first = nextRing_;
  nextRing_ = (nextRing_ + 1) % rings;
  for (size_t k = 0; k < rings; k++) {
    int result = ring__consume(ring_buffer__ring(ring_, static_cast<unsigned int>((first + k) % rings)));
    if (result < 0) return result;
  }
  return 0;
#else
  return ring_buffer__consume(ring_);
#endif
}

void RingBufferHandle::Drain() {
  Napi::Env env = Env();
  batch_->Clear();
  int result = Consume();
  batch_->Settle(env);
  if (result < 0 && result != kBatchFull) Report(BpfError(env, "ring_buffer__consume", -result));
  uint32_t count = batch_->Count();
  if (count == 0) return;
  events_ += count;
  batches_ += 1;
  bytes_ += batch_->Bytes();
  Napi::Value onbatch = Value().Get("onbatch");
  if (onbatch.IsFunction()) {
    Napi::Value buffer = batch_->Views(env).Get("buffer");
    onbatch.As<Napi::Function>().MakeCallback(Value(), {buffer, Napi::Number::New(env, count)}, *context_);
  }
}

void RingBufferHandle::Report(const Napi::Error& error) {
  Napi::Value onerror = Value().Get("onerror");
  if (onerror.IsFunction()) onerror.As<Napi::Function>().MakeCallback(Value(), {error.Value()}, *context_);
}

void RingBufferHandle::Stop() {
  if (!polling_) return;
  uv_poll_stop(poll_);
  uv_timer_stop(timer_);
  polling_ = false;
  Unref();
}

void RingBufferHandle::OnReadable(uv_poll_t* poll, int status, int /*events*/) {
  auto* self = static_cast<RingBufferHandle*>(poll->data);
  if (self->ring_ == nullptr) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  try {
    if (status < 0) {
      // libuv stopped watching the epoll fd: the reader can deliver nothing more, so say so.
      self->Stop();
      self->Report(BpfError(env, "uv_poll", -status));
    } else {
      self->Drain();
    }
  } catch (const Napi::Error& e) {
    // A throwing listener is an uncaught exception of the program, as with any Node event.
    napi_fatal_exception(env, e.Value());
  }
}

// The latency bound of the threshold wakeup policy: drains even when the kernel was told not to wake us.
void RingBufferHandle::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<RingBufferHandle*>(timer->data);
  if (self->ring_ == nullptr || !self->polling_) return;
  Napi::Env env = self->Env();
  Napi::HandleScope scope(env);
  try {
    self->Drain();
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

Napi::Value RingBufferHandle::Resume(const Napi::CallbackInfo& info) {
  if (ring_ == nullptr) throw BpfError(info.Env(), "ring_buffer__poll", "ECLOSED", "the ring buffer is closed");
  if (!polling_) {
    int err = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (err != 0) throw BpfError(info.Env(), "uv_poll_start", -err);
    if (latencyMs_ > 0) uv_timer_start(timer_, OnTimer, latencyMs_, latencyMs_);
    polling_ = true;
    Ref();  // an active reader stays alive while the kernel can still hand it events
  }
  return info.Env().Undefined();
}

Napi::Value RingBufferHandle::Pause(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
}

// setLatency(ms): drain at least every ms milliseconds while reading (0: only when the kernel wakes us).
Napi::Value RingBufferHandle::SetLatency(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ring_ == nullptr) throw BpfError(env, "uv_timer_start", "ECLOSED", "the ring buffer is closed");
  if (!info[0].IsNumber()) throw BpfError(env, "uv_timer_start", "EINVAL", "expected milliseconds");
  latencyMs_ = static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value());
  uv_timer_stop(timer_);
  if (polling_ && latencyMs_ > 0) uv_timer_start(timer_, OnTimer, latencyMs_, latencyMs_);
  return env.Undefined();
}

Napi::Value RingBufferHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value RingBufferHandle::Stats(const Napi::CallbackInfo& info) {
  Napi::Object stats = Napi::Object::New(info.Env());
  stats.Set("events", static_cast<double>(events_));
  stats.Set("bytes", static_cast<double>(bytes_));
  stats.Set("batches", static_cast<double>(batches_));
  return stats;
}

// { buffer, offsets, lengths, sources }: the batch arrays, reused by every drain (the buffer is
// replaced when a record needs more room; onbatch passes the current one).
Napi::Value RingBufferHandle::Views(const Napi::CallbackInfo& info) {
  if (!batch_) throw BpfError(info.Env(), "ring_buffer", "ECLOSED", "the ring buffer is closed");
  return batch_->Views(info.Env());
}

}  // namespace bpfkit
