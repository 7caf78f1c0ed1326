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

constexpr size_t kMaxMaps = 1024;

}  // namespace

Napi::Function RingBufferHandle::Init(Napi::Env env) {
  auto methods = Methods<RingBufferHandle>();
  methods.push_back(InstanceMethod("availableBytes", &RingBufferHandle::AvailableBytes));
  return DefineClass(env, "RingBufferHandle", methods);
}

RingBufferHandle::RingBufferHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<RingBufferHandle>(info), EventReader(info.Env(), "ring_buffer") {
  Napi::Env env = info.Env();
  const char* op = "ring_buffer__new";
  if (!info[0].IsArray() || info[0].As<Napi::Array>().Length() == 0 ||
      info[0].As<Napi::Array>().Length() > kMaxMaps || !info[1].IsObject()) {
    throw BpfError(env, op, "EINVAL", "expected (maps[], options)");
  }
  Napi::Array maps = info[0].As<Napi::Array>();
  Napi::Object options = info[1].As<Napi::Object>();
  BatchSizes batch = ReadBatchSizes(env, op, options);

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
  Start(env, ring_buffer__epoll_fd(ring_), batch.events, batch.events, batch.bytes);
  try {
    addon_->Deliver(env, lines, Napi::FunctionReference());
  } catch (...) {
    Release();
    throw;
  }
}

RingBufferHandle::~RingBufferHandle() {
  Release();
  Free();  // when Start never ran
}

void RingBufferHandle::Free() {
  if (ring_ == nullptr) return;
  ring_buffer__free(ring_);
  ring_ = nullptr;
}

// Bytes the programs have committed or reserved in ring `index` and the reader has not consumed yet,
// record headers included (ring__avail_data_size).
Napi::Value RingBufferHandle::AvailableBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "ring__avail_data_size";
  if (ring_ == nullptr) throw BpfError(env, op, "ECLOSED", "the reader is closed");
  if (!info[0].IsNumber()) throw BpfError(env, op, "EINVAL", "expected a ring index");
  uint32_t index = info[0].As<Napi::Number>().Uint32Value();
  if (index >= sources_.size()) throw BpfError(env, op, "EINVAL", "no such ring");
  return Napi::Number::New(env, static_cast<double>(ring__avail_data_size(ring_buffer__ring(ring_, index))));
}

int RingBufferHandle::OnSample(void* context, void* data, size_t size) {
  auto* source = static_cast<Source*>(context);
  return source->self->batch_->Store(data, size, source->index) ? 0 : kBatchFull;
}

int RingBufferHandle::Consume() {
  int result;
#if BPFKIT_HAVE_RING_CONSUME
  size_t rings = sources_.size();
  size_t first = nextRing_;
  nextRing_ = (nextRing_ + 1) % rings;
  result = 0;
  for (size_t k = 0; k < rings && result >= 0; k++) {
    result = ring__consume(ring_buffer__ring(ring_, static_cast<unsigned int>((first + k) % rings)));
  }
#else
  result = ring_buffer__consume(ring_);
#endif
  return result == kBatchFull || result > 0 ? 0 : result;
}

}  // namespace bpfkit
