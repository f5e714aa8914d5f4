// Whether a live object already holds what a writer wants: the test both the canary engine
// and the GitOps applier make before writing, so that a write happens only when it changes
// something.
#pragma once

#include <nlohmann/json.hpp>

namespace sluice::apimachinery {

// True when `live` already has every field `desired` sets, with the same value (fields the
// server adds, such as defaults and clusterIP, are ignored). Lists must match item by item;
// numbers compare by value (1 == 1.0); a null in `desired` matches an absent field.
bool ContainsAll(const nlohmann::json& live, const nlohmann::json& desired);

}  // namespace sluice::apimachinery
