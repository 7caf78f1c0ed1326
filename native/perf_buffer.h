// PerfBuffer: libbpf perf_buffer over a BPF_MAP_TYPE_PERF_EVENT_ARRAY (one ring per CPU), drained on
// the JS thread in batches, each record with its CPU, and lost samples counted per CPU.
#pragma once

#include <linux/types.h>
#include <napi.h>

#include <cstdint>
#include <vector>

#include "reader.h"

struct perf_buffer;

namespace bpfkit {

class PerfBufferHandle : public Napi::ObjectWrap<PerfBufferHandle>, public EventReader {
 public:
  static Napi::Function Init(Napi::Env env);
  // new PerfBufferHandle(map: BpfMapHandle, { pages, batchEvents, batchBytes }); created paused.
  explicit PerfBufferHandle(const Napi::CallbackInfo& info);
  ~PerfBufferHandle() override;

 private:
  static void OnSample(void* context, int cpu, void* data, __u32 size);
  static void OnLost(void* context, int cpu, __u64 count);
  // One CPU's buffer at a time (libbpf cannot stop inside one), starting after the one the last drain
  // started with, until the batch is full.
  int Consume() override;
  void Free() override;
  void AddStats(Napi::Object stats) override;
  Napi::Object Self() override { return Value(); }
  void Hold(bool hold) override { hold ? Ref() : Unref(); }

  struct perf_buffer* perf_ = nullptr;
  size_t bufferBytes_ = 0;
  size_t nextBuffer_ = 0;
  std::vector<uint64_t> lost_;  // per CPU
};

}  // namespace bpfkit
