// Btf: one libbpf struct btf (an object's, the running kernel's, a file's or a loaded one's) and its type table.
#include "btf.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "addon.h"
#include "errors.h"

namespace bpfkit {

namespace {

const char* KindName(uint16_t kind) {
  static const char* const names[] = {
      "void",  "int",     "ptr",      "array",      "struct", "union",   "enum",     "fwd",      "typedef", "volatile",
      "const", "restrict", "func",    "func_proto", "var",    "datasec", "float",    "decl_tag", "type_tag", "enum64",
  };
  return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

const char* Linkage(uint32_t linkage) {
  switch (linkage) {
    case 0: return "static";
    case 1: return "global";
    case 2: return "extern";
    default: return "unknown";
  }
}

enum class Pointers { Keep, AsVoid };

// The type ids a type refers to, where they are in its record (for rewriting them).
std::vector<uint32_t*> References(struct btf_type* t) {
  std::vector<uint32_t*> refs;
  switch (btf_kind(t)) {
    case BTF_KIND_PTR:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
    case BTF_KIND_FUNC:
    case BTF_KIND_VAR:
    case BTF_KIND_DECL_TAG:
      refs.push_back(&t->type);
      break;
    case BTF_KIND_ARRAY:
      refs.push_back(&btf_array(t)->type);
      refs.push_back(&btf_array(t)->index_type);
      break;
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: {
      struct btf_member* m = btf_members(t);
      for (uint16_t i = 0; i < btf_vlen(t); i++) refs.push_back(&m[i].type);
      break;
    }
    case BTF_KIND_FUNC_PROTO: {
      refs.push_back(&t->type);
      struct btf_param* p = btf_params(t);
      for (uint16_t i = 0; i < btf_vlen(t); i++) refs.push_back(&p[i].type);
      break;
    }
    case BTF_KIND_DATASEC: {
      struct btf_var_secinfo* v = btf_var_secinfos(t);
      for (uint16_t i = 0; i < btf_vlen(t); i++) refs.push_back(&v[i].type);
      break;
    }
    default:
      break;
  }
  return refs;
}

// Copies `ids` of `source` and what they reach into `target` (btf__add_type, then every reference
// rewritten to the copies). With `reuse`, a named type `target` already has (same kind and name) is
// used instead of a copy. Returns 0 with the new ids of `ids` in `copied`, or a negative errno.
int CopyTypes(struct btf* target, const struct btf* source, const std::vector<uint32_t>& ids, Pointers pointers,
              bool reuse, std::vector<uint32_t>* copied) {
  std::map<uint32_t, uint32_t> mapped = {{0, 0}};
  std::vector<uint32_t> order;
  std::vector<uint32_t> pending(ids.rbegin(), ids.rend());
  uint32_t count = btf__type_cnt(source);
  // Every type to copy, each once: references are followed before anything is added.
  std::map<uint32_t, bool> seen;
  while (!pending.empty()) {
    uint32_t id = pending.back();
    pending.pop_back();
    if (id >= count) return -EINVAL;
    if (mapped.count(id) != 0 || seen[id]) continue;
    seen[id] = true;
    const struct btf_type* t = btf__type_by_id(source, id);
    const char* name = btf__name_by_offset(source, t->name_off);
    if (reuse && name != nullptr && name[0] != '\0' && btf_kind(t) != BTF_KIND_VAR && btf_kind(t) != BTF_KIND_FUNC) {
      int existing = btf__find_by_name_kind(target, name, btf_kind(t));
      if (existing > 0) {
        mapped[id] = static_cast<uint32_t>(existing);
        continue;
      }
    }
    order.push_back(id);
    if (btf_kind(t) == BTF_KIND_PTR && pointers == Pointers::AsVoid) continue;
    for (uint32_t* ref : References(const_cast<struct btf_type*>(t))) pending.push_back(*ref);
  }
  for (uint32_t id : order) {
    int added = btf__add_type(target, source, btf__type_by_id(source, id));
    if (added < 0) return added;
    mapped[id] = static_cast<uint32_t>(added);
  }
  for (uint32_t id : order) {
    // The copies are btf's own (modifiable) memory: their references are rewritten in place.
    auto* t = const_cast<struct btf_type*>(btf__type_by_id(target, mapped[id]));
    for (uint32_t* ref : References(t)) {
      auto found = mapped.find(*ref);
      *ref = btf_kind(t) == BTF_KIND_PTR && pointers == Pointers::AsVoid ? 0 : found == mapped.end() ? 0 : found->second;
    }
  }
  for (uint32_t id : ids) copied->push_back(mapped[id]);
  return 0;
}

}  // namespace

int LoadTypes(const struct btf* source, const std::vector<uint32_t>& ids, std::vector<uint32_t>* copied) {
  struct btf* btf = btf__new_empty();
  if (btf == nullptr) return -errno;
  int err = CopyTypes(btf, source, ids, Pointers::AsVoid, false, copied);
  if (err == 0) err = btf__load_into_kernel(btf);
  int fd = err == 0 ? fcntl(btf__fd(btf), F_DUPFD_CLOEXEC, 0) : err;
  if (fd < 0 && err == 0) fd = -errno;
  btf__free(btf);
  return fd;
}

Napi::Function BtfHandle::Init(Napi::Env env) {
  return DefineClass(env, "BtfHandle", {
      InstanceAccessor<&BtfHandle::Count>("count"),
      InstanceMethod<&BtfHandle::Types>("types"),
      InstanceMethod<&BtfHandle::Find>("find"),
      InstanceMethod<&BtfHandle::DumpC>("dumpC"),
      InstanceMethod<&BtfHandle::RawData>("rawData"),
      InstanceMethod<&BtfHandle::Add>("add"),
      InstanceMethod<&BtfHandle::AddTypes>("addTypes"),
      InstanceMethod<&BtfHandle::Close>("close"),
  });
}

BtfHandle::BtfHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BtfHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() >= 2 && info[0].IsObject() && info[1].IsExternal()) {
    owner_ = ObjectHandle::Unwrap(info[0].As<Napi::Object>());
    ownerRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    btf_ = info[1].As<Napi::External<struct btf>>().Data();
    return;
  }
  if (!info[0].IsObject()) throw BpfError(env, "btf__parse", "EINVAL", "expected { path }, { vmlinux: true } or { id }");
  Napi::Object source = info[0].As<Napi::Object>();
  const char* op;
  std::string detail;
  if (source.Get("path").IsString()) {
    op = "btf__parse";
    detail = StringArg(env, source.Get("path"), op, "the path");
    btf_ = btf__parse(detail.c_str(), nullptr);
  } else if (source.Get("vmlinux").ToBoolean()) {
    op = "btf__load_vmlinux_btf";
    btf_ = btf__load_vmlinux_btf();
  } else if (source.Get("empty").ToBoolean()) {
    op = "btf__new_empty";
    btf_ = btf__new_empty();
  } else if (source.Get("id").IsNumber()) {
    op = "btf__load_from_kernel_by_id";
    uint32_t id = source.Get("id").As<Napi::Number>().Uint32Value();
    detail = "BTF id " + std::to_string(id);
    btf_ = btf__load_from_kernel_by_id(id);
  } else {
    throw BpfError(env, "btf__parse", "EINVAL", "expected { path }, { vmlinux: true } or { id }");
  }
  if (btf_ == nullptr) throw BpfError(env, op, errno, detail);
  owned_ = true;
}

