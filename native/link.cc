// Link: one attachment of a program, which lasts until it is released (or, for a BPF link, pinned).
#include "link.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "errors.h"
#include "kernel_object.h"
#include "object.h"
#include "program.h"

namespace bpfkit {

int Attachment::Pin(const std::string&) { return EOPNOTSUPP; }
int Attachment::Unpin() { return EOPNOTSUPP; }

// ---- libbpf links ----

int LibbpfLinks::Fd() const { return hasFd_ && links_.size() == 1 ? bpf_link__fd(links_[0]) : -1; }

const char* LibbpfLinks::PinPath() const { return Fd() >= 0 ? bpf_link__pin_path(links_[0]) : nullptr; }

int LibbpfLinks::Pin(const std::string& path) {
  if (Fd() < 0) return EOPNOTSUPP;
  return -bpf_link__pin(links_[0], path.c_str());
}

int LibbpfLinks::Unpin() {
  if (Fd() < 0) return EOPNOTSUPP;
  return -bpf_link__unpin(links_[0]);
}

int LibbpfLinks::Detach() {
  if (!hasFd_) return EOPNOTSUPP;
  for (struct bpf_link* link : links_) {
    int err = -bpf_link__detach(link);
    if (err != 0) return err;
  }
  return 0;
}

void LibbpfLinks::Release() {
  // A pinned link stays attached after its fd is closed: that is what pinning is for.
  for (struct bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
}

// ---- link fds from bpf_link_create ----

int FdLinks::Pin(const std::string& path) {
  if (entries_.size() != 1) return EOPNOTSUPP;
  if (!pinPath_.empty()) return EBUSY;
  if (bpf_obj_pin(entries_[0].link, path.c_str()) != 0) return errno;
  pinPath_ = path;
  return 0;
}

int FdLinks::Unpin() {
  if (entries_.size() != 1) return EOPNOTSUPP;
  if (pinPath_.empty()) return 0;
  if (unlink(pinPath_.c_str()) != 0) return errno;
  pinPath_.clear();
  return 0;
}

int FdLinks::Detach() {
  for (const Entry& entry : entries_) {
    if (bpf_link_detach(entry.link) != 0) return errno;
  }
  return 0;
}

void FdLinks::Release() {
  for (const Entry& entry : entries_) {
    close(entry.link);
    if (entry.owned >= 0) close(entry.owned);
  }
  entries_.clear();
}

// ---- socket filters ----

int SocketFilter::Detach() {
  if (!attached_) return 0;
  attached_ = false;
  struct stat st = {};
  if (fstat(fd_, &st) != 0 || st.st_dev != device_ || st.st_ino != inode_) return 0;  // the socket is gone
  int unused = 0;
  return setsockopt(fd_, SOL_SOCKET, SO_DETACH_BPF, &unused, sizeof(unused)) != 0 ? errno : 0;
}

// ---- XDP through netlink ----

int XdpNetlink::Detach() {
  if (programFd_ < 0) return 0;
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = programFd_);
  int err = -bpf_xdp_detach(ifindex_, flags_ | XDP_FLAGS_REPLACE, &opts);
  close(programFd_);
  programFd_ = -1;
  // Someone replaced the program, or the interface is gone: nothing of ours is left to remove.
  return err == EEXIST || err == ENODEV ? 0 : err;
}

void XdpNetlink::Release() { Detach(); }

// ---- tc filters on clsact ----

namespace {

// This thread's network namespace: ifindexes mean something only within one.
unsigned long CurrentNetns() {
  struct stat st = {};
  return stat("/proc/thread-self/ns/net", &st) == 0 ? st.st_ino : 0;
}

// Whether the clsact qdisc on `ifindex` holds any filter, on ingress or egress (an RTM_GETTFILTER dump
// of each, as `tc filter show dev IFACE ingress` makes). When it cannot tell, it says yes: keep the qdisc.
bool ClsactHasFilters(int ifindex) {
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return true;
  bool found = false;
  bool known = true;
  uint32_t seq = 0;
  for (uint32_t parent : {TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)}) {
    struct {
      struct nlmsghdr header;
      struct tcmsg tc;
    } request = {};
    request.header.nlmsg_len = sizeof(request);
    request.header.nlmsg_type = RTM_GETTFILTER;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = ++seq;
    request.tc.tcm_family = AF_UNSPEC;
    request.tc.tcm_ifindex = ifindex;
    request.tc.tcm_parent = parent;
    if (send(sock, &request, sizeof(request), 0) < 0) {
      known = false;
      break;
    }
    for (bool done = false; !done;) {
      alignas(struct nlmsghdr) char buffer[16384];
      ssize_t length = recv(sock, buffer, sizeof(buffer), 0);
      if (length < 0 && errno == EINTR) continue;
      if (length <= 0) {
        known = false;
        break;
      }
      for (auto* header = reinterpret_cast<struct nlmsghdr*>(buffer); NLMSG_OK(header, length);
           header = NLMSG_NEXT(header, length)) {
        if (header->nlmsg_seq != seq) continue;
        if (header->nlmsg_type == NLMSG_DONE) {
          done = true;
        } else if (header->nlmsg_type == NLMSG_ERROR) {
          done = true;
          known = known && static_cast<struct nlmsgerr*>(NLMSG_DATA(header))->error == 0;
        } else if (header->nlmsg_type == RTM_NEWTFILTER) {
          found = true;
        }
      }
    }
  }
  close(sock);
  return found || !known;
}

void DestroyHook(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
              .attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  bpf_tc_hook_destroy(&hook);
}

std::mutex hooksMutex;
// The clsact qdiscs bpfkit created (by namespace and ifindex) → bpfkit's filters on each.
std::map<std::pair<unsigned long, int>, std::set<const TcFilter*>> createdHooks;

}  // namespace

