#include "sandbox/emulator/protobuf_decode.h"

#include <cstdint>
#include <ctime>
#include <stdexcept>
#include <string>

#include "core/base64.h"

namespace sluice::sandbox {
namespace {
using nlohmann::json;

// Protobuf wire types; 3 and 4 (groups) never occur in Kubernetes messages.
enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

const char* WireTypeName(int wire) {
  switch (wire) {
    case kVarint: return "varint";
    case kFixed64: return "64-bit";
    case kLengthDelimited: return "length-delimited";
    case kFixed32: return "32-bit";
    default: return "unsupported";
  }
}

bool ValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

struct Field {
  uint64_t number;
  int wire;
  size_t offset;  // of the tag, from the start of the body
};

// A cursor over one message's bytes. Offsets in errors count from the start of the request
// body so a bad byte can be found with a hex dump of what the client sent.
class Reader {
 public:
  Reader(std::string_view data, size_t base, std::string message)
      : data_(data), base_(base), message_(std::move(message)) {}

  bool AtEnd() const { return pos_ == data_.size(); }

  Field NextField() {
    size_t at = Offset();
    uint64_t tag = Varint("a field tag");
    Field f{tag >> 3, static_cast<int>(tag & 7), at};
    if (f.number == 0 || f.number > 0x1FFFFFFF) Fail(at, "field tag names field number " + std::to_string(f.number) + ", expected 1..536870911");
    if (f.wire != kVarint && f.wire != kFixed64 && f.wire != kLengthDelimited && f.wire != kFixed32)
      Fail(at, "field " + std::to_string(f.number) + " has wire type " + std::to_string(f.wire) +
                   ", expected 0 (varint), 1 (64-bit), 2 (length-delimited) or 5 (32-bit)");
    return f;
  }

  void Skip(const Field& f) {
    switch (f.wire) {
      case kVarint: Varint("a varint value"); break;
      case kFixed64: Take(8, "an 8-byte value"); break;
      case kFixed32: Take(4, "a 4-byte value"); break;
      default: LengthDelimited("a length-delimited value"); break;
    }
  }

  std::string_view Bytes(const Field& f, const char* name) {
    Expect(f, kLengthDelimited, name);
    return LengthDelimited(name);
  }

  std::string String(const Field& f, const char* name) {
    size_t at = Offset();
    std::string_view s = Bytes(f, name);
    if (!ValidUtf8(s)) Fail(at, std::string("field ") + name + " is not valid UTF-8, expected a string");
    return std::string(s);
  }

  uint64_t Uint(const Field& f, const char* name) {
    Expect(f, kVarint, name);
    return Varint(name);
  }

  int64_t Int(const Field& f, const char* name) { return static_cast<int64_t>(Uint(f, name)); }

  bool Bool(const Field& f, const char* name) { return Uint(f, name) != 0; }

  Reader Message(const Field& f, const char* name, std::string message) {
    Expect(f, kLengthDelimited, name);
    std::string_view bytes = LengthDelimited(name);
    // The payload ends where the cursor now stands, just after the length prefix and the bytes.
    return Reader(bytes, Offset() - bytes.size(), std::move(message));
  }

  [[noreturn]] void Fail(size_t at, const std::string& what) const {
    throw std::invalid_argument("protobuf body: at byte " + std::to_string(at) + " in " + message_ + ": " + what);
  }

  const std::string& message() const { return message_; }
  std::string_view data() const { return data_; }
  size_t base() const { return base_; }

 private:
  size_t Offset() const { return base_ + pos_; }

  void Expect(const Field& f, int wire, const char* name) const {
    if (f.wire != wire)
      Fail(f.offset, std::string("field ") + std::to_string(f.number) + " (" + name + ") has wire type " +
                         std::to_string(f.wire) + " (" + WireTypeName(f.wire) + "), expected " + std::to_string(wire) +
                         " (" + WireTypeName(wire) + ")");
  }

  uint64_t Varint(const std::string& what) {
    size_t at = Offset();
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) Fail(at, "the message ends inside a varint, expected " + what);
      auto b = static_cast<unsigned char>(data_[pos_++]);
      if (shift == 63 && b > 1) Fail(at, "varint is longer than 64 bits, expected " + what);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail(at, "varint is longer than 10 bytes, expected " + what);
  }

