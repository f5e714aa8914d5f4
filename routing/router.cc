#include "routing/router.h"

#include <stdexcept>

#include "routing/service.h"

namespace sluice::routing {

void RouterRegistry::Register(std::unique_ptr<Router> router) { routers_.push_back(std::move(router)); }

const Router& RouterRegistry::Get(const std::string& name) const {
  for (const auto& r : routers_)
    if (r->name() == name) return *r;
  std::string known;
  for (const auto& n : Names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("unknown provider \"" + name + "\"; supported: " + known);
}

std::vector<std::string> RouterRegistry::Names() const {
  std::vector<std::string> names;
  for (const auto& r : routers_) names.push_back(r->name());
  return names;
}

std::vector<api::ProviderInfo> RouterRegistry::Providers() const {
  std::vector<api::ProviderInfo> out;
  for (const auto& r : routers_) out.push_back({r->name(), r->Weighted()});
  return out;
}

json OwnerReference(const RouteContext& ctx) {
  return {{"apiVersion", "sluice.dev/v1beta1"}, {"kind", "Canary"},         {"name", ctx.name},
          {"uid", ctx.uid},                     {"controller", true},       {"blockOwnerDeletion", true}};
}

json OwnedMetadata(const RouteContext& ctx, const std::string& name) {
  return {{"name", name},
          {"namespace", ctx.ns},
          {"labels", {{"app.kubernetes.io/managed-by", "sluice"}}},
          {"ownerReferences", json::array({OwnerReference(ctx)})}};
}

json OwnedService(const RouteContext& ctx, const std::string& name, const std::string& selects) {
  const json& svc = ctx.canary["spec"]["service"];
  json port = {{"name", svc.value("portName", "http")}, {"port", ctx.port}, {"protocol", "TCP"},
               {"targetPort", svc.contains("targetPort") ? svc["targetPort"] : json(ctx.port)}};
  if (svc.contains("appProtocol")) port["appProtocol"] = svc["appProtocol"];
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", OwnedMetadata(ctx, name)},
          {"spec", {{"type", "ClusterIP"}, {"selector", {{ctx.selector_label, selects}}}, {"ports", {port}}}}};
}

}  // namespace sluice::routing
