// EventBatch: the records one drain of a ring or perf buffer hands to JS, copied back to back (8-byte
// aligned) into one reused ArrayBuffer, with their offsets, lengths and sources in reused arrays.
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
