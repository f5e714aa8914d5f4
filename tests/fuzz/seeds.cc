// Seed inputs for the fuzz targets, made from the project's own YAML (examples/, crds/, the
// test data): scripts/fuzz.sh runs it once per target before fuzzing.
//
//   sluice_fuzz_seeds yaml    OUT FILE...              each document as text
//   sluice_fuzz_seeds json    OUT [--kind K]... FILE...  each document (of those kinds) as JSON
//   sluice_fuzz_seeds strings OUT --key K... FILE...   every string value under those keys
//   sluice_fuzz_seeds schemas OUT FILE...              [openAPIV3Schema, object] of each CRD version
//   sluice_fuzz_seeds pairs   OUT FILE...              [a, b] for documents of the same kind (no CRDs)
//
// Seeds larger than the fuzzers' input limit (scripts/fuzz.sh's -max_len) are left out.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/yaml_json.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxSeed = 64 * 1024;

struct Args {
  std::string mode;
  fs::path out;
  std::set<std::string> kinds, keys;
  std::vector<std::string> files;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int written = 0;

void Write(const fs::path& dir, const std::string& content) {
  if (content.empty() || content.size() > kMaxSeed) return;
  char name[32];
  std::snprintf(name, sizeof name, "seed-%016zx", std::hash<std::string>{}(content));
  std::ofstream(dir / name, std::ios::binary) << content;
  ++written;
}

// Documents of every file, a v1 List standing for its items; files that do not parse are
// skipped (they still seed the text targets through `yaml`).
std::vector<json> Documents(const std::vector<std::string>& files) {
  std::vector<json> out;
  for (const auto& f : files) {
    try {
      for (auto& doc : sluice::core::ParseYamlDocuments(ReadFile(f))) {
        if (doc.is_object() && doc.value("kind", "") == "List" && doc.contains("items") && doc["items"].is_array()) {
          for (auto& item : doc["items"]) out.push_back(item);
        } else {
          out.push_back(std::move(doc));
        }
      }
    } catch (const std::exception& e) {
      std::cerr << "sluice_fuzz_seeds: skipping " << f << ": " << e.what() << "\n";
    }
  }
  return out;
}

std::string Kind(const json& doc) { return doc.is_object() ? doc.value("kind", "") : ""; }

void Strings(const json& v, const std::set<std::string>& keys, const fs::path& out) {
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (keys.count(it.key()) && it.value().is_string()) Write(out, it.value().get<std::string>());
      Strings(it.value(), keys, out);
    }
  } else if (v.is_array()) {
    for (const auto& child : v) Strings(child, keys, out);
  }
}

// Each document's text, split at "---" lines as manifests.cc splits a file.
void YamlTexts(const std::vector<std::string>& files, const fs::path& out) {
  for (const auto& f : files) {
    std::string text = ReadFile(f), current;
    Write(out, text);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("---", 0) == 0) {
        Write(out, current);
        current.clear();
      } else {
        current += line + "\n";
      }
    }
    Write(out, current);
  }
}

void Schemas(const std::vector<json>& docs, const fs::path& out) {
  for (const auto& crd : docs) {
    if (Kind(crd) != "CustomResourceDefinition" || !crd.contains("spec") || !crd["spec"].is_object()) continue;
    const json& spec = crd["spec"];
    std::string group = spec.value("group", "");
    std::string kind = spec.contains("names") && spec["names"].is_object() ? spec["names"].value("kind", "") : "";
    for (const auto& version : spec.value("versions", json::array())) {
      if (!version.is_object() || !version.contains("schema") || !version["schema"].is_object()) continue;
      json schema = version["schema"].value("openAPIV3Schema", json::object());
      Write(out, json::array({schema, json::object()}).dump());
      for (const auto& doc : docs)
        if (Kind(doc) == kind && doc.value("apiVersion", "").rfind(group + "/", 0) == 0)
          Write(out, json::array({schema, doc}).dump());
    }
  }
}

// CRDs are left out: they are large, and what patches merge is workloads and their lists.
void Pairs(const std::vector<json>& docs, const fs::path& out) {
  std::map<std::string, std::vector<const json*>> by_kind;
  for (const auto& d : docs)
    if (Kind(d) != "CustomResourceDefinition") by_kind[Kind(d)].push_back(&d);
  for (const auto& [kind, group] : by_kind)
    for (size_t i = 0; i < group.size(); ++i)
      for (size_t j = 0; j < group.size() && j < 8; ++j)
        if (i != j || group.size() == 1) Write(out, json::array({*group[i], *group[j]}).dump());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: sluice_fuzz_seeds yaml|json|strings|schemas|pairs OUT [--kind K] [--key K] FILE...\n";
    return 2;
  }
  Args a{argv[1], argv[2], {}, {}, {}};
  for (int i = 3; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--kind" || arg == "--key") && i + 1 < argc)
      (arg == "--kind" ? a.kinds : a.keys).insert(argv[++i]);
    else
      a.files.push_back(arg);
  }
  fs::create_directories(a.out);
  if (a.mode == "yaml") {
    YamlTexts(a.files, a.out);
  } else if (a.mode == "json") {
    for (const auto& doc : Documents(a.files))
      if (a.kinds.empty() || a.kinds.count(Kind(doc))) Write(a.out, doc.dump());
  } else if (a.mode == "strings") {
    for (const auto& doc : Documents(a.files)) Strings(doc, a.keys, a.out);
  } else if (a.mode == "schemas") {
    Schemas(Documents(a.files), a.out);
  } else if (a.mode == "pairs") {
    Pairs(Documents(a.files), a.out);
  } else {
    std::cerr << "sluice_fuzz_seeds: unknown mode " << a.mode << "\n";
    return 2;
  }
  std::cout << written << "\n";
  return 0;
}