  std::string_view Take(uint64_t n, const std::string& what) {
    if (n > data_.size() - pos_)
      Fail(Offset(), "expected " + what + " of " + std::to_string(n) + " bytes, but only " +
                         std::to_string(data_.size() - pos_) + " remain in the message");
    std::string_view out = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }

  std::string_view LengthDelimited(const std::string& what) { return Take(Varint("the length of " + what), what); }

  std::string_view data_;
  size_t pos_ = 0;
  size_t base_;
  std::string message_;
};

// metav1.Time marshals to JSON as RFC 3339 in UTC with whole seconds.
json DecodeTime(Reader r) {
  int64_t seconds = 0;
  while (!r.AtEnd()) {
    Field f = r.NextField();
    if (f.number == 1)
      seconds = r.Int(f, "seconds");
    else
      r.Skip(f);  // nanos: the JSON form has whole seconds
  }
  // Year 1 to year 9999, the range RFC 3339 can express.
  if (seconds < -62135596800LL || seconds > 253402300799LL)
    r.Fail(r.base(), "seconds " + std::to_string(seconds) + " is outside years 0001..9999, expected a timestamp");
  std::time_t t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  char buf[32];
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    r.Fail(r.base(), "seconds " + std::to_string(seconds) + " cannot be formatted as a timestamp");
  return buf;
}

bool IsZeroTime(Reader r) {
  while (!r.AtEnd()) {
    Field f = r.NextField();
    if ((f.number == 1 || f.number == 2) && r.Uint(f, f.number == 1 ? "seconds" : "nanos") != 0) return false;
    if (f.number != 1 && f.number != 2) r.Skip(f);
  }
  return true;
}

// Map fields are repeated entries {1: key, 2: value}; a later duplicate key wins, as in protobuf.
void DecodeMapEntry(Reader& outer, const Field& f, const char* name, json& into, bool bytes_values) {
  Reader entry = outer.Message(f, name, outer.message() + "." + name + " entry");
  std::string key;
  json value = "";
  while (!entry.AtEnd()) {
    Field ef = entry.NextField();
    if (ef.number == 1)
      key = entry.String(ef, "key");
    else if (ef.number == 2)
      value = bytes_values ? json(core::Base64Encode(entry.Bytes(ef, "value"))) : json(entry.String(ef, "value"));
    else
      entry.Skip(ef);
  }
  if (!into.is_object()) into = json::object();
  into[key] = std::move(value);
}

void SetString(json& obj, const char* key, std::string value) {
  if (!value.empty()) obj[key] = std::move(value);
}

json DecodeOwnerReference(Reader r) {
  json o = {{"apiVersion", ""}, {"kind", ""}, {"name", ""}, {"uid", ""}};
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: o["kind"] = r.String(f, "kind"); break;
      case 3: o["name"] = r.String(f, "name"); break;
      case 4: o["uid"] = r.String(f, "uid"); break;
      case 5: o["apiVersion"] = r.String(f, "apiVersion"); break;
      case 6: o["controller"] = r.Bool(f, "controller"); break;
      case 7: o["blockOwnerDeletion"] = r.Bool(f, "blockOwnerDeletion"); break;
      default: r.Skip(f);
    }
  }
  return o;
}

// FieldsV1 holds the field set as raw JSON bytes in its field 1.
json DecodeFieldsV1(Reader r) {
  json out = json::object();
  while (!r.AtEnd()) {
    Field f = r.NextField();
    if (f.number != 1) {
      r.Skip(f);
      continue;
    }
    std::string raw = r.String(f, "Raw");
    out = json::parse(raw, nullptr, false);
    if (out.is_discarded() || !out.is_object()) r.Fail(f.offset, "fieldsV1 Raw is not a JSON object");
  }
  return out;
}

