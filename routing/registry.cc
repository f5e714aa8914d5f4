// Explicit registration of every provider this build knows (no static-initializer magic).
#include "routing/router.h"

namespace sluice::routing {

std::unique_ptr<Router> MakeGatewayApiRouter();
std::unique_ptr<Router> MakeKubernetesRouter();

const RouterRegistry& RouterRegistry::Builtin() {
  static const RouterRegistry registry = [] {
    RouterRegistry r;
    r.Register(MakeGatewayApiRouter());
    r.Register(MakeKubernetesRouter());
    return r;
  }();
  return registry;
}

}  // namespace sluice::routing
