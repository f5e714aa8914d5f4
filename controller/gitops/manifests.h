// Loading the manifests of one path of a checked-out revision: every *.yaml / *.yml file under
// it (recursively, in path order, hidden folders skipped), each multi-document; a folder
// holding a kustomization.yaml is built with `kustomize build` instead. Every error names the
// file, the document and the field, so a bad commit can be fixed from the condition alone.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "controller/gitops/substitute.h"

namespace sluice::gitops {

struct Manifest {
  nlohmann::json object;
  std::string file;   // relative to the repository root, e.g. "apps/web.yaml"
  int document = 1;   // 1-based among the file's non-empty documents
  int line = 1;       // where the document starts in the file

  // "apps/web.yaml document 2 (line 14)"
  std::string Origin() const;
};

struct BuildOptions {
  std::string kustomize_path;  // "" = no kustomize: a kustomization.yaml is an error
  std::chrono::seconds kustomize_timeout{60};
  // Set when the sync has spec.postBuild: ${VAR} references are replaced (objects annotated
  // sluice.dev/substitute: disabled excepted). Unset: the text is applied as written.
  std::optional<Variables> variables;
};

class ManifestError : public std::runtime_error {
 public:
  // reason: PathNotFound | KustomizeUnavailable | BuildFailed (the condition reason).
  ManifestError(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

inline constexpr const char* kSubstituteAnnotation = "sluice.dev/substitute";

// `root` is the checked-out tree, `path` the folder inside it ("./apps", "clusters/staging";
// "" or "./" = root). A path leaving the tree or missing is a PathNotFound error.
std::vector<Manifest> LoadManifests(const std::string& root, const std::string& path, const BuildOptions& options);

// Splits one file's text into its documents and parses each (substituting first when
// `variables` is set). Exposed for tests; `file` only names errors.
std::vector<Manifest> ParseManifestText(const std::string& text, const std::string& file,
                                        const std::optional<Variables>& variables);

}  // namespace sluice::gitops
