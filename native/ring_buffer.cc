// RingBuffer: libbpf ring_buffer over one or more maps, drained on the JS thread in batches.
#include "ring_buffer.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "errors.h"
#include "map.h"

namespace bpfkit {

namespace {

constexpr size_t kAlign = 8;

size_t Align(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

// Returned from the sample callback to stop ring_buffer__consume once a batch is full; the record
// that returned it is already stored, and the rest stay in the ring for the next readiness.
constexpr int kBatchFull = -ECANCELED;

// Mirrors the limits lib/events/ring-buffer.ts checks: allocation failures must never abort the process.
constexpr uint32_t kMaxBatchEvents = 1u << 20;
constexpr size_t kMaxBatchBytes = 1u << 28;

}  // namespace

Napi::Function RingBufferHandle::Init(Napi::Env env) {
  return DefineClass(env, "RingBufferHandle", {
      InstanceMethod<&RingBufferHandle::Resume>("resume"),
      InstanceMethod<&RingBufferHandle::Pause>("pause"),
      InstanceMethod<&RingBufferHandle::Close>("close"),
      InstanceMethod<&RingBufferHandle::Stats>("stats"),
      InstanceAccessor<&RingBufferHandle::Offsets>("offsets"),
      InstanceAccessor<&RingBufferHandle::Lengths>("lengths"),
  });
}

// new RingBufferHandle(maps: BpfMapHandle[], { batchEvents, batchBytes })
// Each drained batch calls this.onbatch(buffer: ArrayBuffer, count). Created paused.
RingBufferHandle::RingBufferHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<RingBufferHandle>(info), addon_(Addon::Of(info.Env())) {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0 || !info[1].IsObject()) {
    throw BpfError(env, op, "EINVAL", "expected (maps[], options)");
  }
  Napi::Array maps = info[0].As<Napi::Array>();
  Napi::Object options = info[1].As<Napi::Object>();
  batchEvents_ = options.Get("batchEvents").As<Napi::Number>().Uint32Value();
  batchBytes_ = options.Get("batchBytes").As<Napi::Number>().Uint32Value();
  if (batchEvents_ == 0 || batchEvents_ > kMaxBatchEvents || batchBytes_ == 0 || batchBytes_ > kMaxBatchBytes) {
    throw BpfError(env, op, "EINVAL", "batch sizes out of range");
  }

  std::vector<int> fds;
  for (uint32_t i = 0; i < maps.Length(); i++) {
    MapHandle* map = MapHandle::From(env, maps.Get(i));
    if (map == nullptr) throw BpfError(env, op, "EINVAL", "expected BpfMap handles");
    fds.push_back(map->LoadedFd(env, op));
  }

  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] {
    ring_ = ring_buffer__new(fds[0], OnSample, this, nullptr);
    err = ring_ == nullptr ? errno : 0;
    for (size_t i = 1; err == 0 && i < fds.size(); i++) {
      err = -ring_buffer__add(ring_, fds[i], OnSample, this);
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
  if (int uvErr = uv_poll_init(loop, poll_, ring_buffer__epoll_fd(ring_)); uvErr != 0) {
    delete poll_;
    poll_ = nullptr;
    ring_buffer__free(ring_);
    ring_ = nullptr;
    throw BpfError(env, "uv_poll_init", -uvErr);
  }
  context_ = std::make_unique<Napi::AsyncContext>(env, "bpfkit:RingBuffer", Value());
  Grow(2 * batchBytes_);
  auto metadata = [&](Napi::Reference<Napi::Uint32Array>* ref) {
    Napi::Uint32Array array = Napi::Uint32Array::New(env, batchEvents_);
    *ref = Napi::Persistent(array);
    return array.Data();
  };
  offsetsData_ = metadata(&offsets_);
  lengthsData_ = metadata(&lengths_);
  addon_->Track(this);
  try {
    addon_->Deliver(env, lines, Napi::FunctionReference());
  } catch (...) {
    Release();
    throw;
  }
}

RingBufferHandle::~RingBufferHandle() { Release(); }

void RingBufferHandle::Release() {
  if (ring_ == nullptr) return;
  Stop();
  poll_->data = addon_;
  addon_->HandleClosing();
  uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* handle) {
    auto* addon = static_cast<Addon*>(handle->data);
    delete reinterpret_cast<uv_poll_t*>(handle);
    addon->HandleClosed();
  });
  poll_ = nullptr;
  ring_buffer__free(ring_);
  ring_ = nullptr;
  addon_->Untrack(this);
}

