// BpfObject: one libbpf bpf_object from open to close, with load() off the JS thread.
#include "object.h"

#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "errors.h"

namespace bpfkit {

namespace {

// Each program's verifier log buffer (bpf_program__set_log_buf): libbpf loads without a log first and,
// when the kernel refuses a program, loads it again with one. The kernel keeps a log's tail when it is
// longer. The memory is reserved, not touched: pages exist only where the kernel writes.
constexpr size_t kLogBytes = 16 << 20;

struct bpf_object* Open(const std::string& path, const std::vector<uint8_t>& bytes, const std::string& objectName,
                        const std::string& btfCustomPath, const std::string& pinRoot, uint32_t kernelLogLevel, int* err) {
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!objectName.empty()) opts.object_name = objectName.c_str();
  if (!btfCustomPath.empty()) opts.btf_custom_path = btfCustomPath.c_str();
  if (!pinRoot.empty()) opts.pin_root_path = pinRoot.c_str();
  opts.kernel_log_level = kernelLogLevel;
  struct bpf_object* object = path.empty() ? bpf_object__open_mem(bytes.data(), bytes.size(), &opts)
                                           : bpf_object__open_file(path.c_str(), &opts);
  *err = object == nullptr ? errno : 0;
  return object;
}

class LoadWorker : public Napi::AsyncWorker {
 public:
  LoadWorker(Napi::Env env, ObjectHandle* handle)
      : Napi::AsyncWorker(env, "bpfkit:load"), handle_(handle), deferred_(Napi::Promise::Deferred::New(env)) {
    keepAlive_ = Napi::Persistent(handle->Value());
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override { handle_->LoadInBackground(&err_, &lines_); }

  void OnOK() override {
    try {
      handle_->FinishLoad(Env(), err_, lines_, deferred_);
    } catch (const Napi::Error& e) {
      try {
        deferred_.Reject(e.Value());
      } catch (const Napi::Error&) {
        // The environment is being torn down (a worker exiting mid-load): JS cannot run any more,
        // close() has already released the object, and nobody is left to tell.
      }
    }
  }

 private:
  ObjectHandle* handle_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keepAlive_;
  int err_ = 0;
  std::vector<LogLine> lines_;
};

size_t MappedSize(size_t size) {
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (size + page - 1) / page * page;
}

}  // namespace

Napi::Function ObjectHandle::Init(Napi::Env env) {
  return DefineClass(env, "BpfObjectHandle", {
      InstanceAccessor<&ObjectHandle::Name>("name"),
      InstanceAccessor<&ObjectHandle::GetState>("state"),
      InstanceMethod<&ObjectHandle::Programs>("programs"),
      InstanceMethod<&ObjectHandle::Maps>("maps"),
      InstanceMethod<&ObjectHandle::Btf>("btf"),
      InstanceMethod<&ObjectHandle::Load>("load"),
      InstanceMethod<&ObjectHandle::Close>("close"),
  });
}

// new BpfObjectHandle(pathOrBytes, { objectName, btfCustomPath, pinRoot, kernelLogLevel, logLevel, logger })
ObjectHandle::ObjectHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<ObjectHandle>(info), addon_(Addon::Of(info.Env())), logLevel_(addon_->logLevel) {
  Napi::Env env = info.Env();
  std::string path;
  if (info[0].IsString()) {
    path = info[0].As<Napi::String>().Utf8Value();
  } else if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto data = info[0].As<Napi::Uint8Array>();
    bytes_.assign(data.Data(), data.Data() + data.ElementLength());
  } else {
    throw BpfError(env, "bpf_object__open", "EINVAL", "expected a path or a Uint8Array");
  }
  Napi::Object options = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  auto text = [&](const char* key) {
    Napi::Value value = options.Get(key);
    return value.IsString() ? value.As<Napi::String>().Utf8Value() : std::string();
  };
  Napi::Value kernelLogLevel = options.Get("kernelLogLevel");
  Napi::Value logLevel = options.Get("logLevel");
  Napi::Value logger = options.Get("logger");
  if (logLevel.IsNumber()) logLevel_ = logLevel.As<Napi::Number>().Int32Value();
  if (logger.IsFunction()) logger_ = Napi::Persistent(logger.As<Napi::Function>());

