// EventBatch: the records one drain of a ring or perf buffer hands to JS, copied (8-byte aligned) into one
// reused ArrayBuffer, with their offsets, lengths and sources (map index, or CPU for perf buffers) in
// reused arrays.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bpfkit {

class EventBatch {
 public:
  // Allocates the buffer (2 × maxBytes to start) and the per-event arrays (hardEvents each). A batch is
  // full at maxEvents events or maxBytes bytes; a reader whose library cannot stop mid-drain (perf
  // buffers) sizes hardEvents for the most a drain can bring.
  EventBatch(Napi::Env env, uint32_t maxEvents, uint32_t hardEvents, size_t maxBytes);

  // Copies a record in; false when the batch is full now (or the record had to wait: see Settle).
  // Runs inside libbpf's callbacks, so it never allocates JS memory.
  bool Store(const void* data, size_t size, uint16_t source);
  // Runs of records copied whole (ring buffers). A consumer takes Slots, writes the offsets and
  // lengths of the records of a run that starts at `start` (8-byte aligned) for as long as `count <
  // limit` and the run's end stays below `end`, then calls AddRun() with the run's bytes and source.
  // Plain pointers and locals, so that the compiler keeps them in registers across the stores.
  struct Slots {
    uint32_t* offsets;
    uint32_t* lengths;
    uint32_t count;
    uint32_t limit;
    size_t start;
    size_t end;
  };
  Slots OpenRun() const;
  // Copies the run (growing the buffer first if needed) and takes the records noted in `slots`.
  void AddRun(Napi::Env env, const Slots& slots, const void* data, size_t bytes, uint16_t source);
  // After libbpf returns: grows the buffer for a record that did not fit and stores it.
  void Settle(Napi::Env env);
  void Clear();
  // Makes room for `bytes` more before a drain that cannot stop to grow the buffer.
  void Reserve(Napi::Env env, size_t bytes);
  bool Full() const { return count_ >= maxEvents_ || used_ >= maxBytes_; }

  uint32_t Count() const { return count_; }
  size_t Bytes() const;
  // The JS side of the batch: buffer (replaced when it grows), offsets, lengths, sources.
  Napi::Object Views(Napi::Env env) const;
  // The current buffer, handed to JS with each batch.
  Napi::ArrayBuffer Buffer() const { return buffer_.Value(); }

 private:
  void Grow(Napi::Env env, size_t needed);

  Napi::Reference<Napi::ArrayBuffer> buffer_;
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  Napi::Reference<Napi::Uint32Array> offsets_;
  Napi::Reference<Napi::Uint32Array> lengths_;
  Napi::Reference<Napi::Uint16Array> sources_;
  uint32_t* offsetsData_;
  uint32_t* lengthsData_;
  uint16_t* sourcesData_;
  uint32_t count_ = 0;
  uint32_t maxEvents_;
  uint32_t hardEvents_;
  size_t maxBytes_;
  std::vector<uint8_t> overflow_;  // a record that did not fit, stored once the buffer has grown
  uint16_t overflowSource_ = 0;
};

}  // namespace bpfkit
