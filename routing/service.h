// The apex Service (the name clients call), which every provider points somewhere.
#pragma once

#include "routing/router.h"

namespace sluice::routing {

// A ClusterIP Service named ctx.service selecting pods with selector_label=`selects`
// (e.g. "podinfo-primary"), ports from spec.service, owned by the Canary.
json ApexService(const RouteContext& ctx, const std::string& selects);

}  // namespace sluice::routing