int TcFilter::EnsureHook(int ifindex, bool* created) {
  std::lock_guard<std::mutex> lock(hooksMutex);
  auto key = std::make_pair(CurrentNetns(), ifindex);
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  int err = -bpf_tc_hook_create(&hook);
  if (err == 0) {
    createdHooks[key].clear();  // an entry left from an interface that had this ifindex before
    *created = true;
    return 0;
  }
  if (err != EEXIST) return err;
  // The qdisc is bpfkit's only while one of bpfkit's filters on it is still there: an interface that
  // took over a deleted one's ifindex has a qdisc of its own.
  auto found = createdHooks.find(key);
  *created = found != createdHooks.end() &&
             std::any_of(found->second.begin(), found->second.end(), [](const TcFilter* f) { return f->Present(); });
  if (found != createdHooks.end() && !*created) createdHooks.erase(found);
  return 0;
}

void TcFilter::DropOwnedHook(int ifindex) {
  std::lock_guard<std::mutex> lock(hooksMutex);
  auto found = createdHooks.find(std::make_pair(CurrentNetns(), ifindex));
  if (found == createdHooks.end() || !found->second.empty()) return;
  createdHooks.erase(found);
  if (!ClsactHasFilters(ifindex)) DestroyHook(ifindex);
}

TcFilter::TcFilter(int ifindex, bool egress, unsigned handle, unsigned priority, uint32_t programId, bool createdHook)
    : netns_(CurrentNetns()), ifindex_(ifindex), egress_(egress), handle_(handle), priority_(priority),
      programId_(programId), createdHook_(createdHook) {
  if (!createdHook_) return;
  std::lock_guard<std::mutex> lock(hooksMutex);
  createdHooks[std::make_pair(netns_, ifindex_)].insert(this);
}

bool TcFilter::Present() const {
  if (CurrentNetns() != netns_) return false;
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_, .attach_point = egress_ ? BPF_TC_EGRESS : BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle_, .priority = priority_);
  return bpf_tc_query(&hook, &opts) == 0 && opts.prog_id == programId_;
}

int TcFilter::Detach() {
  if (!attached_) return 0;
  attached_ = false;
  std::lock_guard<std::mutex> lock(hooksMutex);
  bool present = Present();
  int err = 0;
  if (present) {
    LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex_, .attach_point = egress_ ? BPF_TC_EGRESS : BPF_TC_INGRESS);
    LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle_, .priority = priority_);
    err = -bpf_tc_detach(&hook, &opts);
  }
  if (createdHook_) {
    auto key = std::make_pair(netns_, ifindex_);
    auto found = createdHooks.find(key);
    if (found != createdHooks.end()) {
      found->second.erase(this);
      if (found->second.empty()) createdHooks.erase(found);
    }
    // Our filter was there, so this is the qdisc bpfkit created: it goes once nobody's filter is left.
    if (present && !ClsactHasFilters(ifindex_)) DestroyHook(ifindex_);
  }
  return err == ENOENT || err == ENODEV || err == EINVAL ? 0 : err;
}

