// Creates BpfError / VerifierError instances (classes defined in lib/errors.ts) from libbpf results.
#pragma once

#include <napi.h>

#include <string>

namespace bpfkit {

// `err` is a positive errno or libbpf's own error number (LIBBPF_ERRNO__*).
Napi::Error BpfError(Napi::Env env, const char* op, int err, const std::string& detail = "");

// An error bpfkit raises itself before any syscall: `code` such as ECLOSED, EBADSTATE or EINVAL.
Napi::Error BpfError(Napi::Env env, const char* op, const char* code, const std::string& message);

Napi::Error VerifierError(Napi::Env env, const char* op, int err, const std::string& program,
                          const std::string& log);

}  // namespace bpfkit