json DecodeManagedFieldsEntry(Reader r) {
  json o = json::object();
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: SetString(o, "manager", r.String(f, "manager")); break;
      case 2: SetString(o, "operation", r.String(f, "operation")); break;
      case 3: SetString(o, "apiVersion", r.String(f, "apiVersion")); break;
      case 4: {
        Reader t = r.Message(f, "time", "ManagedFieldsEntry.time");
        if (!IsZeroTime(t)) o["time"] = DecodeTime(t);
        break;
      }
      case 6: SetString(o, "fieldsType", r.String(f, "fieldsType")); break;
      case 7: o["fieldsV1"] = DecodeFieldsV1(r.Message(f, "fieldsV1", "FieldsV1")); break;
      case 8: SetString(o, "subresource", r.String(f, "subresource")); break;
      default: r.Skip(f);
    }
  }
  return o;
}

// Field numbers from k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto.
json DecodeObjectMeta(Reader r) {
  json m = json::object();
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: SetString(m, "name", r.String(f, "name")); break;
      case 2: SetString(m, "generateName", r.String(f, "generateName")); break;
      case 3: SetString(m, "namespace", r.String(f, "namespace")); break;
      case 4: SetString(m, "selfLink", r.String(f, "selfLink")); break;
      case 5: SetString(m, "uid", r.String(f, "uid")); break;
      case 6: SetString(m, "resourceVersion", r.String(f, "resourceVersion")); break;
      case 7: {
        int64_t g = r.Int(f, "generation");
        if (g != 0) m["generation"] = g;
        else m.erase("generation");
        break;
      }
      case 8: {
        Reader t = r.Message(f, "creationTimestamp", "ObjectMeta.creationTimestamp");
        if (IsZeroTime(t)) m.erase("creationTimestamp");
        else m["creationTimestamp"] = DecodeTime(t);
        break;
      }
      case 9: m["deletionTimestamp"] = DecodeTime(r.Message(f, "deletionTimestamp", "ObjectMeta.deletionTimestamp")); break;
      case 10: m["deletionGracePeriodSeconds"] = r.Int(f, "deletionGracePeriodSeconds"); break;
      case 11: DecodeMapEntry(r, f, "labels", m["labels"], false); break;
      case 12: DecodeMapEntry(r, f, "annotations", m["annotations"], false); break;
      case 13: m["ownerReferences"].push_back(DecodeOwnerReference(r.Message(f, "ownerReferences", "OwnerReference"))); break;
      case 14: m["finalizers"].push_back(r.String(f, "finalizers")); break;
      case 17: m["managedFields"].push_back(DecodeManagedFieldsEntry(r.Message(f, "managedFields", "ManagedFieldsEntry"))); break;
      default: r.Skip(f);
    }
  }
  return m;
}

// Field numbers for the objects below are from k8s.io/api/core/v1/generated.proto.
void DecodeConfigMap(Reader r, json& obj) {
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: obj["metadata"] = DecodeObjectMeta(r.Message(f, "metadata", "ConfigMap.metadata")); break;
      case 2: DecodeMapEntry(r, f, "data", obj["data"], false); break;
      case 3: DecodeMapEntry(r, f, "binaryData", obj["binaryData"], true); break;
      case 4: obj["immutable"] = r.Bool(f, "immutable"); break;
      default: r.Skip(f);
    }
  }
}

void DecodeSecret(Reader r, json& obj) {
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: obj["metadata"] = DecodeObjectMeta(r.Message(f, "metadata", "Secret.metadata")); break;
      case 2: DecodeMapEntry(r, f, "data", obj["data"], true); break;
      case 3: SetString(obj, "type", r.String(f, "type")); break;
      case 4: DecodeMapEntry(r, f, "stringData", obj["stringData"], false); break;
      case 5: obj["immutable"] = r.Bool(f, "immutable"); break;
      default: r.Skip(f);
    }
  }
}

json DecodeNamespaceSpec(Reader r) {
  json spec = json::object();
  while (!r.AtEnd()) {
    Field f = r.NextField();
    if (f.number == 1)
      spec["finalizers"].push_back(r.String(f, "finalizers"));
    else
      r.Skip(f);
  }
  return spec;
}

