// RingBuffer: libbpf ring_buffer over one or more maps, drained on the JS thread in batches.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "reader.h"

struct ring_buffer;

namespace bpfkit {

class RingBufferHandle : public Napi::ObjectWrap<RingBufferHandle>, public EventReader {
 public:
  static Napi::Function Init(Napi::Env env);
  // new RingBufferHandle(maps: BpfMapHandle[], { batchEvents, batchBytes }); created paused.
  explicit RingBufferHandle(const Napi::CallbackInfo& info);
  ~RingBufferHandle() override;

 private:
  // What libbpf's sample callback gets: the reader and which of its maps the record came from.
  struct Source {
    RingBufferHandle* self;
    uint16_t index;
  };

  // availableBytes(ringIndex): unread bytes of one of the reader's rings.
  Napi::Value AvailableBytes(const Napi::CallbackInfo& info);
  static int OnSample(void* context, void* data, size_t size);
  // One pass over the rings, starting after the one the last drain started with, so that a busy ring
  // cannot keep the others waiting.
  int Consume() override;
  void Free() override;
  Napi::Object Self() override { return Value(); }
  void Hold(bool hold) override { hold ? Ref() : Unref(); }

  struct ring_buffer* ring_ = nullptr;
  std::vector<std::unique_ptr<Source>> sources_;
  size_t nextRing_ = 0;
};

}  // namespace bpfkit
