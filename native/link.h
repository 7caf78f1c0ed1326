// Link: one attachment of a program, which lasts until it is released (or, for a BPF link, pinned).
// Most attachments are BPF links (libbpf's bpf_link, or a link fd made by bpf_link_create); socket
// filters, netlink XDP and clsact filters are not links in the kernel, so each has its own detach.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon.h"

struct bpf_link;

namespace bpfkit {

class Attachment {
 public:
  virtual ~Attachment() = default;
  // The link's fd, or -1 when the attachment is not one BPF link.
  virtual int Fd() const { return -1; }
  virtual const char* PinPath() const { return nullptr; }
  // Return 0 or a positive errno.
  virtual int Pin(const std::string& path);
  virtual int Unpin();
  // Detaches from the hook but keeps the (now defunct) link open: BPF_LINK_DETACH.
  virtual int Detach() = 0;
  // Detaches (unless pinned) and frees everything the attachment holds. Idempotent, never throws.
  virtual void Release() = 0;
  // Whether the kernel undoes the attachment when this process's fds close.
  virtual bool TiedToProcess() const { return true; }
};

// libbpf links. libbpf owns their fds. A USDT link is several uprobe links behind one bpf_link with no
// fd of its own (`hasFd` false): it cannot be pinned or queried.
class LibbpfLinks : public Attachment {
 public:
  explicit LibbpfLinks(std::vector<struct bpf_link*> links, bool hasFd = true) : links_(std::move(links)), hasFd_(hasFd) {}
  ~LibbpfLinks() override { Release(); }
  int Fd() const override;
  const char* PinPath() const override;
  int Pin(const std::string& path) override;
  int Unpin() override;
  int Detach() override;
  void Release() override;

 private:
  std::vector<struct bpf_link*> links_;
  bool hasFd_;
};

// Link fds made by bpf_link_create: XDP with a mode, tcx, cgroups with an explicit attach type, and
// perf events (one link per CPU, each owning its perf event fd). Closing the fds never disables a perf
// event, so a pinned link keeps sampling after this process lets go of it.
class FdLinks : public Attachment {
 public:
  struct Entry {
    int link;
    int owned;  // another fd the link keeps alive (the perf event), or -1
  };
  explicit FdLinks(std::vector<Entry> entries) : entries_(std::move(entries)) {}
  ~FdLinks() override { Release(); }
  int Fd() const override { return entries_.size() == 1 ? entries_[0].link : -1; }
  const char* PinPath() const override { return pinPath_.empty() ? nullptr : pinPath_.c_str(); }
  int Pin(const std::string& path) override;
  int Unpin() override;
  int Detach() override;
  void Release() override;

 private:
  std::vector<Entry> entries_;
  std::string pinPath_;
};

// A socket filter (SO_ATTACH_BPF). The socket is remembered by inode, so a descriptor number that was
// closed and reused by another socket is left alone.
class SocketFilter : public Attachment {
 public:
  SocketFilter(int fd, unsigned long device, unsigned long inode) : fd_(fd), device_(device), inode_(inode) {}
  ~SocketFilter() override { Release(); }
  int Detach() override;
  void Release() override { Detach(); }

 private:
  int fd_;
  unsigned long device_;
  unsigned long inode_;
  bool attached_ = true;
};

// An XDP program attached through netlink (replacing whatever netlink program was there). Detaching
// removes it only if it is still this program.
class XdpNetlink : public Attachment {
 public:
  XdpNetlink(int ifindex, unsigned flags, int programFd) : ifindex_(ifindex), flags_(flags), programFd_(programFd) {}
  ~XdpNetlink() override { Release(); }
  int Detach() override;
  void Release() override;
  bool TiedToProcess() const override { return false; }

 private:
  int ifindex_;
  unsigned flags_;
  int programFd_;  // a dup, so the program stays identifiable after its object closes
};

// A tc filter on the clsact qdisc (the pre-tcx API). bpfkit removes only its own filter (found by handle,
// priority and program id, in the network namespace it was attached in), and the qdisc only when
// bpfkit created it and no filter is left on it, whoever added that filter. A filter that is gone (the
// interface was deleted, and its ifindex may now be another interface's) leaves everything alone.
class TcFilter : public Attachment {
 public:
  TcFilter(int ifindex, bool egress, unsigned handle, unsigned priority, uint32_t programId, bool createdHook);
  ~TcFilter() override { Release(); }
  int Detach() override;
  void Release() override { Detach(); }
  bool TiedToProcess() const override { return false; }
  // Creates the clsact qdisc when missing; returns 0 or a positive errno, and whether bpfkit created it
  // (now, or for a filter of its own that is still there).
  static int EnsureHook(int ifindex, bool* created);
  // Undoes EnsureHook when the filter could not be attached.
  static void DropOwnedHook(int ifindex);

 private:
  // Whether this filter is still attached where it was: same namespace, handle, priority and program.
  bool Present() const;

  unsigned long netns_;
  int ifindex_;
  bool egress_;
  unsigned handle_;
  unsigned priority_;
  uint32_t programId_;
  bool createdHook_;
  bool attached_ = true;
};

// The kernel's view of the link behind `fd` as a LinkInfo object, or an errno.
int LinkInfoOf(Napi::Env env, int fd, Napi::Object* out);

class LinkHandle : public Napi::ObjectWrap<LinkHandle>, public Resource {
 public:
  static Napi::Function Init(Napi::Env env);
  // new LinkHandle(External<Attachment>) from a program's attach calls, new LinkHandle({ pinned: path }) or
  // new LinkHandle({ id }).
  explicit LinkHandle(const Napi::CallbackInfo& info);
  ~LinkHandle() override;

  // Wraps an attachment (taking ownership) in a new JS LinkHandle that keeps `owner` (the object whose
  // program it attaches; empty for a program of its own, which the kernel keeps) from being collected first.
  static Napi::Object New(Napi::Env env, std::unique_ptr<Attachment> attachment, Napi::Object owner);
  void Release() override;
  // listLinks() → the kernel's view of every BPF link, system-wide.
  static Napi::Value List(const Napi::CallbackInfo& info);
  bool DependsOnObject() const override { return true; }
  bool TiedToProcess() const override { return attachment_ == nullptr || attachment_->TiedToProcess(); }
  Napi::Object LogOwner() const override { return owner_.IsEmpty() ? Napi::Object() : owner_.Value(); }

 private:
  Napi::Value Fd(const Napi::CallbackInfo& info);
  Napi::Value GetTiedToProcess(const Napi::CallbackInfo& info);
  Napi::Value PinPath(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Pin(const Napi::CallbackInfo& info);
  Napi::Value Unpin(const Napi::CallbackInfo& info);
  Napi::Value Detach(const Napi::CallbackInfo& info);
  Napi::Value Update(const Napi::CallbackInfo& info);
  Napi::Value IterCreate(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Attachment* Require(Napi::Env env, const char* op) const;

  Addon* addon_;
  std::unique_ptr<Attachment> attachment_;
  Napi::ObjectReference owner_;
};

}  // namespace bpfkit