  int err = 0;
  std::vector<LogLine> lines = Captured(logLevel_, [&] {
    object_ = Open(path, bytes_, text("objectName"), text("btfCustomPath"), text("pinRoot"),
                   kernelLogLevel.IsNumber() ? kernelLogLevel.As<Napi::Number>().Uint32Value() : 0, &err);
  });
  if (object_ == nullptr) {
    Deliver(env, lines);
    throw BpfError(env, path.empty() ? "bpf_object__open_mem" : "bpf_object__open_file", err,
                   path.empty() ? std::string() : path);
  }
  addon_->Track(this);
  try {
    Deliver(env, lines);
  } catch (...) {
    Release();
    throw;
  }
}

ObjectHandle::~ObjectHandle() {
  Release();
}

void ObjectHandle::Release() {
  if (state_ == State::Loading) {
    std::unique_lock<std::mutex> lock(loadMutex_);
    loadCancelled_ = true;
    loadDone_.wait(lock, [this] { return !loadRunning_; });
  }
  for (auto& [map, region] : mapped_) {
    if (region.data != nullptr) munmap(region.data, MappedSize(region.size));
  }
  mapped_.clear();
  if (object_ != nullptr) {
    bpf_object__close(object_);
    object_ = nullptr;
    bytes_.clear();
    addon_->Untrack(this);
  }
  state_ = State::Closed;
}

ObjectHandle::Region ObjectHandle::GlobalRegion(Napi::Env env, struct bpf_map* map, const char* op) {
  Require(env, op, Need::Open);
  size_t size = bpf_map__value_size(map);
  if (state_ == State::Opened) {
    size_t initial = 0;
    void* data = bpf_map__initial_value(map, &initial);
    if (data == nullptr) throw BpfError(env, op, "EINVAL", std::string("map '") + bpf_map__name(map) + "' has no data");
    return {static_cast<uint8_t*>(data), initial, true};
  }
  for (auto& [mapped, region] : mapped_) {
    if (mapped == map) return region;
  }
  bool writable = (bpf_map__map_flags(map) & BPF_F_RDONLY_PROG) == 0;
  Region region = {nullptr, size, writable};
  if ((bpf_map__map_flags(map) & BPF_F_MMAPABLE) != 0) {
    void* data = mmap(nullptr, MappedSize(size), writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
                      bpf_map__fd(map), 0);
    if (data == MAP_FAILED) throw BpfError(env, "mmap", errno, bpf_map__name(map));
    region.data = static_cast<uint8_t*>(data);
  }
  mapped_.emplace_back(map, region);
  return region;
}

void ObjectHandle::LoadInBackground(int* err, std::vector<LogLine>* lines) {
  {
    std::lock_guard<std::mutex> lock(loadMutex_);
    if (loadCancelled_) return;
    loadRunning_ = true;
  }
  {
    LogCapture capture(logLevel_);
    *err = -bpf_object__load(object_);
    *lines = std::move(capture.lines);
  }
  std::lock_guard<std::mutex> lock(loadMutex_);
  loadRunning_ = false;
  loadDone_.notify_all();
}

void ObjectHandle::Require(Napi::Env env, const char* op, Need need) const {
  switch (state_) {
    case State::Closed:
      throw BpfError(env, op, "ECLOSED", "the object is closed");
    case State::Loading:
      throw BpfError(env, op, "EBUSY", "the object is being loaded");
    case State::Failed:
      throw BpfError(env, op, "EBADSTATE", "load() failed; close() the object and open it again");
    case State::Opened:
      if (need == Need::Loaded) throw BpfError(env, op, "EBADSTATE", "the object is not loaded yet: call load() first");
      return;
    case State::Loaded:
      if (need == Need::BeforeLoad) throw BpfError(env, op, "EBADSTATE", "only possible before load()");
      return;
  }
}

Napi::Value ObjectHandle::Name(const Napi::CallbackInfo& info) {
  Require(info.Env(), "bpf_object__name", Need::Open);
  return Napi::String::New(info.Env(), bpf_object__name(object_));
}

