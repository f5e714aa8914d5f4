// meta.k8s.io/v1 Table responses for `kubectl get`: printer columns of CRDs and the usual
// columns of built-in kinds.
#pragma once

#include "core/clock.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::apimachinery {

struct PrinterColumn {
  std::string name;
  std::string type;  // string | integer | number | boolean | date
  std::string format;
  std::string description;
  int priority = 0;
  std::string json_path;  // CRD additionalPrinterColumns
  // Built-in kinds compute some cells (READY "1/1"); when set, used instead of json_path.
  std::function<nlohmann::json(const nlohmann::json& object, core::TimePoint now)> compute;
};

// additionalPrinterColumns of a CRD version, as columns.
std::vector<PrinterColumn> ColumnsFromCrd(const nlohmann::json& additional_printer_columns);
// The columns kubectl shows for a built-in kind (Deployment: READY, UP-TO-DATE, AVAILABLE, AGE).
std::vector<PrinterColumn> BuiltinColumns(const std::string& group, const std::string& kind);

// A Table of the objects, Name first, then the columns (or just Age when there are none).
// `include_object`: "None" | "Metadata" (PartialObjectMetadata, default) | "Object".
nlohmann::json MakeTable(const std::vector<nlohmann::json>& objects, const std::vector<PrinterColumn>& columns,
                         const std::string& include_object, core::TimePoint now, const std::string& resource_version,
                         const std::string& continue_token = "");

// First result of a Kubernetes JSONPath (as in printer columns): ".status.replicas",
// ".spec.containers[0].image", ".status.conditions[?(@.type==\"Ready\")].status".
std::optional<nlohmann::json> EvalJsonPath(const nlohmann::json& object, std::string_view path);

}  // namespace sluice::apimachinery
