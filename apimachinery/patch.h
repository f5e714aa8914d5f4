// The PATCH flavours of the Kubernetes API, applied to plain JSON objects.
#pragma once

#include "apimachinery/list_semantics.h"

#include <nlohmann/json.hpp>

namespace sluice::apimachinery {

// RFC 6902, including "test". Throws kube::ApiError (422 Invalid or 400 BadRequest) naming
// the failing operation and path.
nlohmann::json ApplyJsonPatch(const nlohmann::json& original, const nlohmann::json& patch);

// RFC 7386.
nlohmann::json ApplyMergePatch(const nlohmann::json& original, const nlohmann::json& patch);

// Strategic merge patch: lists with merge keys merge item by item; supports the directives
// kubectl sends: $patch (replace|delete|merge), $setElementOrder/<list>,
// $deleteFromPrimitiveList/<list>, $retainKeys. Throws kube::ApiError 400 on a malformed patch.
nlohmann::json ApplyStrategicMergePatch(const nlohmann::json& original, const nlohmann::json& patch,
                                        const ListSemanticsFn& lists);

}  // namespace sluice::apimachinery
