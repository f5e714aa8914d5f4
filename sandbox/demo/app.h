// The example app of `sluice sandbox` as a Git layout (examples/podinfo): the files of one
// scenario at one app version, ready to commit or apply.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace sluice::demo {

// One version of the app: its image tag and how it behaves in the traffic simulator
// (pod template annotations sandbox.sluice.dev/error-rate and latency-ms).
struct AppVersion {
  std::string tag;         // e.g. "6.5.1"
  std::string error_rate;  // e.g. "0.3"
  std::string latency;     // e.g. "p50=20,p99=80"
  std::string summary;     // the commit message
};

using AppFiles = std::map<std::string, std::string>;  // path in the repo -> content

// deployment.yaml with the image tag and the two annotations set. Throws
// std::invalid_argument naming the file and the line it expected when one is missing.
std::string SetDeploymentVersion(const std::string& deployment_yaml, const AppVersion& version);

// Reads examples_dir (examples/podinfo): every top-level *.yaml file but kustomization.yaml
// (the sync then applies the plain files, and needs no kustomize binary), canary.yaml
// replaced by scenarios/<scenario>/canary.yaml when that exists. Throws std::runtime_error
// naming the directory when it is not an example app.
AppFiles LoadExampleApp(const std::string& examples_dir, const std::string& scenario);

// Every ${NAME} of `vars` replaced by its value in every file (sandbox-only addresses).
AppFiles Substitute(AppFiles files, const std::map<std::string, std::string>& vars);

// The files at `version`.
AppFiles AtVersion(AppFiles files, const AppVersion& version);

// Every document of every manifest, Namespaces first (the order a sync applies them in).
// Throws std::runtime_error naming the file that does not parse.
std::vector<nlohmann::json> Manifests(const AppFiles& files);

}  // namespace sluice::demo