void RingBufferHandle::Grow(size_t needed) {
  size_t capacity = capacity_ == 0 ? needed : capacity_;
  while (capacity < needed) capacity *= 2;
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(Env(), capacity);
  if (used_ > 0) std::memcpy(buffer.Data(), data_, used_);
  buffer_ = Napi::Persistent(buffer);
  data_ = static_cast<uint8_t*>(buffer.Data());
  capacity_ = capacity;
}

bool RingBufferHandle::Store(const void* data, size_t size) {
  size_t offset = Align(used_);
  if (offset + size > capacity_) {
    // No JS allocation inside libbpf's callback: keep the record aside and grow after consume returns.
    overflow_.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
    return false;
  }
  std::memcpy(data_ + offset, data, size);
  offsetsData_[count_] = static_cast<uint32_t>(offset);
  lengthsData_[count_] = static_cast<uint32_t>(size);
  count_++;
  used_ = offset + size;
  return count_ < batchEvents_ && used_ < batchBytes_;
}

int RingBufferHandle::OnSample(void* context, void* data, size_t size) {
  return static_cast<RingBufferHandle*>(context)->Store(data, size) ? 0 : kBatchFull;
}

void RingBufferHandle::Drain() {
  count_ = 0;
  used_ = 0;
  overflow_.clear();
  int result = ring_buffer__consume(ring_);
  if (!overflow_.empty()) {
    Grow(Align(used_) + overflow_.size());
    Store(overflow_.data(), overflow_.size());
  }
  Napi::Env env = Env();
  if (result < 0 && result != kBatchFull) Report(BpfError(env, "ring_buffer__consume", -result));
  if (count_ == 0) return;
  events_ += count_;
  batches_ += 1;
  for (uint32_t i = 0; i < count_; i++) bytes_ += lengthsData_[i];
  Napi::Value onbatch = Value().Get("onbatch");
  if (onbatch.IsFunction()) {
    onbatch.As<Napi::Function>().MakeCallback(Value(), {buffer_.Value(), Napi::Number::New(env, count_)}, *context_);
  }
}

void RingBufferHandle::Report(const Napi::Error& error) {
  Napi::Value onerror = Value().Get("onerror");
  if (onerror.IsFunction()) onerror.As<Napi::Function>().MakeCallback(Value(), {error.Value()}, *context_);
}

void RingBufferHandle::Stop() {
  if (!polling_) return;
  uv_poll_stop(poll_);
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

Napi::Value RingBufferHandle::Resume(const Napi::CallbackInfo& info) {
  if (ring_ == nullptr) throw BpfError(info.Env(), "ring_buffer__poll", "ECLOSED", "the ring buffer is closed");
  if (!polling_) {
    int err = uv_poll_start(poll_, UV_READABLE, OnReadable);
    if (err != 0) throw BpfError(info.Env(), "uv_poll_start", -err);
    polling_ = true;
    Ref();  // an active reader stays alive while the kernel can still hand it events
  }
  return info.Env().Undefined();
}

Napi::Value RingBufferHandle::Pause(const Napi::CallbackInfo& info) {
  Stop();
  return info.Env().Undefined();
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

Napi::Value RingBufferHandle::Offsets(const Napi::CallbackInfo& info) { return offsets_.Value(); }
Napi::Value RingBufferHandle::Lengths(const Napi::CallbackInfo& info) { return lengths_.Value(); }

}  // namespace bpfkit
