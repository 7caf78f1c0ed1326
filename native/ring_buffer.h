// RingBuffer: libbpf ring_buffer over one or more maps, drained on the JS thread in batches.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "addon.h"

struct ring_buffer;

namespace bpfkit {

class RingBufferHandle : public Napi::ObjectWrap<RingBufferHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit RingBufferHandle(const Napi::CallbackInfo& info);
  ~RingBufferHandle() override;

  void Release() override;

 private:
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Offsets(const Napi::CallbackInfo& info);
  Napi::Value Lengths(const Napi::CallbackInfo& info);

  static void OnReadable(uv_poll_t* poll, int status, int events);
  static int OnSample(void* context, void* data, size_t size);
  bool Store(const void* data, size_t size);
  void Drain();
  void Grow(size_t needed);
  void Stop();
  void Report(const Napi::Error& error);

  Addon* addon_;
  struct ring_buffer* ring_ = nullptr;
  uv_poll_t* poll_ = nullptr;
  bool polling_ = false;
  std::unique_ptr<Napi::AsyncContext> context_;

  // The batch handed to JS: records copied back to back (8-byte aligned) into one reused ArrayBuffer.
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  Napi::Reference<Napi::Uint32Array> offsets_;
  Napi::Reference<Napi::Uint32Array> lengths_;
  uint32_t* offsetsData_ = nullptr;
  uint32_t* lengthsData_ = nullptr;
  uint32_t count_ = 0;
  uint32_t batchEvents_;
  size_t batchBytes_;
  std::vector<uint8_t> overflow_;  // a record that did not fit, moved into the batch once it has grown

  uint64_t events_ = 0;
  uint64_t bytes_ = 0;
  uint64_t batches_ = 0;
};

}  // namespace bpfkit