BtfHandle::~BtfHandle() {
  if (owned_) btf__free(btf_);
}

const struct btf* BtfHandle::Require(Napi::Env env, const char* op) const {
  if (owner_ != nullptr) owner_->Require(env, op, ObjectHandle::Need::Open);
  if (btf_ == nullptr) throw BpfError(env, op, "ECLOSED", "the BTF was closed");
  return btf_;
}

Napi::Value BtfHandle::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), btf__type_cnt(Require(info.Env(), "btf__type_cnt")));
}

// types(first, end) → the type objects with ids first … end-1 (0 is void).
Napi::Value BtfHandle::Types(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const struct btf* btf = Require(env, "btf__type_by_id");
  uint32_t count = btf__type_cnt(btf);
  if (!info[0].IsNumber() || !info[1].IsNumber()) throw BpfError(env, "btf__type_by_id", "EINVAL", "expected two ids");
  uint32_t first = info[0].As<Napi::Number>().Uint32Value();
  uint32_t end = info[1].As<Napi::Number>().Uint32Value();
  if (first > end || end > count) {
    throw BpfError(env, "btf__type_by_id", "EINVAL", "ids out of range (the BTF has " + std::to_string(count) + " types)");
  }
  Napi::Array result = Napi::Array::New(env, end - first);
  for (uint32_t id = first; id < end; id++) result.Set(id - first, Type(env, btf, id));
  return result;
}

