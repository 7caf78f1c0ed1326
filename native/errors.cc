// Creates BpfError instances (classes defined in lib/errors.ts) from libbpf results.
#include "errors.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "addon.h"

namespace bpfkit {

namespace {

// libbpf's own error codes; errno names are given by BpfError in lib/errors.ts (nullptr here).
const char* CodeOf(int err) {
  switch (err) {
    case LIBBPF_ERRNO__LIBELF: return "ELIBELF";
    case LIBBPF_ERRNO__FORMAT: return "EFORMAT";
    case LIBBPF_ERRNO__KVERSION: return "EKVERSION";
    case LIBBPF_ERRNO__ENDIAN: return "EENDIAN";
    case LIBBPF_ERRNO__INTERNAL: return "EINTERNAL";
    case LIBBPF_ERRNO__RELOC: return "ERELOC";
    case LIBBPF_ERRNO__LOAD: return "ELOAD";
    case LIBBPF_ERRNO__VERIFY: return "EVERIFY";
    case LIBBPF_ERRNO__PROG2BIG: return "EPROG2BIG";
    case LIBBPF_ERRNO__KVER: return "EKVER";
    case LIBBPF_ERRNO__PROGTYPE: return "EPROGTYPE";
    case LIBBPF_ERRNO__WRNGPID: return "EWRNGPID";
    case LIBBPF_ERRNO__INVSEQ: return "EINVSEQ";
    case LIBBPF_ERRNO__NLPARSE: return "ENLPARSE";
    case kENOTSUPP: return "EOPNOTSUPP";
    default: break;
  }
  return nullptr;
}

Napi::Error Make(Napi::Env env, const Napi::FunctionReference& cls, const std::string& message,
                 Napi::Object props) {
  if (cls.IsEmpty()) return Napi::Error::New(env, message);
  Napi::Value error = cls.New({Napi::String::New(env, message), props});
  return Napi::Error(env, error);
}

Napi::Object Props(Napi::Env env, const char* op, const char* code, int err) {
  Napi::Object props = Napi::Object::New(env);
  if (code != nullptr) props.Set("code", code);
  if (err != 0) props.Set("errno", err);
  props.Set("op", op);
  return props;
}

std::string Describe(int err) {
  if (err == kENOTSUPP) err = EOPNOTSUPP;
  char text[128];
  libbpf_strerror(err, text, sizeof(text));
  return text;
}

}  // namespace

Napi::Error BpfError(Napi::Env env, const char* op, int err, const std::string& detail) {
  std::string message = std::string(op) + ": " + (detail.empty() ? "" : detail + ": ") + Describe(err);
  return Make(env, Addon::Of(env)->bpfError, message, Props(env, op, CodeOf(err), err));
}

std::string StringArg(Napi::Env env, const Napi::Value& value, const char* op, const char* what) {
  if (!value.IsString()) throw BpfError(env, op, "EINVAL", std::string(what) + " must be a string");
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos) throw BpfError(env, op, "EINVAL", std::string(what) + " holds a NUL byte");
  return text;
}

Napi::Error BpfError(Napi::Env env, const char* op, const char* code, const std::string& message,
                     const std::string& hint) {
  Napi::Object props = Props(env, op, code, 0);
  std::string state = "|ECLOSED|EBADSTATE|EBUSY|EROFS|";
  props.Set("origin", state.find(std::string("|") + code + "|") != std::string::npos ? "state" : "argument");
  if (!hint.empty()) props.Set("hint", hint);
  return Make(env, Addon::Of(env)->bpfError, std::string(op) + ": " + message, props);
}

}  // namespace bpfkit