// ---- the kernel's view of a link ----

namespace {

const char* AttachTypeName(uint32_t type) {
  const char* name = libbpf_bpf_attach_type_str(static_cast<enum bpf_attach_type>(type));
  return name != nullptr ? name : "unknown";
}

}  // namespace

// { id, type, programId } and what the link is attached to, by link type.
int LinkInfoOf(Napi::Env env, int fd, Napi::Object* out) {
  struct bpf_link_info info = {};
  uint32_t length = sizeof(info);
  if (bpf_link_get_info_by_fd(fd, &info, &length) != 0) return errno;
  // Names come back in buffers of our own: ask again with one where the link type has a name.
  char name[512] = {};
  uint64_t buffer = reinterpret_cast<uintptr_t>(name);
  bool named = true;
  switch (info.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT:
      info.raw_tracepoint.tp_name = buffer;
      info.raw_tracepoint.tp_name_len = sizeof(name);
      break;
    case BPF_LINK_TYPE_ITER:
      info.iter.target_name = buffer;
      info.iter.target_name_len = sizeof(name);
      break;
    case BPF_LINK_TYPE_UPROBE_MULTI:
      info.uprobe_multi.path = buffer;
      info.uprobe_multi.path_size = sizeof(name);
      info.uprobe_multi.count = 0;
      break;
    case BPF_LINK_TYPE_PERF_EVENT:
      // The union's name field is at the same place for uprobes, kprobes and tracepoints.
      info.perf_event.uprobe.file_name = buffer;
      info.perf_event.uprobe.name_len = sizeof(name);
      break;
    default:
      named = false;
  }
  if (named && bpf_link_get_info_by_fd(fd, &info, &length) != 0) return errno;
  Napi::Object result = Napi::Object::New(env);
  result.Set("id", info.id);
  const char* type = libbpf_bpf_link_type_str(static_cast<enum bpf_link_type>(info.type));
  result.Set("type", type != nullptr ? type : "unknown");
  result.Set("programId", info.prog_id);
  switch (info.type) {
    case BPF_LINK_TYPE_RAW_TRACEPOINT:
    case BPF_LINK_TYPE_ITER:
      result.Set("name", name);
      if (info.type == BPF_LINK_TYPE_ITER && info.iter.map.map_id != 0) result.Set("mapId", info.iter.map.map_id);
      break;
    case BPF_LINK_TYPE_TRACING:
      result.Set("attachType", AttachTypeName(info.tracing.attach_type));
      result.Set("targetObjectId", info.tracing.target_obj_id);
      result.Set("targetBtfId", info.tracing.target_btf_id);
      break;
    case BPF_LINK_TYPE_CGROUP:
      result.Set("attachType", AttachTypeName(info.cgroup.attach_type));
      result.Set("cgroupId", Napi::BigInt::New(env, static_cast<uint64_t>(info.cgroup.cgroup_id)));
      break;
    case BPF_LINK_TYPE_NETNS:
      result.Set("attachType", AttachTypeName(info.netns.attach_type));
      result.Set("netnsIno", info.netns.netns_ino);
      break;
    case BPF_LINK_TYPE_XDP:
      result.Set("ifindex", info.xdp.ifindex);
      break;
    case BPF_LINK_TYPE_TCX:
      result.Set("attachType", AttachTypeName(info.tcx.attach_type));
      result.Set("ifindex", info.tcx.ifindex);
      break;
    case BPF_LINK_TYPE_STRUCT_OPS:
      result.Set("mapId", info.struct_ops.map_id);
      break;
    case BPF_LINK_TYPE_UPROBE_MULTI:
      result.Set("name", name);
      result.Set("count", info.uprobe_multi.count);
      if (info.uprobe_multi.pid != 0) result.Set("pid", info.uprobe_multi.pid);
      break;
    case BPF_LINK_TYPE_KPROBE_MULTI:
      result.Set("count", info.kprobe_multi.count);
      break;
    case BPF_LINK_TYPE_PERF_EVENT:
      if (name[0] != '\0') result.Set("name", name);
      break;
    default:
      break;
  }
  *out = result;
  return 0;
}

