#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>

#include "core/base64.h"
#include "sandbox/emulator/protobuf_decode.h"

using namespace sluice::sandbox;
using nlohmann::json;

namespace {
// Bodies captured from kubectl v1.32 `kubectl create ...` against a loopback listener that
// saved each POST body (see tests/sandbox/testdata/README.md).
std::string Captured(const std::string& name) {
  std::string path = std::string(SLUICE_SOURCE_DIR) + "/tests/sandbox/testdata/" + name;
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A minimal protobuf writer for hand-built bodies.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(uint64_t number, int wire) { return Varint(number << 3 | static_cast<uint64_t>(wire)); }
std::string Len(uint64_t number, const std::string& payload) { return Tag(number, 2) + Varint(payload.size()) + payload; }
std::string Int(uint64_t number, uint64_t v) { return Tag(number, 0) + Varint(v); }
std::string Entry(uint64_t number, const std::string& key, const std::string& value) {
  return Len(number, Len(1, key) + Len(2, value));
}
const std::string kMagic("k8s\0", 4);
std::string Envelope(const std::string& api_version, const std::string& kind, const std::string& raw) {
  return kMagic + Len(1, Len(1, api_version) + Len(2, kind)) + Len(2, raw) + Len(3, "") + Len(4, "");
}

std::string ErrorOf(const std::string& body) {
  try {
    DecodeKubernetesProtobuf(body);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no error)";
}

// Garbage must either decode to JSON that serializes, or be refused with invalid_argument.
void DecodeOrRefuse(const std::string& body) {
  try {
    json j = DecodeKubernetesProtobuf(body);
    (void)j.dump();
  } catch (const std::invalid_argument&) {
  }
}
}  // namespace

TEST_CASE("kubectl create namespace body decodes", "[sandbox][protobuf]") {
  json got = DecodeKubernetesProtobuf(Captured("kubectl_namespace.pb"));
  CHECK(got == json{{"apiVersion", "v1"},
                    {"kind", "Namespace"},
                    {"metadata", {{"name", "team-a"}}},
                    {"spec", json::object()},
                    {"status", json::object()}});
}

TEST_CASE("kubectl create configmap --from-literal body decodes", "[sandbox][protobuf]") {
  json got = DecodeKubernetesProtobuf(Captured("kubectl_configmap_literal.pb"));
  CHECK(got == json{{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", "app-config"}, {"namespace", "team-a"}}},
                    {"data", {{"greeting", "hello"}, {"empty", ""}}}});
}

TEST_CASE("kubectl create configmap --from-file of binary bytes goes to binaryData in base64", "[sandbox][protobuf]") {
  json got = DecodeKubernetesProtobuf(Captured("kubectl_configmap_binary.pb"));
  CHECK(got == json{{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", "bin-config"}, {"namespace", "team-a"}}},
                    {"data", {{"text", "plain"}}},
                    {"binaryData", {{"blob", sluice::core::Base64Encode(std::string("\x00\xff\xfe\x80" "binary\n", 11))}}}});
}

TEST_CASE("kubectl create secret generic body decodes with base64 data", "[sandbox][protobuf]") {
  json got = DecodeKubernetesProtobuf(Captured("kubectl_secret_generic.pb"));
  CHECK(got == json{{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata", {{"name", "db-creds"}, {"namespace", "team-a"}}},
                    {"data", {{"user", "YWRtaW4="}, {"password", "cEBzcyB3MHJkIQ=="}}}});
  CHECK(sluice::core::Base64Decode(got["data"]["password"].get<std::string>()) == "p@ss w0rd!");
}

TEST_CASE("kubectl create secret generic --type keeps the type", "[sandbox][protobuf]") {
  json got = DecodeKubernetesProtobuf(Captured("kubectl_secret_typed.pb"));
  CHECK(got == json{{"apiVersion", "v1"},
                    {"kind", "Secret"},
                    {"metadata", {{"name", "basic"}, {"namespace", "team-a"}}},
                    {"data", {{"username", "Ym9i"}}},
                    {"type", "kubernetes.io/basic-auth"}});
}

TEST_CASE("protobuf bodies of other kinds are refused naming the kind", "[sandbox][protobuf]") {
  std::string deploy = ErrorOf(Captured("kubectl_deployment.pb"));
  CHECK(deploy == "protobuf bodies are decoded for v1 Namespace, ConfigMap, Secret; send JSON for apps/v1 Deployment");
  CHECK_THAT(ErrorOf(Captured("kubectl_service_clusterip.pb")), Catch::Contains("send JSON for v1 Service"));
  // A core kind name in another group is not the core kind.
  CHECK_THAT(ErrorOf(Envelope("example.com/v1", "Secret", "")), Catch::Contains("send JSON for example.com/v1 Secret"));
}

TEST_CASE("hand-built ObjectMeta: every field, unknown fields of each wire type skipped", "[sandbox][protobuf]") {
  std::string time = Int(1, 1700000000) + Int(2, 5);
  std::string owner = Len(5, "apps/v1") + Len(1, "ReplicaSet") + Len(3, "web-1") + Len(4, "u-1") + Int(6, 1) + Int(7, 0);
  std::string managed = Len(1, "kubectl") + Len(2, "Update") + Len(3, "v1") + Len(4, time) + Len(6, "FieldsV1") +
                        Len(7, Len(1, R"({"f:data":{}})"));
  std::string unknown = Int(99, 7) + Tag(98, 1) + std::string(8, '\x01') + Tag(97, 5) + std::string(4, '\x02') +
                        Len(96, "ignored");
  std::string meta = Len(1, "cfg") + Len(2, "cfg-") + Len(3, "ns") + Len(5, "uid-1") + Len(6, "42") + Int(7, 3) +
                     Len(8, time) + Int(10, 30) + Entry(11, "app", "web") + Entry(11, "tier", "old") +
                     Entry(11, "tier", "front") + Entry(12, "note", "ünïcode") + Len(13, owner) + Len(14, "a/b") +
                     Len(14, "c/d") + Len(17, managed) + unknown;
  std::string raw = Len(1, meta) + Entry(2, "k", "v") + Int(4, 1) + unknown;
  json got = DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", raw) + unknown);
  json want_meta = {{"name", "cfg"},
                    {"generateName", "cfg-"},
                    {"namespace", "ns"},
                    {"uid", "uid-1"},
                    {"resourceVersion", "42"},
                    {"generation", 3},
                    {"creationTimestamp", "2023-11-14T22:13:20Z"},
                    {"deletionGracePeriodSeconds", 30},
                    {"labels", {{"app", "web"}, {"tier", "front"}}},
                    {"annotations", {{"note", "ünïcode"}}},
                    {"ownerReferences",
                     {{{"apiVersion", "apps/v1"},
                       {"kind", "ReplicaSet"},
                       {"name", "web-1"},
                       {"uid", "u-1"},
                       {"controller", true},
                       {"blockOwnerDeletion", false}}}},
                    {"finalizers", {"a/b", "c/d"}},
                    {"managedFields",
                     {{{"manager", "kubectl"},
                       {"operation", "Update"},
                       {"apiVersion", "v1"},
                       {"time", "2023-11-14T22:13:20Z"},
                       {"fieldsType", "FieldsV1"},
                       {"fieldsV1", {{"f:data", json::object()}}}}}}};
  CHECK(got == json{{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", want_meta},
                    {"data", {{"k", "v"}}},
                    {"immutable", true}});
}

TEST_CASE("hand-built Secret with stringData and immutable false, Namespace finalizers and phase", "[sandbox][protobuf]") {
  std::string secret = Len(1, Len(1, "s")) + Entry(4, "token", "plain text") + Len(3, "Opaque") + Int(5, 0) +
                       Entry(2, "bin", std::string("\x00\x01", 2));
  CHECK(DecodeKubernetesProtobuf(Envelope("v1", "Secret", secret)) ==
        json{{"apiVersion", "v1"},
             {"kind", "Secret"},
             {"metadata", {{"name", "s"}}},
             {"stringData", {{"token", "plain text"}}},
             {"type", "Opaque"},
             {"immutable", false},
             {"data", {{"bin", "AAE="}}}});
  std::string ns = Len(1, Len(1, "n") + Len(8, "")) + Len(2, Len(1, "kubernetes")) + Len(3, Len(1, "Active"));
  CHECK(DecodeKubernetesProtobuf(Envelope("v1", "Namespace", ns)) ==
        json{{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata", {{"name", "n"}}},
             {"spec", {{"finalizers", {"kubernetes"}}}},
             {"status", {{"phase", "Active"}}}});
  // Without the object fields at all there is still a typed, empty object.
  CHECK(DecodeKubernetesProtobuf(Envelope("v1", "ConfigMap", "")) == json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}});
}

TEST_CASE("malformed protobuf bodies are refused with the offset and what was expected", "[sandbox][protobuf]") {
  CHECK_THAT(ErrorOf(""), Catch::Contains("at byte 0") && Catch::Contains("\"k8s\\0\""));
  CHECK_THAT(ErrorOf("{\"kind\":\"Namespace\"}"), Catch::Contains("prefix \"k8s\\0\""));
  CHECK_THAT(ErrorOf(kMagic), Catch::Contains("no typeMeta.kind"));
  CHECK_THAT(ErrorOf(kMagic + Len(1, Len(1, "v1") + Len(2, "Secret"))), Catch::Contains("no raw object bytes"));

  // ObjectMeta.name sent as a varint: the tag sits at byte 4 (magic) + 14 (typeMeta) + 2 (raw tag
  // and length) + 2 (metadata tag and length) = 22.
  std::string bad_name = Envelope("v1", "Secret", Len(1, Int(1, 5)));
  CHECK(ErrorOf(bad_name) ==
        "protobuf body: at byte 22 in Secret.metadata: field 1 (name) has wire type 0 (varint), expected 2 "
        "(length-delimited)");

  // A length running past the end of its message.
  std::string overrun = Envelope("v1", "Secret", Tag(1, 2) + Varint(50) + "abc");
  CHECK_THAT(ErrorOf(overrun), Catch::Contains("in Secret") && Catch::Contains("of 50 bytes, but only 3 remain"));

  std::string long_varint = kMagic + Tag(15, 0) + std::string(11, '\xff');
  CHECK_THAT(ErrorOf(long_varint), Catch::Contains("at byte 5 in runtime.Unknown") && Catch::Contains("longer than"));

  CHECK_THAT(ErrorOf(kMagic + Tag(1, 3)), Catch::Contains("wire type 3") && Catch::Contains("expected 0 (varint)"));
  CHECK_THAT(ErrorOf(kMagic + Tag(0, 0) + Varint(1)), Catch::Contains("field number 0"));
  CHECK_THAT(ErrorOf(Envelope("v1", "ConfigMap", Len(1, Len(1, "\xc3\x28")))),
             Catch::Contains("name is not valid UTF-8"));
  CHECK_THAT(ErrorOf(Envelope("v1", "ConfigMap", Entry(2, "k", "\xed\xa0\x80"))),
             Catch::Contains("value is not valid UTF-8"));
  CHECK_THAT(ErrorOf(kMagic + Len(1, Len(1, "v1") + Len(2, "Secret")) + Len(2, "") + Len(3, "gzip")),
             Catch::Contains("contentEncoding \"gzip\" is not supported"));
  CHECK_THAT(ErrorOf(kMagic + Len(1, Len(1, "v1") + Len(2, "Secret")) + Len(2, "") + Len(4, "application/json")),
             Catch::Contains("contentType \"application/json\" is not supported"));
  CHECK_THAT(ErrorOf(Envelope("v1", "Namespace", Len(1, Len(8, Int(1, 1ULL << 40))))),
             Catch::Contains("outside years 0001..9999"));
  CHECK_THAT(ErrorOf(Envelope("v1", "ConfigMap", Len(1, Len(17, Len(7, Len(1, "[1]")))))),
             Catch::Contains("fieldsV1 Raw is not a JSON object"));
}

TEST_CASE("truncated and mutated kubectl bodies never crash", "[sandbox][protobuf]") {
  for (const char* name : {"kubectl_namespace.pb", "kubectl_configmap_literal.pb", "kubectl_configmap_binary.pb",
                           "kubectl_secret_generic.pb", "kubectl_secret_typed.pb"}) {
    std::string body = Captured(name);
    for (size_t n = 0; n < body.size(); ++n) DecodeOrRefuse(body.substr(0, n));
    // Cut inside the object's bytes: the raw length now overruns the body.
    CHECK_THROWS_AS(DecodeKubernetesProtobuf(body.substr(0, body.size() / 2)), std::invalid_argument);
  }
  std::mt19937 rng(20261126);
  std::string base = Captured("kubectl_secret_generic.pb");
  for (int i = 0; i < 20000; ++i) {
    std::string body = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) body[rng() % body.size()] = static_cast<char>(rng() & 0xFF);
    DecodeOrRefuse(body);
  }
  for (int i = 0; i < 5000; ++i) {
    std::string body = kMagic;
    size_t n = rng() % 64;
    for (size_t k = 0; k < n; ++k) body.push_back(static_cast<char>(rng() & 0xFF));
    DecodeOrRefuse(body);
  }
}
