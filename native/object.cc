// BpfObject: one libbpf bpf_object from open to close, with load() off the JS thread.
#include "object.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "errors.h"
#include "map.h"

namespace bpfkit {

namespace {

// Each program's verifier log buffer (bpf_program__set_log_buf): libbpf loads without a log first and,
// when the kernel refuses a program, loads it again with one. The kernel keeps a log's tail when it is
// longer. The memory is reserved, not touched: pages exist only where the kernel writes (object.h).
constexpr size_t kLogBytes = 16 << 20;

// Reads an object file into `bytes`. Only a regular file: a FIFO or a device would block the JS thread
// (forever, for a FIFO with no writer). Returns 0, or an errno with `why` saying what is wrong.
int ReadObject(const std::string& path, double limit, std::vector<uint8_t>* bytes, std::string* why) {
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return errno;
  struct stat st = {};
  int err = fstat(fd, &st) == 0 ? 0 : errno;
  if (err == 0 && !S_ISREG(st.st_mode)) {
    err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    *why = S_ISDIR(st.st_mode) ? "a directory" : S_ISFIFO(st.st_mode) ? "a FIFO, not a regular file"
           : S_ISSOCK(st.st_mode) ? "a socket, not a regular file" : "a device, not a regular file";
  } else if (err == 0 && static_cast<double>(st.st_size) > limit) {
    err = E2BIG;
    *why = std::to_string(st.st_size) + " bytes, more than limits.objectBytes (" + std::to_string(static_cast<uint64_t>(limit)) + ")";
  }
  while (err == 0) {
    uint8_t chunk[65536];
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0) break;
    bytes->insert(bytes->end(), chunk, chunk + n);
    if (static_cast<double>(bytes->size()) > limit) {
      err = E2BIG;
      *why = "more than limits.objectBytes (" + std::to_string(static_cast<uint64_t>(limit)) + " bytes)";
    }
  }
  close(fd);
  return err;
}

// libbpf names an object opened from a file after the file, up to the first dot.
std::string ObjectNameOf(const std::string& path) {
  std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  return name.substr(0, name.find('.'));
}

// The merged BTF of extraBtf, in a memfd libbpf can open by path. Returns the fd, or -1 with errno set.
int BtfMemfd(const uint8_t* data, size_t size) {
  int fd = memfd_create("bpfkit-btf", MFD_CLOEXEC);
  if (fd < 0) return -1;
  for (size_t done = 0; done < size;) {
    ssize_t n = write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      close(fd);
      errno = err;
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

// libbpf 1.5 takes a map of type BPF_MAP_TYPE_STRUCT_OPS to come from a SEC(".struct_ops") variable and
// reads that section's data without checking: a map declared in SEC(".maps") with that type (a crafted
// object) crashes bpf_object__load and bpf_map__initial_value. Returns such a map's name, or null.
const char* StructOpsInMaps(struct bpf_object* object) {
  struct btf* btf = bpf_object__btf(object);
  int id = btf == nullptr ? -1 : btf__find_by_name_kind(btf, ".maps", BTF_KIND_DATASEC);
  if (id <= 0) return nullptr;
  const struct btf_type* datasec = btf__type_by_id(btf, id);
  const struct btf_var_secinfo* vars = btf_var_secinfos(datasec);
  for (uint16_t i = 0; i < btf_vlen(datasec); i++) {
    const struct btf_type* var = btf__type_by_id(btf, vars[i].type);
    const char* name = var == nullptr ? nullptr : btf__name_by_offset(btf, var->name_off);
    struct bpf_map* map = name == nullptr ? nullptr : bpf_object__find_map_by_name(object, name);
    if (map != nullptr && bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS) return bpf_map__name(map);
  }
  return nullptr;
}

struct bpf_object* Open(const std::vector<uint8_t>& bytes, const std::string& objectName,
                        const std::string& btfCustomPath, const std::string& pinRoot, uint32_t kernelLogLevel, int* err) {
  LIBBPF_OPTS(bpf_object_open_opts, opts);
  if (!objectName.empty()) opts.object_name = objectName.c_str();
  if (!btfCustomPath.empty()) opts.btf_custom_path = btfCustomPath.c_str();
  if (!pinRoot.empty()) opts.pin_root_path = pinRoot.c_str();
  opts.kernel_log_level = kernelLogLevel;
  struct bpf_object* object = bpf_object__open_mem(bytes.data(), bytes.size(), &opts);
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
      InstanceAccessor<&ObjectHandle::Delivering>("delivering"),
      InstanceMethod<&ObjectHandle::Programs>("programs"),
      InstanceMethod<&ObjectHandle::Maps>("maps"),
      InstanceMethod<&ObjectHandle::Btf>("btf"),
      InstanceMethod<&ObjectHandle::Load>("load"),
      InstanceMethod<&ObjectHandle::Close>("close"),
  });
}

// new BpfObjectHandle(pathOrBytes, { objectName, btfCustomPath, customBtf, pinRoot, objectBytes,
// kernelLogLevel, logLevel, logger }): a path is read into memory first (regular files only, at most objectBytes).
ObjectHandle::ObjectHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<ObjectHandle>(info), addon_(Addon::Of(info.Env())), logLevel_(addon_->logLevel) {
  Napi::Env env = info.Env();
  Napi::Object options = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  auto text = [&](const char* key) {
    Napi::Value value = options.Get(key);
    return value.IsString() ? StringArg(env, value, "bpf_object__open", key) : std::string();
  };
  std::string path;
  std::string objectName = text("objectName");
  if (info[0].IsString()) {
    path = StringArg(env, info[0], "bpf_object__open", "the path");
    Napi::Value limit = options.Get("objectBytes");
    std::string why;
    int err = ReadObject(path, limit.IsNumber() ? limit.As<Napi::Number>().DoubleValue() : 0, &bytes_, &why);
    if (err != 0 && why.empty()) throw BpfError(env, "bpf_object__open_file", err, path);
    if (err != 0) {
      throw BpfError(env, "bpf_object__open_file", err == E2BIG ? "E2BIG" : err == EISDIR ? "EISDIR" : "EINVAL",
                     path + " is " + why,
                     err == E2BIG ? "raise limits.objectBytes for an object you trust" : "give the path of a compiled .bpf.o file");
    }
    if (objectName.empty()) objectName = ObjectNameOf(path);
  } else if (info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto data = info[0].As<Napi::Uint8Array>();
    bytes_.assign(data.Data(), data.Data() + data.ElementLength());
  } else {
    throw BpfError(env, "bpf_object__open", "EINVAL", "expected a path or a Uint8Array");
  }
  std::string btfCustomPath = text("btfCustomPath");
  Napi::Value customBtf = options.Get("customBtf");
  if (customBtf.IsTypedArray() && customBtf.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
    auto data = customBtf.As<Napi::Uint8Array>();
    btfFd_ = BtfMemfd(data.Data(), data.ElementLength());
    if (btfFd_ < 0) throw BpfError(env, "memfd_create", errno, "the merged BTF of extraBtf");
    btfCustomPath = "/proc/self/fd/" + std::to_string(btfFd_);
  }
  Napi::Value kernelLogLevel = options.Get("kernelLogLevel");
  Napi::Value logLevel = options.Get("logLevel");
  Napi::Value logger = options.Get("logger");
  if (logLevel.IsNumber()) logLevel_ = logLevel.As<Napi::Number>().Int32Value();
  if (logger.IsFunction()) logger_ = Napi::Persistent(logger.As<Napi::Function>());

  int err = 0;
  std::vector<LogLine> lines = Captured(logLevel_, [&] {
    object_ = Open(bytes_, objectName, btfCustomPath, text("pinRoot"),
                   kernelLogLevel.IsNumber() ? kernelLogLevel.As<Napi::Number>().Uint32Value() : 0, &err);
  });
  if (object_ == nullptr) {
    Destroy();
    Deliver(env, lines);
    throw BpfError(env, path.empty() ? "bpf_object__open_mem" : "bpf_object__open_file", err,
                   path.empty() ? std::string() : path);
  }
  addon_->Track(this);
  if (const char* map = StructOpsInMaps(object_)) {
    std::string message = std::string("map '") + map + "' is declared in SEC(\".maps\") with type BPF_MAP_TYPE_STRUCT_OPS";
    Release();
    throw BpfError(env, path.empty() ? "bpf_object__open_mem" : "bpf_object__open_file", "EINVAL", message,
                   "struct_ops maps are variables of SEC(\".struct_ops\") or SEC(\".struct_ops.link\")");
  }
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
  std::unique_lock<std::mutex> lock(loadMutex_);
  loadCancelled_ = true;
  loadDone_.wait(lock, [this] { return !loadRunning_; });
  lock.unlock();
  Destroy();
}

void ObjectHandle::Destroy() {
  bool handedOff = false;
  {
    std::lock_guard<std::mutex> lock(loadMutex_);
    loadCancelled_ = true;
    // The load's thread owns the object now, and closes it (with the memfd) when the load returns.
    handedOff = loadRunning_;
    if (handedOff) object_ = nullptr;
    else ReleaseArenas(&arenas_);
  }
  for (auto& [map, region] : mapped_) {
    if (region.data != nullptr) munmap(region.data, MappedSize(region.size));
  }
  mapped_.clear();
  if (!handedOff) {
    if (object_ != nullptr) bpf_object__close(object_);
    object_ = nullptr;
    bytes_.clear();
    if (btfFd_ >= 0) close(btfFd_);
    btfFd_ = -1;
  }
  if (state_ != State::Closed) addon_->Untrack(this);
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
  int fd = MapHandle::CreatedFd(env, op, map);
  bool writable = (bpf_map__map_flags(map) & BPF_F_RDONLY_PROG) == 0;
  Region region = {nullptr, size, writable, fd};
  if ((bpf_map__map_flags(map) & BPF_F_MMAPABLE) != 0) {
    void* data = mmap(nullptr, MappedSize(size), writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (data == MAP_FAILED) throw BpfError(env, "mmap", errno, bpf_map__name(map));
    region.data = static_cast<uint8_t*>(data);
  }
  mapped_.emplace_back(map, region);
  return region;
}

void ObjectHandle::LoadInBackground(int* err, std::vector<LogLine>* lines) {
  struct bpf_object* object;
  {
    std::lock_guard<std::mutex> lock(loadMutex_);
    if (loadCancelled_) {
      ReleaseArenas(&arenas_);
      return;
    }
    loadRunning_ = true;
    object = object_;
  }
  LogCapture capture(logLevel_);
  *err = -bpf_object__load(object);
  ReleaseArenas(&arenas_);
  std::lock_guard<std::mutex> lock(loadMutex_);
  if (object_ == nullptr) bpf_object__close(object);
  // libbpf has read the merged BTF: the memfd can go (close() already let go of it when it came first).
  if (btfFd_ >= 0) close(btfFd_);
  btfFd_ = -1;
  *lines = std::move(capture.lines);
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

void ObjectHandle::Unmap::operator()(char* log) const { munmap(log, kLogBytes); }

Napi::Value ObjectHandle::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Require(env, "bpf_object__load", Need::BeforeLoad);
  struct bpf_program* program;
  bpf_object__for_each_program(program, object_) {
    size_t size = 0;
    if (!bpf_program__autoload(program) || bpf_program__log_buf(program, &size) != nullptr) continue;
    void* log = mmap(nullptr, kLogBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (log == MAP_FAILED) throw BpfError(env, "mmap", errno, std::string("the verifier log of ") + bpf_program__name(program));
    std::unique_ptr<char, Unmap> buffer(static_cast<char*>(log));
    int err = -bpf_program__set_log_buf(program, buffer.get(), kLogBytes);
    if (err != 0) throw BpfError(env, "bpf_program__set_log_buf", err, bpf_program__name(program));
    logs_.push_back(std::move(buffer));
  }
  arenas_ = ReserveArenas(env, object_);
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
    deferred.Reject(BpfError(env, "bpf_object__load", "ECLOSED", "the object was closed during load()",
                             "close() came while load() ran: the load finished in the background and what it made "
                             "was released; await load() before close() to use the object").Value());
    return;
  }
  state_ = err == 0 ? State::Loaded : State::Failed;
  try {
    Deliver(env, lines);
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
    return;
  }
  if (state_ == State::Closed) {
    // Closed by the logger through the handle itself (BpfObject.close() waits for the delivery to end).
    deferred.Reject(BpfError(env, "bpf_object__load", "ECLOSED", "the object was closed while load() reported").Value());
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

void ObjectHandle::Deliver(Napi::Env env, const std::vector<LogLine>& lines) {
  delivering_++;
  try {
    addon_->Deliver(env, lines, logger_);
  } catch (...) {
    delivering_--;
    throw;
  }
  delivering_--;
}

Napi::Value ObjectHandle::Delivering(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), delivering_ > 0); }

Napi::Value ObjectHandle::Close(const Napi::CallbackInfo& info) {
  std::vector<LogLine> lines = Captured(logLevel_, [&] { Destroy(); });
  Deliver(info.Env(), lines);
  return info.Env().Undefined();
}

}  // namespace bpfkit
