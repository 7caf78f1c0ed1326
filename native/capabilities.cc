// Capabilities: dropping all but a kept set in every thread of the process. capset(2) and the prctl()
// capability calls change only the calling thread, and Node runs a thread pool that opens files with
// its own credentials, so each thread is asked, by a queued real-time signal, to drop its own (the way
// glibc's setuid() and libcap's psx reach every thread). A thread that blocks every signal cannot be
// asked: it is reported as unreachable (in Node, the SIGUSR1 watcher, which runs no JavaScript and
// makes no privileged call).
#include "capabilities.h"

#include <dirent.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "errors.h"

namespace bpfkit {

namespace {

// One drop: what to keep, and how the threads answered. Reached by the handler through the signal's
// value; leaked, never freed, when a thread did not answer in time (its signal may still come).
struct Drop {
  static constexpr int kSlots = 1024;
  uint64_t keep = 0;
  int lastCap = 0;
  // Lock-free, as a signal handler needs: each answer takes the next slot.
  std::atomic<int> answered{0};
  pid_t tids[kSlots] = {};
  int errors[kSlots] = {};
};

constexpr uint64_t kMagic = 0x6270666b69746361ULL;

struct Request {
  uint64_t magic;
  Drop* drop;
};

// Async-signal-safe: raw syscalls only, errno saved.
int DropInThisThread(const Drop& drop) {
  for (int cap = 0; cap <= drop.lastCap; cap++) {
    if ((drop.keep >> cap) & 1) continue;
    // The bounding set needs CAP_SETPCAP to shrink: without it (a service granted only CAP_BPF and
    // CAP_PERFMON), it stays as it is, and effective and permitted are what matter.
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, cap, 0, 0);
  }
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return errno;
  for (int i = 0; i < 2; i++) {
    uint32_t keep = static_cast<uint32_t>(drop.keep >> (32 * i));
    data[i].effective &= keep;
    data[i].permitted &= keep;
    data[i].inheritable &= keep;
  }
  return syscall(SYS_capset, &header, data) == 0 ? 0 : errno;
}

void Handler(int, siginfo_t* info, void*) {
  int saved = errno;
  auto* request = static_cast<Request*>(info->si_value.sival_ptr);
  if (info->si_code == SI_QUEUE && request != nullptr && request->magic == kMagic) {
    Drop* drop = request->drop;
    int err = DropInThisThread(*drop);
    int slot = drop->answered.fetch_add(1);
    if (slot < Drop::kSlots) {
      drop->tids[slot] = static_cast<pid_t>(syscall(SYS_gettid));
      drop->errors[slot] = err;
    }
  }
  errno = saved;
}

int LastCap() {
  FILE* file = fopen("/proc/sys/kernel/cap_last_cap", "r");
  int last = 40;
  if (file != nullptr) {
    if (fscanf(file, "%d", &last) != 1) last = 40;
    fclose(file);
  }
  return last < 63 ? last : 63;
}

std::vector<pid_t> Threads() {
  std::vector<pid_t> tids;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return tids;
  while (struct dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') tids.push_back(static_cast<pid_t>(atoi(entry->d_name)));
  }
  closedir(dir);
  return tids;
}

// Whether thread `tid` blocks `sig` (SigBlk in its status): such a thread never runs the handler.
bool Blocks(pid_t tid, int sig) {
  std::string path = "/proc/self/task/" + std::to_string(tid) + "/status";
  FILE* file = fopen(path.c_str(), "r");
  if (file == nullptr) return false;
  char line[256];
  unsigned long long mask = 0;
  while (fgets(line, sizeof(line), file) != nullptr) {
    if (sscanf(line, "SigBlk: %llx", &mask) == 1) break;
  }
  fclose(file);
  return ((mask >> (sig - 1)) & 1) != 0;
}

// A real-time signal nobody handles: the first from SIGRTMAX down whose action is the default.
int FreeSignal() {
  for (int sig = SIGRTMAX; sig >= SIGRTMIN; sig--) {
    struct sigaction current = {};
    if (sigaction(sig, nullptr, &current) == 0 && current.sa_handler == SIG_DFL && !(current.sa_flags & SA_SIGINFO)) return sig;
  }
  return -1;
}

struct Outcome {
  int threads = 0;
  std::vector<std::pair<pid_t, int>> failed;
  std::vector<pid_t> unanswered;
  std::vector<pid_t> unreachable;
  int err = 0;
};

Outcome DropEverywhere(uint64_t keep) {
  Outcome outcome;
  auto* drop = new Drop();
  drop->keep = keep;
  drop->lastCap = LastCap();
  Request* request = new Request{kMagic, drop};
  int sig = FreeSignal();
  if (sig < 0) {
    outcome.err = EBUSY;
    delete request;
    delete drop;
    return outcome;
  }
  struct sigaction action = {}, previous = {};
  action.sa_sigaction = Handler;
  action.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(sig, &action, &previous);

  pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  pid_t pid = getpid();
  std::set<pid_t> asked;
  int sent = 0;
  // Threads started meanwhile inherit from their creator, which may not have dropped yet: ask again
  // until a pass finds no thread it has not asked.
  for (bool fresh = true; fresh;) {
    fresh = false;
    for (pid_t tid : Threads()) {
      if (tid == self || asked.count(tid) != 0) continue;
      asked.insert(tid);
      fresh = true;
      if (Blocks(tid, sig)) {
        outcome.unreachable.push_back(tid);
        continue;
      }
      siginfo_t info = {};
      info.si_signo = sig;
      info.si_code = SI_QUEUE;
      info.si_pid = pid;
      info.si_uid = getuid();
      info.si_value.sival_ptr = request;
      if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, sig, &info) == 0) sent++;
    }
    struct timespec deadline = {};
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += 2;
    while (drop->answered.load() < sent) {
      struct timespec now = {};
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec > deadline.tv_sec || (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec)) break;
      struct timespec pause = {0, 200 * 1000};
      nanosleep(&pause, nullptr);
    }
  }
  int err = DropInThisThread(*drop);
  if (err != 0) outcome.failed.emplace_back(self, err);
  outcome.threads = static_cast<int>(asked.size()) + 1;
  int answered = drop->answered.load();
  std::set<pid_t> unanswered = asked;
  for (pid_t tid : outcome.unreachable) unanswered.erase(tid);
  for (int i = 0; i < answered && i < Drop::kSlots; i++) {
    unanswered.erase(drop->tids[i]);
    if (drop->errors[i] != 0) outcome.failed.emplace_back(drop->tids[i], drop->errors[i]);
  }
  if (answered < sent) {
    // Some thread has the signal blocked: its handler (and this Drop) must stay for when it unblocks.
    outcome.unanswered.assign(unanswered.begin(), unanswered.end());
    return outcome;
  }
  sigaction(sig, &previous, nullptr);
  delete request;
  delete drop;
  return outcome;
}

}  // namespace

