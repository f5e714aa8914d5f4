#include "sandbox/demo/app.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "core/yaml_json.h"

namespace sluice::demo {

namespace fs = std::filesystem;

namespace {

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the value of the first line matching `prefix_re`, keeping its indentation and key.
std::string ReplaceLine(const std::string& text, const std::string& prefix_re, const std::string& value,
                        const std::string& what) {
  std::regex re("(^|\\n)([ \\t]*" + prefix_re + ")[^\\n]*");
  std::smatch m;
  if (!std::regex_search(text, m, re))
    throw std::invalid_argument("deployment.yaml: no line " + what + " to set the app version in");
  return m.prefix().str() + m[1].str() + m[2].str() + value + m.suffix().str();
}

}  // namespace

std::string SetDeploymentVersion(const std::string& deployment_yaml, const AppVersion& version) {
  std::string out = ReplaceLine(deployment_yaml, "image: [^:\\n]+:", version.tag, "`image: <name>:<tag>`");
  out = ReplaceLine(out, "sandbox\\.sluice\\.dev/error-rate: ", "\"" + version.error_rate + "\"",
                    "`sandbox.sluice.dev/error-rate: \"...\"`");
  out = ReplaceLine(out, "sandbox\\.sluice\\.dev/latency-ms: ", "\"" + version.latency + "\"",
                    "`sandbox.sluice.dev/latency-ms: \"...\"`");
  return out;
}

AppFiles LoadExampleApp(const std::string& examples_dir, const std::string& scenario) {
  fs::path dir(examples_dir);
  if (!fs::exists(dir / "deployment.yaml") || !fs::exists(dir / "canary.yaml"))
    throw std::runtime_error("no example app in " + examples_dir +
                             " (expected deployment.yaml and canary.yaml; pass --examples DIR)");
  AppFiles files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name == "kustomization.yaml") continue;
    if (entry.path().extension() == ".yaml" || entry.path().extension() == ".yml" || name == "README.md")
      files[name] = Read(entry.path());
  }
  fs::path override_canary = dir / "scenarios" / scenario / "canary.yaml";
  if (fs::exists(override_canary)) files["canary.yaml"] = Read(override_canary);
  return files;
}

AppFiles Substitute(AppFiles files, const std::map<std::string, std::string>& vars) {
  for (auto& [name, text] : files)
    for (const auto& [var, value] : vars) {
      std::string token = "${" + var + "}";
      for (size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + value.size()))
        text.replace(at, token.size(), value);
    }
  return files;
}

AppFiles AtVersion(AppFiles files, const AppVersion& version) {
  files["deployment.yaml"] = SetDeploymentVersion(files.at("deployment.yaml"), version);
  return files;
}

std::vector<nlohmann::json> Manifests(const AppFiles& files) {
  std::vector<nlohmann::json> namespaces, rest;
  for (const auto& [name, text] : files) {
    if (name.size() < 5 || (name.substr(name.size() - 5) != ".yaml" && name.substr(name.size() - 4) != ".yml")) continue;
    std::vector<nlohmann::json> docs;
    try {
      docs = core::ParseYamlDocuments(text);
    } catch (const std::exception& e) {
      throw std::runtime_error(name + ": " + e.what());
    }
    for (auto& d : docs) (d.value("kind", "") == "Namespace" ? namespaces : rest).push_back(std::move(d));
  }
  namespaces.insert(namespaces.end(), rest.begin(), rest.end());
  return namespaces;
}

}  // namespace sluice::demo
