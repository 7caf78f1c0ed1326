// Creates BpfError instances (classes defined in lib/errors.ts) from libbpf results.
#pragma once

#include <napi.h>

#include <string>

namespace bpfkit {

// The kernel's internal ENOTSUPP, which some bpf() commands return to user space (no glibc name). bpfkit
// reports it as EOPNOTSUPP (errno 524 kept), so "not supported" has one code.
constexpr int kENOTSUPP = 524;

// `err` is a positive errno or libbpf's own error number (LIBBPF_ERRNO__*).
Napi::Error BpfError(Napi::Env env, const char* op, int err, const std::string& detail = "");

// An error bpfkit raises itself before any syscall: a bad argument (EINVAL…), or a call in the wrong
// state (ECLOSED, EBADSTATE, EBUSY, EROFS); `origin` says which.
Napi::Error BpfError(Napi::Env env, const char* op, const char* code, const std::string& message,
                     const std::string& hint = "");

// A string argument as C takes it, or EINVAL: when `value` is not a string, or holds a NUL byte, where
// C would cut it short (a path pinned, a file opened or a symbol attached would be another one).
std::string StringArg(Napi::Env env, const Napi::Value& value, const char* op, const char* what);

}  // namespace bpfkit