// find(name, kind?) → the id of the first type so named (of that kind), or 0.
Napi::Value BtfHandle::Find(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const struct btf* btf = Require(env, "btf__find_by_name");
  std::string name = StringArg(env, info[0], "btf__find_by_name", "the type name");
  int id = info[1].IsNumber() ? btf__find_by_name_kind(btf, name.c_str(), info[1].As<Napi::Number>().Uint32Value())
                              : btf__find_by_name(btf, name.c_str());
  return Napi::Number::New(env, id < 0 ? 0 : id);
}

// dumpC(kfuncs) → every type as C declarations, in id order (libbpf's btf_dump, as bpftool's `format c`);
// with `kfuncs`, then an `extern … __weak __ksym;` prototype of each function tagged bpf_kfunc, as
// bpftool writes them, so that programs calling kfuncs compile against it.
Napi::Value BtfHandle::DumpC(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const struct btf* btf = Require(env, "btf_dump__new");
  bool kfuncs = info[0].ToBoolean().Value();
  std::string out;
  auto print = [](void* context, const char* format, va_list args) {
    auto* text = static_cast<std::string*>(context);
    va_list sizing;
    va_copy(sizing, args);
    int length = vsnprintf(nullptr, 0, format, sizing);
    va_end(sizing);
    if (length <= 0) return;
    size_t at = text->size();
    text->resize(at + static_cast<size_t>(length));
    vsnprintf(text->data() + at, static_cast<size_t>(length) + 1, format, args);
  };
  struct btf_dump* dump = btf_dump__new(btf, print, &out, nullptr);
  if (dump == nullptr) throw BpfError(env, "btf_dump__new", errno);
  uint32_t count = btf__type_cnt(btf);
  int err = 0;
  for (uint32_t id = 1; id < count && err == 0; id++) err = -btf_dump__dump_type(dump, id);
  if (kfuncs && err == 0) {
    out += "\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n";
    LIBBPF_OPTS(btf_dump_emit_type_decl_opts, opts);
    for (uint32_t id = 1; id < count && err == 0; id++) {
      const struct btf_type* tag = btf__type_by_id(btf, id);
      if (!btf_is_decl_tag(tag) || btf_decl_tag(tag)->component_idx != -1) continue;
      if (strcmp(btf__name_by_offset(btf, tag->name_off), "bpf_kfunc") != 0) continue;
      const struct btf_type* func = btf__type_by_id(btf, tag->type);
      if (!btf_is_func(func)) continue;
      out += "extern ";
      opts.field_name = btf__name_by_offset(btf, func->name_off);
      err = -btf_dump__emit_type_decl(dump, func->type, &opts);
      out += " __weak __ksym;\n";
    }
    out += "#endif\n\n";
  }
  btf_dump__free(dump);
  if (err != 0) throw BpfError(env, "btf_dump__dump_type", err);
  return Napi::String::New(env, out);
}

