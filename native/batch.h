// EventBatch: the records one drain of a ring or perf buffer hands to JS, copied (8-byte aligned) into one
// reused ArrayBuffer, with their offsets, lengths and sources (map index, or CPU for perf buffers) in
// reused arrays.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
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
  // Records copied by a consumer loop of our own (ring buffers), with no callback per record: the
  // loop takes Slots, appends with Slots::Append while Slots::Room, and hands them back with Close.
  // Plain pointers and locals, so that the compiler keeps them in registers across the stores.
  static constexpr uint32_t kInlineCopy = 64;
  struct Slots {
    uint8_t* data;
    size_t capacity;
    size_t used;
    size_t maxBytes;
    uint32_t* offsets;
    uint32_t* lengths;
    uint16_t* sources;
    uint32_t count;
    uint32_t limit;

    bool Room() const { return count < limit && used < maxBytes; }
    // Whether a record of `length` bytes (padded to 8) fits the buffer as it is (else Close, Reserve,
    // Open again).
    bool Fits(uint32_t length) const { return ((used + 7) & ~static_cast<size_t>(7)) + ((length + 7) & ~7u) <= capacity; }
    // Copies a record whose source is readable up to its length rounded up to 8 (as ring records are).
    void Append(const uint8_t* record, uint32_t length, uint16_t source) {
      size_t offset = (used + 7) & ~static_cast<size_t>(7);
      if (length <= kInlineCopy) {
        // Small records by 8-byte words, inline: a call to memcpy per record costs more than the copy.
        for (uint32_t k = 0; k < length; k += 8) {
          uint64_t word;
          std::memcpy(&word, record + k, 8);
          std::memcpy(data + offset + k, &word, 8);
        }
      } else {
        std::memcpy(data + offset, record, length);
      }
      offsets[count] = static_cast<uint32_t>(offset);
      lengths[count] = length;
      sources[count] = source;
      count++;
      used = offset + length;
    }
  };
  Slots Open() const;
  void Close(const Slots& slots);

  // After libbpf returns: grows the buffer for a record that did not fit and stores it.
  void Settle(Napi::Env env);
  void Clear();
  // JS can transfer a batch's buffers away (structuredClone, postMessage), and V8 then frees the
  // memory this batch writes into: before a drain writes, makes them all anew when one is detached
  // (JS sees the new buffer with the next batch and reads Views again).
  void Revive(Napi::Env env);
  // Makes room for `bytes` more: before a drain that cannot stop to grow the buffer, or for a record
  // that does not fit (then Open again: the buffer moved).
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
  // A new buffer (2 × maxBytes) and per-event arrays.
  void Allocate(Napi::Env env);

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
