// EventBatch: the records one drain of a ring or perf buffer hands to JS, copied (8-byte aligned) into one
// reused ArrayBuffer, with their offsets, lengths and sources (map index, or CPU for perf buffers) in
// reused arrays.
#include "batch.h"

#include <algorithm>
#include <cstring>

namespace bpfkit {

namespace {

constexpr size_t kAlign = 8;

size_t Align(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

template <typename Array, typename T>
T* Persist(Napi::Reference<Array>* ref, Array array) {
  *ref = Napi::Persistent(array);
  return array.Data();
}

}  // namespace

EventBatch::EventBatch(Napi::Env env, uint32_t maxEvents, uint32_t hardEvents, size_t maxBytes)
    : maxEvents_(maxEvents), hardEvents_(hardEvents), maxBytes_(maxBytes) {
  Allocate(env);
}

void EventBatch::Allocate(Napi::Env env) {
  capacity_ = 0;
  Grow(env, 2 * maxBytes_);
  offsetsData_ = Persist<Napi::Uint32Array, uint32_t>(&offsets_, Napi::Uint32Array::New(env, hardEvents_));
  lengthsData_ = Persist<Napi::Uint32Array, uint32_t>(&lengths_, Napi::Uint32Array::New(env, hardEvents_));
  sourcesData_ = Persist<Napi::Uint16Array, uint16_t>(&sources_, Napi::Uint16Array::New(env, hardEvents_));
}

void EventBatch::Revive(Napi::Env env) {
  if (!buffer_.Value().IsDetached() && !offsets_.Value().ArrayBuffer().IsDetached() &&
      !lengths_.Value().ArrayBuffer().IsDetached() && !sources_.Value().ArrayBuffer().IsDetached()) {
    return;
  }
  // Emptied first: Grow would copy what the batch held out of the freed buffer.
  Clear();
  Allocate(env);
}

void EventBatch::Reserve(Napi::Env env, size_t bytes) {
  if (Align(used_) + bytes > capacity_) Grow(env, Align(used_) + bytes);
}

void EventBatch::Grow(Napi::Env env, size_t needed) {
  size_t capacity = capacity_ == 0 ? needed : capacity_;
  while (capacity < needed) capacity *= 2;
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, capacity);
  if (used_ > 0) std::memcpy(buffer.Data(), data_, used_);
  buffer_ = Napi::Persistent(buffer);
  data_ = static_cast<uint8_t*>(buffer.Data());
  capacity_ = capacity;
}

bool EventBatch::Store(const void* data, size_t size, uint16_t source) {
  size_t offset = Align(used_);
  if (count_ >= hardEvents_ || (offset + size > capacity_ && !overflow_.empty())) return false;  // sized never to happen
  if (offset + size > capacity_) {
    overflow_.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
    overflowSource_ = source;
    return false;
  }
  std::memcpy(data_ + offset, data, size);
  offsetsData_[count_] = static_cast<uint32_t>(offset);
  lengthsData_[count_] = static_cast<uint32_t>(size);
  sourcesData_[count_] = source;
  count_++;
  used_ = offset + size;
  return !Full();
}

EventBatch::Slots EventBatch::Open() const {
  return {data_, capacity_, used_, maxBytes_, offsetsData_, lengthsData_, sourcesData_, count_, std::min(maxEvents_, hardEvents_)};
}

void EventBatch::Close(const Slots& slots) {
  count_ = slots.count;
  used_ = slots.used;
}

void EventBatch::Settle(Napi::Env env) {
  if (overflow_.empty()) return;
  Grow(env, Align(used_) + overflow_.size());
  Store(overflow_.data(), overflow_.size(), overflowSource_);
  overflow_.clear();
}

void EventBatch::Clear() {
  count_ = 0;
  used_ = 0;
  overflow_.clear();
}

size_t EventBatch::Bytes() const {
  size_t bytes = 0;
  for (uint32_t i = 0; i < count_; i++) bytes += lengthsData_[i];
  return bytes;
}

Napi::Object EventBatch::Views(Napi::Env env) const {
  Napi::Object views = Napi::Object::New(env);
  views.Set("buffer", buffer_.Value());
  views.Set("offsets", offsets_.Value());
  views.Set("lengths", lengths_.Value());
  views.Set("sources", sources_.Value());
  return views;
}

}  // namespace bpfkit
