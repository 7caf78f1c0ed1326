// The kernel's BPF objects as a process holds them: what an fd is, and every object of a kind by id.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace bpfkit {

// What `fd` refers to, as /proc/self/fd says: "anon_inode:bpf-map", "anon_inode:bpf-prog",
// "anon_inode:bpf-link", or something else ("" when it cannot be read).
std::string FdKind(int fd);

// Every object of a kind the kernel has: ids from `next` (bpf_prog_get_next_id…), each opened with
// `open` and described by `describe` (0 or an errno), in an array; objects gone meanwhile are skipped.
Napi::Value ListById(Napi::Env env, const char* what, int (*next)(uint32_t, uint32_t*), int (*open)(uint32_t),
                     int (*describe)(Napi::Env, int, Napi::Object*));

}  // namespace bpfkit
