#include "apimachinery/contains.h"

namespace sluice::apimachinery {

using nlohmann::json;

bool ContainsAll(const json& live, const json& desired) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [k, v] : desired.items()) {
      auto it = live.find(k);
      if (it == live.end()) {
        if (v.is_null()) continue;
        return false;
      }
      if (!ContainsAll(*it, v)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i)
      if (!ContainsAll(live[i], desired[i])) return false;
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return live == desired;
}

}  // namespace sluice::apimachinery
