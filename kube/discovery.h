// Legacy discovery documents (APIResourceList from /api/v1 and /apis/<group>/<version>) and
// how a name a user wrote (Kind, plural, singular or short name) picks a resource from them.
#pragma once

#include "kube/resource.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sluice::kube {

// The top-level resources of one group-version, with has_status/has_scale taken from their
// subresources. Throws ApiError when the document is not an APIResourceList.
std::vector<ApiResource> ParseApiResourceList(const nlohmann::json& list, std::string_view api_version);

// Kind matches exactly ("Deployment"); plural, singular and short names case-insensitively.
const ApiResource* FindResource(const std::vector<ApiResource>& resources, std::string_view kind_or_resource);

}  // namespace sluice::kube
