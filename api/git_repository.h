// A GitRepository's spec (Flux's source.toolkit.fluxcd.io field names), parsed once.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace sluice::api {

// spec.ref: at most one of these is meant; the source controller picks by precedence
// commit > name > semver > tag > branch, as Flux does.
struct GitReference {
  std::string branch, tag, semver, name, commit;
};

struct GitRepositorySpec {
  std::string url;
  GitReference ref;
  std::chrono::milliseconds interval{60000};
  std::chrono::milliseconds timeout{60000};
  std::string secret_name;  // spec.secretRef.name
  std::string ignore;       // .sourceignore lines
  bool suspend = false;
};

// Throws InvalidSpec naming the field; an unusable URL has the reason InvalidURL.
GitRepositorySpec ParseGitRepositorySpec(const nlohmann::json& git_repository);

}  // namespace sluice::api