// rawData() → the BTF in its binary form (what btf__parse and btf_custom_path read).
Napi::Value BtfHandle::RawData(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const struct btf* btf = Require(env, "btf__raw_data");
  uint32_t size = 0;
  const void* data = btf__raw_data(btf, &size);
  if (data == nullptr) throw BpfError(env, "btf__raw_data", errno);
  return Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(data), size);
}

// add(other: BtfHandle) → the id the first of other's types got: appends all of other's types
// (btf__add_btf). Only a BTF this handle owns can grow.
Napi::Value BtfHandle::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Require(env, "btf__add_btf");
  if (!owned_) throw BpfError(env, "btf__add_btf", "EINVAL", "an object's BTF cannot grow");
  const struct btf* other = Of(env, info[0], "btf__add_btf");
  int first = btf__add_btf(btf_, other);
  if (first < 0) throw BpfError(env, "btf__add_btf", -first);
  return Napi::Number::New(env, first);
}

// addTypes(other: BtfHandle, ids: number[]) → the ids the copies got: copies types `ids` of `other` and
// what they reach, reusing the named types this BTF has already. Existing ids and strings stay where
// they are, so an object's .BTF.ext still matches. Only a BTF this handle owns can grow.
Napi::Value BtfHandle::AddTypes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* op = "btf__add_type";
  Require(env, op);
  if (!owned_) throw BpfError(env, op, "EINVAL", "an object's BTF cannot grow");
  const struct btf* other = Of(env, info[0], op);
  if (!info[1].IsArray()) throw BpfError(env, op, "EINVAL", "expected type ids");
  Napi::Array array = info[1].As<Napi::Array>();
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value id = array.Get(i);
    if (!id.IsNumber()) throw BpfError(env, op, "EINVAL", "expected type ids");
    ids.push_back(id.As<Napi::Number>().Uint32Value());
  }
  std::vector<uint32_t> copied;
  int err = -CopyTypes(btf_, other, ids, Pointers::Keep, true, &copied);
  if (err != 0) throw BpfError(env, op, err);
  Napi::Array result = Napi::Array::New(env, copied.size());
  for (size_t i = 0; i < copied.size(); i++) result.Set(static_cast<uint32_t>(i), copied[i]);
  return result;
}

const struct btf* BtfHandle::Of(Napi::Env env, Napi::Value value, const char* op) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(Addon::Of(env)->btfClass.Value())) {
    throw BpfError(env, op, "EINVAL", "expected a Btf");
  }
  return Unwrap(value.As<Napi::Object>())->Require(env, op);
}

Napi::Value BtfHandle::Close(const Napi::CallbackInfo& info) {
  if (owned_) btf__free(btf_);
  btf_ = nullptr;
  owned_ = false;
  return info.Env().Undefined();
}

