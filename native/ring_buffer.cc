// RingBuffer: one or more BPF ring buffer maps, mmap()ed and drained on the JS thread in batches by our
// own consumer loop.
//
// Why not libbpf's ring_buffer: its consumer calls a function for each record and publishes the
// consumer position after each one. Our loop copies each record straight into the batch and publishes
// the position once per drain, which drains 32-byte records about 1.5 times as fast (bench/ringbuf and
// the report of issue 14; copying whole runs of records at once was slower for large records). The
// format is the kernel's UAPI (linux/bpf.h: BPF_RINGBUF_HDR_SZ, the BUSY and DISCARD bits), as libbpf
// and cilium/ebpf read it.
#include "ring_buffer.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"
#include "map.h"

namespace bpfkit {

namespace {

constexpr size_t kMaxMaps = 1024;

uint32_t RecordBytes(uint32_t length) { return (length + BPF_RINGBUF_HDR_SZ + 7) & ~7u; }

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
  BatchSizes batch = ReadBatchSizes(env, op, info[1].As<Napi::Object>());
  std::vector<std::pair<int, std::string>> fds;
  for (uint32_t i = 0; i < maps.Length(); i++) {
    MapHandle* map = MapHandle::From(env, maps.Get(i));
    if (map == nullptr) throw BpfError(env, op, "EINVAL", "expected BpfMap handles");
    fds.emplace_back(map->LoadedFd(env, op), map->NameOf());
  }
  for (auto& [fd, name] : fds) Claim(env, op, fd, name);
  pageSize_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  epollFd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epollFd_ < 0) throw BpfError(env, "epoll_create1", errno);
  try {
    for (auto& [fd, name] : fds) Map(env, fd, name);
  } catch (...) {
    Free();
    throw;
  }
  Start(env, epollFd_, Readiness::kRewatch, batch.events, batch.events, batch.bytes);
}

RingBufferHandle::~RingBufferHandle() {
  Release();
  Free();  // when Start never ran
}