// ---- the JS handle ----

Napi::Function LinkHandle::Init(Napi::Env env) {
  return DefineClass(env, "LinkHandle", {
      InstanceAccessor<&LinkHandle::Fd>("fd"),
      InstanceAccessor<&LinkHandle::GetTiedToProcess>("tiedToProcess"),
      InstanceAccessor<&LinkHandle::PinPath>("pinPath"),
      InstanceMethod<&LinkHandle::Info>("info"),
      InstanceMethod<&LinkHandle::Pin>("pin"),
      InstanceMethod<&LinkHandle::Unpin>("unpin"),
      InstanceMethod<&LinkHandle::Detach>("detach"),
      InstanceMethod<&LinkHandle::Update>("update"),
      InstanceMethod<&LinkHandle::IterCreate>("iterCreate"),
      InstanceMethod<&LinkHandle::Destroy>("destroy"),
  });
}

LinkHandle::LinkHandle(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<LinkHandle>(info), addon_(Addon::Of(info.Env())) {
  Napi::Env env = info.Env();
  if (info.Length() >= 1 && info[0].IsExternal()) {
    attachment_.reset(info[0].As<Napi::External<Attachment>>().Data());
  } else if (info.Length() >= 1 && info[0].IsObject() && info[0].As<Napi::Object>().Get("id").IsNumber()) {
    uint32_t id = info[0].As<Napi::Object>().Get("id").As<Napi::Number>().Uint32Value();
    int fd = bpf_link_get_fd_by_id(id);
    if (fd < 0) throw BpfError(env, "bpf_link_get_fd_by_id", errno, "link id " + std::to_string(id));
    attachment_ = std::make_unique<FdLinks>(std::vector<FdLinks::Entry>{{fd, -1}});
  } else if (info.Length() >= 1 && info[0].IsObject() && info[0].As<Napi::Object>().Get("pinned").IsString()) {
    std::string path = StringArg(env, info[0].As<Napi::Object>().Get("pinned"), "bpf_obj_get", "the path");
    struct bpf_link* link = nullptr;
    int err = 0;
    std::vector<LogLine> lines = Captured(addon_->logLevel, [&] {
      link = bpf_link__open(path.c_str());
      err = link == nullptr ? errno : 0;
    });
    addon_->Deliver(env, lines, Napi::FunctionReference());
    if (link == nullptr) throw BpfError(env, "bpf_link__open", err, path);
    // libbpf opens any pin: a program's or a map's would read as nonsense link info, and unpin() would
    // remove a pin that is not a link's. Destroying what bpf_link__open made only closes its fd.
    std::string kind = FdKind(bpf_link__fd(link));
    if (kind != "anon_inode:bpf-link") {
      bpf_link__destroy(link);
      throw BpfError(env, "bpf_link__open", "EINVAL", path + " is not a link (" + (kind.empty() ? "unknown" : kind) + ")");
    }
    attachment_ = std::make_unique<LibbpfLinks>(std::vector<struct bpf_link*>{link});
  } else {
    throw BpfError(env, "Link", "EINVAL", "links come from a program's attach calls, Link.openPinned(path) or Link.fromId(id)");
  }
  addon_->Track(this);
}

Napi::Object LinkHandle::New(Napi::Env env, std::unique_ptr<Attachment> attachment, Napi::Object owner) {
  // The constructor takes ownership (and cannot fail for an External).
  auto external = Napi::External<Attachment>::New(env, attachment.release());
  Napi::Object wrapped = Addon::Of(env)->linkClass.New({external});
  if (!owner.IsEmpty()) Unwrap(wrapped)->owner_ = Napi::Persistent(owner);
  return wrapped;
}

LinkHandle::~LinkHandle() { Release(); }

void LinkHandle::Release() {
  if (attachment_ == nullptr) return;
  attachment_->Release();
  attachment_.reset();
  addon_->Untrack(this);
}

Attachment* LinkHandle::Require(Napi::Env env, const char* op) const {
  if (attachment_ == nullptr) throw BpfError(env, op, "ECLOSED", "the link is closed");
  return attachment_.get();
}

Napi::Value LinkHandle::Fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Require(info.Env(), "bpf_link__fd")->Fd());
}