// Only the phase: status conditions are set by the server, never meaningfully by a create.
json DecodeNamespaceStatus(Reader r) {
  json status = json::object();
  while (!r.AtEnd()) {
    Field f = r.NextField();
    if (f.number == 1)
      SetString(status, "phase", r.String(f, "phase"));
    else
      r.Skip(f);
  }
  return status;
}

void DecodeNamespace(Reader r, json& obj) {
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: obj["metadata"] = DecodeObjectMeta(r.Message(f, "metadata", "Namespace.metadata")); break;
      case 2: obj["spec"] = DecodeNamespaceSpec(r.Message(f, "spec", "NamespaceSpec")); break;
      case 3: obj["status"] = DecodeNamespaceStatus(r.Message(f, "status", "NamespaceStatus")); break;
      default: r.Skip(f);
    }
  }
}

constexpr std::string_view kMagic{"k8s\0", 4};

struct Envelope {
  std::string api_version;
  std::string kind;
  std::string_view raw;
  size_t raw_offset = 0;
};

void DecodeTypeMeta(Reader r, Envelope& env) {
  while (!r.AtEnd()) {
    Field f = r.NextField();
    if (f.number == 1)
      env.api_version = r.String(f, "apiVersion");
    else if (f.number == 2)
      env.kind = r.String(f, "kind");
    else
      r.Skip(f);
  }
}

// runtime.Unknown from k8s.io/apimachinery/pkg/runtime/generated.proto.
Envelope DecodeEnvelope(std::string_view body) {
  if (body.size() < kMagic.size() || body.substr(0, kMagic.size()) != kMagic)
    throw std::invalid_argument(
        "protobuf body: at byte 0: expected the 4-byte prefix \"k8s\\0\" of a Kubernetes protobuf body");
  Reader r(body.substr(kMagic.size()), kMagic.size(), "runtime.Unknown");
  Envelope env;
  bool have_raw = false;
  while (!r.AtEnd()) {
    Field f = r.NextField();
    switch (f.number) {
      case 1: DecodeTypeMeta(r.Message(f, "typeMeta", "runtime.TypeMeta"), env); break;
      case 2: {
        Reader raw = r.Message(f, "raw", "runtime.Unknown.raw");
        env.raw = raw.data();
        env.raw_offset = raw.base();
        break;
      }
      case 3: {
        std::string enc = r.String(f, "contentEncoding");
        if (!enc.empty()) r.Fail(f.offset, "contentEncoding \"" + enc + "\" is not supported, expected none");
        break;
      }
      case 4: {
        std::string ct = r.String(f, "contentType");
        if (!ct.empty() && ct != "application/vnd.kubernetes.protobuf")
          r.Fail(f.offset, "contentType \"" + ct + "\" is not supported, expected application/vnd.kubernetes.protobuf");
        break;
      }
      default: r.Skip(f);
    }
    have_raw = have_raw || f.number == 2;
  }
  if (env.kind.empty())
    throw std::invalid_argument("protobuf body: the runtime.Unknown envelope has no typeMeta.kind, expected the object's kind");
  if (!have_raw) throw std::invalid_argument("protobuf body: the runtime.Unknown envelope has no raw object bytes");
  return env;
}

}  // namespace

json DecodeKubernetesProtobuf(std::string_view body) {
  Envelope env = DecodeEnvelope(body);
  using DecodeFn = void (*)(Reader, json&);
  DecodeFn decode = nullptr;
  if (env.api_version == "v1" && env.kind == "Namespace") decode = DecodeNamespace;
  if (env.api_version == "v1" && env.kind == "ConfigMap") decode = DecodeConfigMap;
  if (env.api_version == "v1" && env.kind == "Secret") decode = DecodeSecret;
  if (decode == nullptr)
    throw std::invalid_argument("protobuf bodies are decoded for v1 Namespace, ConfigMap, Secret; send JSON for " +
                                (env.api_version.empty() ? std::string() : env.api_version + " ") + env.kind);
  json obj = {{"apiVersion", env.api_version}, {"kind", env.kind}};
  decode(Reader(env.raw, env.raw_offset, env.kind), obj);
  return obj;
}

}  // namespace sluice::sandbox
