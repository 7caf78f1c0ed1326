// PerfBuffer: libbpf perf_buffer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY (one ring per CPU), drained on
// the JS thread in batches, each record with its CPU, and lost samples counted per CPU.
#include "perf_buffer.h"

#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"
#include "map.h"

namespace bpfkit {

namespace {

constexpr uint32_t kMaxPages = 1u << 16;
// The smallest perf sample record: an 8-byte header, a 4-byte size and 4 bytes of padded data.
constexpr size_t kMinRecord = 16;

}  // namespace

Napi::Function PerfBufferHandle::Init(Napi::Env env) {
  return DefineClass(env, "PerfBufferHandle", Methods<PerfBufferHandle>());
}

PerfBufferHandle::PerfBufferHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<PerfBufferHandle>(info), EventReader(info.Env(), "perf_buffer") {
  Napi::Env env = info.Env();
  const char* op = "perf_buffer__new";
  MapHandle* map = MapHandle::From(env, info[0]);
  if (map == nullptr || !info[1].IsObject()) throw BpfError(env, op, "EINVAL", "expected (map, options)");
  Napi::Object options = info[1].As<Napi::Object>();
  uint32_t pages = options.Get("pages").ToNumber().Uint32Value();
  if (pages == 0 || (pages & (pages - 1)) != 0 || pages > kMaxPages) {
    throw BpfError(env, op, "EINVAL", "pages must be a power of 2");
  }
  BatchSizes batch = ReadBatchSizes(env, op, options);
  int fd = map->LoadedFd(env, op);
  Claim(env, op, fd, map->NameOf());

  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] {
    perf_ = perf_buffer__new(fd, pages, OnSample, OnLost, this, nullptr);
    err = perf_ == nullptr ? errno : 0;
  });
  if (err != 0) {
    addon_->Deliver(env, lines, Napi::FunctionReference());
    throw BpfError(env, op, err);
  }
  bufferBytes_ = static_cast<size_t>(pages) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  int cpus = libbpf_num_possible_cpus();
  lost_.assign(cpus > 0 ? static_cast<size_t>(cpus) : 1, 0);
  // A whole CPU buffer is drained at once: room for as many records as one can hold past a full batch.
  Start(env, perf_buffer__epoll_fd(perf_), Readiness::kOnce, batch.events,
        batch.events + static_cast<uint32_t>(bufferBytes_ / kMinRecord), batch.bytes);
  try {
    addon_->Deliver(env, lines, Napi::FunctionReference());
  } catch (...) {
    Release();
    throw;
  }
}

PerfBufferHandle::~PerfBufferHandle() {
  Release();
  Free();  // when Start never ran
}

void PerfBufferHandle::Free() {
  if (perf_ == nullptr) return;
  perf_buffer__free(perf_);
  perf_ = nullptr;
}

// A record's source is the CPU whose ring it came from.
void PerfBufferHandle::OnSample(void* context, int cpu, void* data, __u32 size) {
  static_cast<PerfBufferHandle*>(context)->batch_->Store(data, size, static_cast<uint16_t>(cpu));
}

void PerfBufferHandle::OnLost(void* context, int cpu, __u64 count) {
  auto* self = static_cast<PerfBufferHandle*>(context);
  if (cpu >= 0 && static_cast<size_t>(cpu) < self->lost_.size()) self->lost_[cpu] += count;
}

int PerfBufferHandle::Consume() {
  Napi::Env env = Env();
  size_t buffers = perf_buffer__buffer_cnt(perf_);
  size_t first = nextBuffer_;
  nextBuffer_ = buffers == 0 ? 0 : (nextBuffer_ + 1) % buffers;
  for (size_t k = 0; k < buffers && !batch_->Full(); k++) {
    batch_->Reserve(env, bufferBytes_);  // the callback cannot stop to grow the batch
    int err = perf_buffer__consume_buffer(perf_, (first + k) % buffers);
    if (err < 0 && err != -ENOENT) return err;
  }
  return 0;
}

void PerfBufferHandle::AddStats(Napi::Object stats) {
  Napi::Env env = stats.Env();
  Napi::Array lost = Napi::Array::New(env, lost_.size());
  for (size_t cpu = 0; cpu < lost_.size(); cpu++) lost.Set(static_cast<uint32_t>(cpu), static_cast<double>(lost_[cpu]));
  stats.Set("lost", lost);
}

}  // namespace bpfkit
