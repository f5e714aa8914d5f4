// Label selectors (equality and set-based) and the field selectors the API server supports.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sluice::apimachinery {

class LabelSelector {
 public:
  // Parses "app=web,tier!=db,env in (a,b),!legacy,release"; throws std::invalid_argument
  // with the position of the error.
  static LabelSelector Parse(const std::string& text);
  // From a metav1.LabelSelector object (matchLabels, matchExpressions).
  static LabelSelector FromObject(const nlohmann::json& selector);
  bool Matches(const nlohmann::json& labels) const;  // labels: the metadata.labels object (or null)
  bool Empty() const { return requirements_.empty(); }

  struct Requirement {
    std::string key;
    std::string op;  // =, !=, in, notin, exists, !
    std::vector<std::string> values;
  };

 private:
  std::vector<Requirement> requirements_;
};

class FieldSelector {
 public:
  // Supports metadata.name, metadata.namespace and the Event fields (involvedObject.*,
  // reason, type, source) with = == !=; anything else throws std::invalid_argument naming
  // the field (the API server's "field label not supported").
  static FieldSelector Parse(const std::string& text);
  bool Matches(const nlohmann::json& object) const;
  bool Empty() const { return terms_.empty(); }
  // The name an "metadata.name=X" term pins, if any (lets the store skip a scan).
  std::string PinnedName() const;

 private:
  struct Term {
    std::string field;
    bool equal;
    std::string value;
  };
  std::vector<Term> terms_;
};

}  // namespace sluice::apimachinery