void RingBufferHandle::Map(Napi::Env env, int fd, const std::string& name) {
  struct bpf_map_info info = {};
  uint32_t length = sizeof(info);
  if (bpf_map_get_info_by_fd(fd, &info, &length) != 0) throw BpfError(env, "bpf_map_get_info_by_fd", errno, name);
  if (info.type != BPF_MAP_TYPE_RINGBUF) throw BpfError(env, "ring_buffer__new", "EINVAL", name + " is not a ring buffer map");
  Ring ring;
  void* consumer = mmap(nullptr, pageSize_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (consumer == MAP_FAILED) throw BpfError(env, "mmap", errno, name + " (consumer page)");
  ring.consumer = static_cast<unsigned long*>(consumer);
  ring.mappedBytes = pageSize_ + 2 * static_cast<size_t>(info.max_entries);
  void* producer = mmap(nullptr, ring.mappedBytes, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(pageSize_));
  if (producer == MAP_FAILED) {
    int err = errno;
    munmap(consumer, pageSize_);
    throw BpfError(env, "mmap", err, name + " (data pages)");
  }
  ring.producer = static_cast<unsigned long*>(producer);
  ring.data = static_cast<const uint8_t*>(producer) + pageSize_;
  ring.mask = info.max_entries - 1;
  rings_.push_back(ring);
  // Edge-triggered: readable once per kernel wakeup, not whenever a record waits. Level-triggered, a
  // reader under a steady producer was readable on every loop turn, drained a few dozen records each
  // time and kept its CPU busy, whatever wakeup policy the programs followed.
  struct epoll_event event = {};
  event.events = EPOLLIN | EPOLLET;
  event.data.u32 = static_cast<uint32_t>(rings_.size() - 1);
  if (epoll_ctl(epollFd_, EPOLL_CTL_ADD, fd, &event) != 0) throw BpfError(env, "epoll_ctl", errno, name);
}

void RingBufferHandle::Free() {
  for (Ring& ring : rings_) {
    munmap(ring.consumer, pageSize_);
    munmap(ring.producer, ring.mappedBytes);
  }
  rings_.clear();
  if (epollFd_ >= 0) close(epollFd_);
  epollFd_ = -1;
}

bool RingBufferHandle::ConsumeRing(Napi::Env env, Ring& ring, uint16_t index) {
  unsigned long start = __atomic_load_n(ring.consumer, __ATOMIC_ACQUIRE);
  unsigned long producer = __atomic_load_n(ring.producer, __ATOMIC_ACQUIRE);
  unsigned long position = start;
  EventBatch::Slots slots = batch_->Open();
  while (position < producer && slots.Room()) {
    const uint8_t* record = ring.data + (position & ring.mask);
    uint32_t header = __atomic_load_n(reinterpret_cast<const uint32_t*>(record), __ATOMIC_ACQUIRE);
    if ((header & BPF_RINGBUF_BUSY_BIT) != 0) break;  // not committed yet: the rest waits for the next drain
    uint32_t length = header & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
    if ((header & BPF_RINGBUF_DISCARD_BIT) == 0) {
      if (!slots.Fits(length)) {
        batch_->Close(slots);
        batch_->Reserve(env, length);
        slots = batch_->Open();
      }
      // The data pages are mapped twice in a row: a record that wraps around the ring is contiguous.
      slots.Append(record + BPF_RINGBUF_HDR_SZ, length, index);
    }
    position += RecordBytes(length);
  }
  batch_->Close(slots);
  if (position != start) __atomic_store_n(ring.consumer, position, __ATOMIC_RELEASE);
  return slots.Room();
}

bool RingBufferHandle::Unannounced(const Ring& ring) const {
  // The kernel wakes the reader when it commits a record at the consumer position it reads (or when a
  // program forces it). A record committed just before our store of the position saw the old one and
  // woke no one: look again once the store is visible (the kernel orders its commit before its read in
  // the same way). A latency timer drains it anyway.
  if (Timed()) return false;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  unsigned long consumer = __atomic_load_n(ring.consumer, __ATOMIC_RELAXED);
  unsigned long producer = __atomic_load_n(ring.producer, __ATOMIC_ACQUIRE);
  if (consumer >= producer) return false;
  uint32_t header = __atomic_load_n(reinterpret_cast<const uint32_t*>(ring.data + (consumer & ring.mask)), __ATOMIC_ACQUIRE);
  return (header & BPF_RINGBUF_BUSY_BIT) == 0;
}

// Bytes the programs have committed or reserved in ring `index` and the reader has not consumed yet,
// record headers included (what libbpf's ring__avail_data_size says).
Napi::Value RingBufferHandle::AvailableBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "ring__avail_data_size";
  if (rings_.empty()) throw BpfError(env, op, "ECLOSED", "the reader is closed");
  if (!info[0].IsNumber()) throw BpfError(env, op, "EINVAL", "expected a ring index");
  uint32_t index = info[0].As<Napi::Number>().Uint32Value();
  if (index >= rings_.size()) throw BpfError(env, op, "EINVAL", "no such ring");
  const Ring& ring = rings_[index];
  unsigned long consumer = __atomic_load_n(ring.consumer, __ATOMIC_ACQUIRE);
  unsigned long producer = __atomic_load_n(ring.producer, __ATOMIC_ACQUIRE);
  return Napi::Number::New(env, static_cast<double>(producer - consumer));
}

int RingBufferHandle::Consume() {
  Napi::Env env = Env();
  // Takes the wakeups that brought us here before reading the rings: one that comes later announces
  // itself again. (Bounded: rings that keep waking us cannot hold the drain here.)
  struct epoll_event ready[16];
  for (size_t k = 0; k <= rings_.size() / 16 && epoll_wait(epollFd_, ready, 16, 0) == 16; k++) {
  }
  size_t count = rings_.size();
  size_t first = nextRing_;
  nextRing_ = (nextRing_ + 1) % count;
  for (size_t k = 0; k < count; k++) {
    size_t index = (first + k) % count;
    // A full batch: the next drain, in the next loop turn, reads on (from the next ring in turn).
    if (!ConsumeRing(env, rings_[index], static_cast<uint16_t>(index))) return 1;
  }
  for (const Ring& ring : rings_) {
    if (Unannounced(ring)) return 1;
  }
  return 0;
}

}  // namespace bpfkit