Napi::Value DropCapabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "capset";
  if (!info[0].IsArray()) throw BpfError(env, op, "EINVAL", "expected the capability numbers to keep");
  Napi::Array list = info[0].As<Napi::Array>();
  uint64_t keep = 0;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value cap = list.Get(i);
    if (!cap.IsNumber()) throw BpfError(env, op, "EINVAL", "capability numbers must be numbers");
    double n = cap.As<Napi::Number>().DoubleValue();
    if (!(n >= 0 && n <= 63) || n != static_cast<int>(n)) throw BpfError(env, op, "EINVAL", "capability numbers are 0…63");
    keep |= 1ULL << static_cast<int>(n);
  }
  Outcome outcome = DropEverywhere(keep);
  if (outcome.err != 0) throw BpfError(env, op, outcome.err, "no free real-time signal to reach the other threads");
  Napi::Object result = Napi::Object::New(env);
  result.Set("threads", outcome.threads);
  Napi::Array failed = Napi::Array::New(env, outcome.failed.size());
  for (size_t i = 0; i < outcome.failed.size(); i++) {
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("tid", outcome.failed[i].first);
    entry.Set("errno", outcome.failed[i].second);
    failed.Set(static_cast<uint32_t>(i), entry);
  }
  result.Set("failed", failed);
  Napi::Array unanswered = Napi::Array::New(env, outcome.unanswered.size());
  for (size_t i = 0; i < outcome.unanswered.size(); i++) unanswered.Set(static_cast<uint32_t>(i), outcome.unanswered[i]);
  result.Set("unanswered", unanswered);
  Napi::Array unreachable = Napi::Array::New(env, outcome.unreachable.size());
  for (size_t i = 0; i < outcome.unreachable.size(); i++) unreachable.Set(static_cast<uint32_t>(i), outcome.unreachable[i]);
  result.Set("unreachable", unreachable);
  return result;
}

}  // namespace bpfkit
