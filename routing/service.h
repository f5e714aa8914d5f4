// The apex Service (the name clients call), which every provider points somewhere.
#pragma once

#include "routing/router.h"

namespace sluice::routing {

// A ClusterIP Service named `name` selecting pods with selector_label=`selects`
// (e.g. "podinfo-primary"), ports from the Canary's spec.service, owned by the Canary.
json OwnedService(const RouteContext& ctx, const std::string& name, const std::string& selects);
// The apex Service (ctx.service), which every provider points somewhere.
inline json ApexService(const RouteContext& ctx, const std::string& selects) {
  return OwnedService(ctx, ctx.service, selects);
}
// Metadata of an object the Canary owns: name, namespace, managed-by label, owner reference.
json OwnedMetadata(const RouteContext& ctx, const std::string& name);

}  // namespace sluice::routing