Napi::Value LinkHandle::GetTiedToProcess(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), TiedToProcess());
}

Napi::Value LinkHandle::PinPath(const Napi::CallbackInfo& info) {
  const char* path = Require(info.Env(), "bpf_link__pin_path")->PinPath();
  return path != nullptr ? Napi::String::New(info.Env(), path) : info.Env().Null();
}

// info() → the kernel's view of the link (bpf_link_get_info_by_fd), or null when this is not one BPF link.
Napi::Value LinkHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = Require(env, "bpf_link_get_info_by_fd")->Fd();
  if (fd < 0) return env.Null();
  Napi::Object result;
  int err = LinkInfoOf(env, fd, &result);
  if (err != 0) throw BpfError(env, "bpf_link_get_info_by_fd", err);
  return result;
}

Napi::Value LinkHandle::Pin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attachment* attachment = Require(env, "bpf_link__pin");
  std::string path = StringArg(env, info[0], "bpf_link__pin", "the path on a bpffs mount");
  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] { err = attachment->Pin(path); });
  addon_->Deliver(env, lines, Napi::FunctionReference());
  if (err != 0) throw BpfError(env, "bpf_link__pin", err, path);
  return env.Undefined();
}

Napi::Value LinkHandle::Unpin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attachment* attachment = Require(env, "bpf_link__unpin");
  int err = 0;
  std::vector<LogLine> lines = Captured(addon_->logLevel, [&] { err = attachment->Unpin(); });
  addon_->Deliver(env, lines, Napi::FunctionReference());
  if (err != 0) throw BpfError(env, "bpf_link__unpin", err);
  return env.Undefined();
}

Napi::Value LinkHandle::Detach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int err = Require(env, "bpf_link__detach")->Detach();
  if (err != 0) throw BpfError(env, "bpf_link__detach", err);
  return env.Undefined();
}

// update(program: ProgramHandle): the link runs `program` from now on, atomically (BPF_LINK_UPDATE).
Napi::Value LinkHandle::Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_link_update";
  int fd = Require(env, op)->Fd();
  ProgramHandle* program = ProgramHandle::From(env, info[0]);
  if (program == nullptr) throw BpfError(env, op, "EINVAL", "expected a program");
  int programFd = program->LoadedFd(env, op);
  if (fd < 0) throw BpfError(env, op, EOPNOTSUPP);
  if (bpf_link_update(fd, programFd, nullptr) != 0) throw BpfError(env, op, errno);
  return env.Undefined();
}

// iterCreate() → the fd of a new pass over an iterator link's output (bpf_iter_create); the caller closes it.
Napi::Value LinkHandle::IterCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "bpf_iter_create";
  int fd = Require(env, op)->Fd();
  if (fd < 0) throw BpfError(env, op, "EINVAL", "not a BPF link");
  int iter = bpf_iter_create(fd);
  if (iter < 0) throw BpfError(env, op, errno);
  return Napi::Number::New(env, iter);
}

// listLinks() → LinkInfo of every BPF link in the kernel (bpf_link_get_next_id).
Napi::Value LinkHandle::List(const Napi::CallbackInfo& info) {
  return ListById(info.Env(), "link", bpf_link_get_next_id, bpf_link_get_fd_by_id, LinkInfoOf);
}

// destroy(): detaching may make libbpf speak (a netlink error from a filter someone else removed): its
// messages go to the object's logger, or the process-wide one for a link opened from a pin.
Napi::Value LinkHandle::Destroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ObjectHandle* owner = owner_.IsEmpty() ? nullptr : ObjectHandle::Unwrap(owner_.Value());
  std::vector<LogLine> lines = Captured(owner != nullptr ? owner->LogLevel() : addon_->logLevel, [&] { Release(); });
  if (owner != nullptr) {
    owner->Deliver(env, lines);
  } else {
    addon_->Deliver(env, lines, Napi::FunctionReference());
  }
  owner_.Reset();
  return env.Undefined();
}

}  // namespace bpfkit
