// The kernel's BPF objects as a process holds them: what an fd is, and every object of a kind by id.
#include "kernel_object.h"

#include <unistd.h>

#include <cerrno>

#include "errors.h"

namespace bpfkit {

std::string FdKind(int fd) {
  char kind[64] = {};
  std::string link = "/proc/self/fd/" + std::to_string(fd);
  return readlink(link.c_str(), kind, sizeof(kind) - 1) < 0 ? std::string() : std::string(kind);
}

Napi::Value ListById(Napi::Env env, const char* what, int (*next)(uint32_t, uint32_t*), int (*open)(uint32_t),
                     int (*describe)(Napi::Env, int, Napi::Object*)) {
  Napi::Array result = Napi::Array::New(env);
  uint32_t id = 0;
  uint32_t count = 0;
  while (next(id, &id) == 0) {
    int fd = open(id);
    if (fd < 0) {
      if (errno == ENOENT) continue;
      throw BpfError(env, "bpf_*_get_fd_by_id", errno, std::string(what) + " id " + std::to_string(id));
    }
    Napi::Object item;
    int err = describe(env, fd, &item);
    close(fd);
    if (err != 0) throw BpfError(env, "bpf_obj_get_info_by_fd", err, std::string(what) + " id " + std::to_string(id));
    result.Set(count++, item);
  }
  if (errno != ENOENT) throw BpfError(env, "bpf_*_get_next_id", errno);
  return result;
}

}  // namespace bpfkit