Napi::Value ObjectHandle::GetState(const Napi::CallbackInfo& info) {
  static const char* const names[] = {"opened", "loading", "loaded", "failed", "closed"};
  return Napi::String::New(info.Env(), names[static_cast<int>(state_)]);
}

Napi::Value ObjectHandle::Programs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Require(env, "bpf_object__for_each_program", Need::Open);
  Napi::Array result = Napi::Array::New(env);
  struct bpf_program* program;
  uint32_t i = 0;
  bpf_object__for_each_program(program, object_) {
    result.Set(i++, addon_->programClass.New({Value(), Napi::External<struct bpf_program>::New(env, program)}));
  }
  return result;
}

Napi::Value ObjectHandle::Maps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Require(env, "bpf_object__for_each_map", Need::Open);
  Napi::Array result = Napi::Array::New(env);
  struct bpf_map* map;
  uint32_t i = 0;
  bpf_object__for_each_map(map, object_) {
    result.Set(i++, addon_->mapClass.New({Value(), Napi::External<struct bpf_map>::New(env, map)}));
  }
  return result;
}

// btf() → the object's BtfHandle (valid while the object is open), or null when it has no BTF.
Napi::Value ObjectHandle::Btf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Require(env, "bpf_object__btf", Need::Open);
  struct btf* btf = bpf_object__btf(object_);
  if (btf == nullptr) return env.Null();
  return addon_->btfClass.New({Value(), Napi::External<struct btf>::New(env, btf)});
}

Napi::Value ObjectHandle::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Require(env, "bpf_object__load", Need::BeforeLoad);
  struct bpf_program* program;
  bpf_object__for_each_program(program, object_) {
    size_t size = 0;
    if (!bpf_program__autoload(program) || bpf_program__log_buf(program, &size) != nullptr) continue;
    std::unique_ptr<char[]> buffer(new char[kLogBytes]);
    buffer[0] = '\0';
    int err = -bpf_program__set_log_buf(program, buffer.get(), kLogBytes);
    if (err != 0) throw BpfError(env, "bpf_program__set_log_buf", err, bpf_program__name(program));
    logs_.push_back(std::move(buffer));
  }
  state_ = State::Loading;
  auto* worker = new LoadWorker(env, this);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

const char* ObjectHandle::ProgramLog(struct bpf_program* program) const {
  size_t size = 0;
  return bpf_program__log_buf(program, &size);
}

// A failed load rejects with bpf_object__load's error; what libbpf warned about on the way (which map or
// program failed, and why) goes with it as `libbpfMessages`, and the verifier's logs by program as
// `verifierLogs`, for lib/object.ts to say whose fault it is.
void ObjectHandle::FinishLoad(Napi::Env env, int err, const std::vector<LogLine>& lines,
                              Napi::Promise::Deferred deferred) {
  if (state_ == State::Closed) {
    deferred.Reject(BpfError(env, "bpf_object__load", "ECLOSED", "the object was closed during load()").Value());
    return;
  }
  state_ = err == 0 ? State::Loaded : State::Failed;
  try {
    addon_->Deliver(env, lines, logger_);
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
    return;
  }
  if (err == 0) {
    deferred.Resolve(env.Undefined());
    return;
  }
  Napi::Array messages = Napi::Array::New(env);
  uint32_t count = 0;
  for (const LogLine& line : lines) {
    if (line.level == LIBBPF_WARN) messages.Set(count++, line.text);
  }
  // The verifier's logs: after a failed load the object takes no more calls.
  Napi::Object logs = Napi::Object::New(env);
  struct bpf_program* program;
  bpf_object__for_each_program(program, object_) {
    const char* log = ProgramLog(program);
    if (log != nullptr && log[0] != '\0') logs.Set(bpf_program__name(program), log);
  }
  Napi::Object error = BpfError(env, "bpf_object__load", err).Value().As<Napi::Object>();
  error.DefineProperty(Napi::PropertyDescriptor::Value("libbpfMessages", messages, napi_default));
  error.DefineProperty(Napi::PropertyDescriptor::Value("verifierLogs", logs, napi_default));
  deferred.Reject(error);
}

Napi::Value ObjectHandle::Close(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

}  // namespace bpfkit
