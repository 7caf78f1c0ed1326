// RingBuffer: libbpf ring_buffer over one or more maps, drained on the JS thread in batches.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "addon.h"
#include "batch.h"

struct ring_buffer;

namespace bpfkit {

class RingBufferHandle : public Napi::ObjectWrap<RingBufferHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RingBufferHandle(const Napi::CallbackInfo& info);
  ~RingBufferHandle() override;

  void Release() override;

 private:
  // What libbpf's sample callback gets: the reader and which of its maps the record came from.
  struct Source {
    RingBufferHandle* self;
    uint16_t index;
  };

  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value SetLatency(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Views(const Napi::CallbackInfo& info);

  static void OnReadable(uv_poll_t* poll, int status, int events);
  static void OnTimer(uv_timer_t* timer);
  static int OnSample(void* context, void* data, size_t size);
  // Drains what is waiting into one batch and hands it to this.onbatch.
  void Drain();
  // One pass over the rings, starting after the one the last drain started with, so that a busy ring
  // cannot keep the others waiting. Returns libbpf's result.
  int Consume();
  void Stop();
  void Report(const Napi::Error& error);
  void CloseHandle(uv_handle_t* handle);

  Addon* addon_;
  struct ring_buffer* ring_ = nullptr;
  std::vector<std::unique_ptr<Source>> sources_;
  size_t nextRing_ = 0;
  uv_poll_t* poll_ = nullptr;
  uv_timer_t* timer_ = nullptr;
  uint64_t latencyMs_ = 0;
  bool polling_ = false;
  std::unique_ptr<Napi::AsyncContext> context_;
  std::optional<EventBatch> batch_;

  uint64_t events_ = 0;
  uint64_t bytes_ = 0;
  uint64_t batches_ = 0;
};

}  // namespace bpfkit
