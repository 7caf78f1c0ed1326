// RingBuffer: one or more BPF ring buffer maps, mmap()ed and drained on the JS thread in batches by our
// own consumer loop (see ring_buffer.cc for why).
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "reader.h"

namespace bpfkit {

class RingBufferHandle : public Napi::ObjectWrap<RingBufferHandle>, public EventReader {
 public:
  static Napi::Function Init(Napi::Env env);
  // new RingBufferHandle(maps: BpfMapHandle[], { batchEvents, batchBytes }); created paused.
  explicit RingBufferHandle(const Napi::CallbackInfo& info);
  ~RingBufferHandle() override;

 private:
  // One ring as the kernel maps it: the consumer position (ours to write), then the producer position
  // and the data pages, mapped twice in a row so that a record that wraps around is contiguous.
  struct Ring {
    unsigned long* consumer = nullptr;
    unsigned long* producer = nullptr;
    const uint8_t* data = nullptr;
    unsigned long mask = 0;
    size_t mappedBytes = 0;  // of the producer mapping
  };

  // availableBytes(ringIndex): unread bytes of one of the reader's rings.
  Napi::Value AvailableBytes(const Napi::CallbackInfo& info);
  // Maps ring `index` (fd of a ring buffer map); throws a BpfError naming `name` when it cannot.
  void Map(Napi::Env env, int fd, const std::string& name);
  // Moves the records waiting in `ring` into the batch until it is full; false once the batch is full.
  bool ConsumeRing(Napi::Env env, Ring& ring, uint16_t index);
  // Whether a committed record waits in `ring` that no wakeup will announce (see ring_buffer.cc).
  bool Unannounced(const Ring& ring) const;
  // One pass over the rings, starting after the one the last drain started with, so that a busy ring
  // cannot keep the others waiting; > 0 when records are left for the next loop turn.
  int Consume() override;
  void Free() override;
  Napi::Object Self() override { return Value(); }
  void Hold(bool hold) override { hold ? Ref() : Unref(); }

  std::vector<Ring> rings_;
  int epollFd_ = -1;
  size_t pageSize_ = 0;
  size_t nextRing_ = 0;
};

}  // namespace bpfkit
