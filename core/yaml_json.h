// YAML to JSON as Kubernetes decodes manifests (sigs.k8s.io/yaml over go-yaml v2): quoted
// scalars stay strings; plain scalars resolve by YAML 1.1 rules (true/false/yes/no/on/off/y/n
// are booleans, ~/null/empty is null, 0x1F/0o17/017/0b101 and 1_000 are integers, 1.5 and
// 1e3 are numbers, an integral float such as 1.0 becomes the integer 1 as it does after the
// API server's JSON round trip); timestamps stay strings; "<<" merge keys are applied.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>
#include <vector>

namespace sluice::core {

// One document. Throws std::invalid_argument ("yaml: line 3, column 5: ...") on bad YAML or
// on a mapping key that is not a scalar.
nlohmann::json ParseYaml(std::string_view text);

// Every document of a "---" separated stream, skipping empty (null) documents.
std::vector<nlohmann::json> ParseYamlDocuments(std::string_view text);

}  // namespace sluice::core
