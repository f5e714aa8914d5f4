#include "kube/discovery.h"

#include "core/api_error.h"

#include <algorithm>
#include <map>

namespace sluice::kube {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::vector<std::string> Strings(const nlohmann::json& item, const char* key) {
  std::vector<std::string> out;
  if (!item.contains(key) || !item[key].is_array()) return out;
  for (const auto& v : item[key])
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

}  // namespace

std::vector<ApiResource> ParseApiResourceList(const nlohmann::json& list, std::string_view api_version) {
  if (!list.is_object() || !list.contains("resources") || !list["resources"].is_array())
    throw core::ApiError::InternalError("discovery of " + std::string(api_version) +
                                  " did not answer an APIResourceList with resources[]");
  auto [group, version] = SplitApiVersion(api_version);
  std::vector<ApiResource> out;
  std::map<std::string, std::vector<std::string>> subresources;
  for (const auto& item : list["resources"]) {
    if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) continue;
    std::string name = item["name"].get<std::string>();
    if (auto slash = name.find('/'); slash != std::string::npos) {
      subresources[name.substr(0, slash)].push_back(name.substr(slash + 1));
      continue;
    }
    ApiResource r;
    r.group = group;
    r.version = version;
    r.resource = name;
    r.kind = item.value("kind", "");
    r.singular = item.value("singularName", "");
    if (r.singular.empty()) r.singular = Lower(r.kind);
    r.namespaced = item.value("namespaced", false);
    r.short_names = Strings(item, "shortNames");
    r.categories = Strings(item, "categories");
    r.verbs = Strings(item, "verbs");
    if (r.kind.empty()) continue;  // unusable without a kind, as client-go drops it too
    out.push_back(std::move(r));
  }
  for (auto& r : out) {
    for (const auto& sub : subresources[r.resource]) {
      if (sub == "status") r.has_status = true;
      if (sub == "scale") r.has_scale = true;
    }
  }
  return out;
}

const ApiResource* FindResource(const std::vector<ApiResource>& resources, std::string_view kind_or_resource) {
  for (const auto& r : resources)
    if (r.kind == kind_or_resource) return &r;
  std::string want = Lower(kind_or_resource);
  for (const auto& r : resources)
    if (r.resource == want || r.singular == want || Lower(r.kind) == want) return &r;
  for (const auto& r : resources)
    for (const auto& s : r.short_names)
      if (Lower(s) == want) return &r;
  return nullptr;
}

}  // namespace sluice::kube
