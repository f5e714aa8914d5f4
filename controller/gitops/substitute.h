// Post-build variable substitution, as Flux users write it in manifests: ${VAR},
// ${VAR:=default} (also ${VAR:-default}), and $${VAR} for a literal ${VAR}. Substitution runs
// on the text of one YAML document before it is parsed, so `replicas: ${REPLICAS}` becomes a
// number, as it does for them.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/kustomization.h"

namespace sluice::gitops {

using Variables = std::map<std::string, std::string>;

using api::ValidVariableName;  // the names Flux accepts

// Replaces every reference in `text`. A variable that is unset and has no default, an
// unterminated "${" or an invalid name throws std::invalid_argument naming the variable and
// the 1-based line of `text` where it appears.
std::string Substitute(std::string_view text, const Variables& variables);

}  // namespace sluice::gitops