Napi::Object BtfHandle::Type(Napi::Env env, const struct btf* btf, uint32_t id) const {
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", id);
  if (id == 0) {
    out.Set("kind", "void");
    return out;
  }
  const struct btf_type* t = btf__type_by_id(btf, id);
  uint16_t kind = btf_kind(t);
  uint16_t vlen = btf_vlen(t);
  out.Set("kind", KindName(kind));
  out.Set("name", btf__name_by_offset(btf, t->name_off));
  auto name = [&](uint32_t offset) { return Napi::String::New(env, btf__name_by_offset(btf, offset)); };
  switch (kind) {
    case BTF_KIND_INT: {
      uint32_t encoding = btf_int_encoding(t);
      out.Set("size", t->size);
      out.Set("bits", btf_int_bits(t));
      out.Set("bitOffset", btf_int_offset(t));
      out.Set("signed", (encoding & BTF_INT_SIGNED) != 0);
      out.Set("char", (encoding & BTF_INT_CHAR) != 0);
      out.Set("bool", (encoding & BTF_INT_BOOL) != 0);
      break;
    }
    case BTF_KIND_FLOAT:
      out.Set("size", t->size);
      break;
    case BTF_KIND_PTR:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_TYPE_TAG:
      out.Set("type", t->type);
      break;
    case BTF_KIND_ARRAY: {
      const struct btf_array* array = btf_array(t);
      out.Set("type", array->type);
      out.Set("indexType", array->index_type);
      out.Set("length", array->nelems);
      break;
    }
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: {
      out.Set("size", t->size);
      Napi::Array members = Napi::Array::New(env, vlen);
      const struct btf_member* m = btf_members(t);
      for (uint16_t i = 0; i < vlen; i++, m++) {
        Napi::Object member = Napi::Object::New(env);
        member.Set("name", name(m->name_off));
        member.Set("type", m->type);
        member.Set("bitOffset", btf_member_bit_offset(t, i));
        member.Set("bitSize", btf_member_bitfield_size(t, i));
        members.Set(i, member);
      }
      out.Set("members", members);
      break;
    }
    case BTF_KIND_ENUM: {
      bool isSigned = btf_kflag(t);
      out.Set("size", t->size);
      out.Set("signed", isSigned);
      Napi::Array values = Napi::Array::New(env, vlen);
      const struct btf_enum* e = btf_enum(t);
      for (uint16_t i = 0; i < vlen; i++, e++) {
        Napi::Object value = Napi::Object::New(env);
        value.Set("name", name(e->name_off));
        value.Set("value", isSigned ? static_cast<double>(e->val) : static_cast<double>(static_cast<uint32_t>(e->val)));
        values.Set(i, value);
      }
      out.Set("values", values);
      break;
    }
    case BTF_KIND_ENUM64: {
      bool isSigned = btf_kflag(t);
      out.Set("size", t->size);
      out.Set("signed", isSigned);
      Napi::Array values = Napi::Array::New(env, vlen);
      const struct btf_enum64* e = btf_enum64(t);
      for (uint16_t i = 0; i < vlen; i++, e++) {
        uint64_t raw = btf_enum64_value(e);
        Napi::Object value = Napi::Object::New(env);
        value.Set("name", name(e->name_off));
        value.Set("value", isSigned ? Napi::BigInt::New(env, static_cast<int64_t>(raw)) : Napi::BigInt::New(env, raw));
        values.Set(i, value);
      }
      out.Set("values", values);
      break;
    }
    case BTF_KIND_FWD:
      out.Set("union", btf_kflag(t));
      break;
    case BTF_KIND_FUNC:
      out.Set("type", t->type);
      out.Set("linkage", Linkage(btf_vlen(t)));
      break;
    case BTF_KIND_FUNC_PROTO: {
      out.Set("type", t->type);
      Napi::Array params = Napi::Array::New(env, vlen);
      const struct btf_param* p = btf_params(t);
      for (uint16_t i = 0; i < vlen; i++, p++) {
        Napi::Object param = Napi::Object::New(env);
        param.Set("name", name(p->name_off));
        param.Set("type", p->type);
        params.Set(i, param);
      }
      out.Set("params", params);
      break;
    }
    case BTF_KIND_VAR:
      out.Set("type", t->type);
      out.Set("linkage", Linkage(btf_var(t)->linkage));
      break;
    case BTF_KIND_DATASEC: {
      out.Set("size", t->size);
      Napi::Array vars = Napi::Array::New(env, vlen);
      const struct btf_var_secinfo* v = btf_var_secinfos(t);
      for (uint16_t i = 0; i < vlen; i++, v++) {
        Napi::Object var = Napi::Object::New(env);
        var.Set("type", v->type);
        var.Set("offset", v->offset);
        var.Set("size", v->size);
        vars.Set(i, var);
      }
      out.Set("vars", vars);
      break;
    }
    case BTF_KIND_DECL_TAG:
      out.Set("type", t->type);
      out.Set("componentIndex", btf_decl_tag(t)->component_idx);
      break;
    default:
      break;
  }
  return out;
}

}  // namespace bpfkit
