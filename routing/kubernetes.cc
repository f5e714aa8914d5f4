// Kubernetes provider (blue/green): no weights and no mesh. The apex Service selects the
// primary pods, and at promotion switches to the canary pods until the primary runs the new
// version.
#include "routing/router.h"
#include "routing/service.h"

namespace sluice::routing {
namespace {

class KubernetesRouter final : public Router {
 public:
  std::string name() const override { return "kubernetes"; }
  std::vector<ObjectKind> Kinds() const override { return {{"v1", "Service"}}; }
  bool Weighted() const override { return false; }

  std::vector<json> Desired(const RouteContext& ctx, const Weights& w) const override {
    // A switch, not a split: any canary weight short of everything stays on the primary.
    return {ApexService(ctx, w.canary >= 100 ? ctx.target : ctx.target + "-primary")};
  }

  std::optional<Weights> Read(const RouteContext& ctx, const std::vector<json>& live) const override {
    for (const auto& obj : live) {
      if (obj.value("kind", "") != "Service" || obj["metadata"].value("name", "") != ctx.service) continue;
      std::string selects = obj["spec"].value("selector", json::object()).value(ctx.selector_label, "");
      if (selects == ctx.target + "-primary") return Weights{100, 0};
      if (selects == ctx.target) return Weights{0, 100};
      return std::nullopt;
    }
    return std::nullopt;
  }

  std::vector<json> Revert(const RouteContext& ctx) const override { return {ApexService(ctx, ctx.target)}; }
};

}  // namespace

std::unique_ptr<Router> MakeKubernetesRouter() { return std::make_unique<KubernetesRouter>(); }

}  // namespace sluice::routing
