// Gateway API provider: one HTTPRoute per Canary (gateway.networking.k8s.io/v1) splitting
// traffic between the -primary and -canary Services by backendRef weight.
#include <stdexcept>

#include "routing/router.h"
#include "routing/service.h"

namespace sluice::routing {
namespace {

// Our match syntax (uri/method/headers/queryParams with exact|prefix|regex) in Gateway API form.
json StringMatchType(const json& m, const std::string& field) {
  if (m.contains("exact")) return {{"type", "Exact"}, {"value", m["exact"]}};
  if (m.contains("regex")) return {{"type", "RegularExpression"}, {"value", m["regex"]}};
  if (m.contains("prefix") && field == "uri") return {{"type", "PathPrefix"}, {"value", m["prefix"]}};
  throw std::invalid_argument(field + ": needs exact or regex" + (field == "uri" ? " or prefix" : ""));
}

json NamedMatches(const json& by_name, const std::string& field) {
  json out = json::array();
  for (const auto& [name, m] : by_name.items()) {
    json t = StringMatchType(m, field + "." + name);
    t["name"] = name;
    out.push_back(t);
  }
  return out;
}

json ConvertMatch(const json& m, const std::string& path) {
  json out = json::object();
  try {
    if (m.contains("uri")) out["path"] = StringMatchType(m["uri"], "uri");
    if (m.contains("headers")) out["headers"] = NamedMatches(m["headers"], "headers");
    if (m.contains("queryParams")) out["queryParams"] = NamedMatches(m["queryParams"], "queryParams");
    if (m.contains("method")) out["method"] = m["method"].value("exact", "GET");
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + "." + e.what());
  }
  return out;
}

json Matches(const json& list, const std::string& path) {
  json out = json::array();
  if (!list.is_array()) return out;
  for (size_t i = 0; i < list.size(); ++i) out.push_back(ConvertMatch(list[i], path + "[" + std::to_string(i) + "]"));
  return out;
}

json Backend(const RouteContext& ctx, const std::string& suffix, int weight) {
  return {{"group", ""}, {"kind", "Service"}, {"name", ctx.service + suffix}, {"port", ctx.port}, {"weight", weight}};
}

json ParentRefs(const json& svc) {
  json out = json::array();
  if (!svc.contains("gatewayRefs")) return out;
  for (const auto& g : svc["gatewayRefs"]) {
    json ref = {{"name", g.at("name")}};
    for (const char* k : {"group", "kind", "namespace", "sectionName", "port"})
      if (g.contains(k)) ref[k] = g[k];
    out.push_back(ref);
  }
  return out;
}

// Settings every rule shares: timeouts, header changes, mirroring.
void Decorate(json& rule, const RouteContext& ctx, const Weights& w) {
  const json& svc = ctx.canary["spec"]["service"];
  if (svc.contains("timeout")) rule["timeouts"] = {{"request", svc["timeout"]}};
  json filters = json::array();
  if (svc.contains("headers") && svc["headers"].contains("request")) {
    const json& h = svc["headers"]["request"];
    json mod = json::object();
    auto pairs = [](const json& m) {
      json a = json::array();
      for (const auto& [k, v] : m.items()) a.push_back({{"name", k}, {"value", v}});
      return a;
    };
    if (h.contains("set")) mod["set"] = pairs(h["set"]);
    if (h.contains("add")) mod["add"] = pairs(h["add"]);
    if (h.contains("remove")) mod["remove"] = h["remove"];
    filters.push_back({{"type", "RequestHeaderModifier"}, {"requestHeaderModifier", mod}});
  }
  if (w.mirror) {
    json mirror = {{"backendRef", {{"name", ctx.service + "-canary"}, {"port", ctx.port}}}};
    int percent = ctx.canary["spec"].value("analysis", json::object()).value("mirrorWeight", 0);
    if (percent > 0) mirror["percent"] = percent;
    filters.push_back({{"type", "RequestMirror"}, {"requestMirror", mirror}});
  }
  if (!filters.empty()) rule["filters"] = filters;
}

class GatewayApiRouter final : public Router {
 public:
  std::string name() const override { return "gatewayapi"; }

  std::vector<ObjectKind> Kinds() const override {
    return {{"gateway.networking.k8s.io/v1", "HTTPRoute"}, {"v1", "Service"}};
  }

  std::vector<json> Desired(const RouteContext& ctx, const Weights& w) const override {
    const json& svc = ctx.canary["spec"]["service"];
    json base_matches = Matches(svc.value("match", json::array()), "spec.service.match");
    if (base_matches.empty()) base_matches = json::array({{{"path", {{"type", "PathPrefix"}, {"value", "/"}}}}});
    json rules = json::array();
    if (w.ab_match) {
      json ab = Matches(ctx.canary["spec"]["analysis"].value("match", json::array()), "spec.analysis.match");
      json rule = {{"matches", ab}, {"backendRefs", {Backend(ctx, "-primary", 0), Backend(ctx, "-canary", 100)}}};
      Decorate(rule, ctx, {});
      rules.push_back(rule);
    }
    json main = {{"matches", base_matches},
                 {"backendRefs", {Backend(ctx, "-primary", w.primary), Backend(ctx, "-canary", w.canary)}}};
    Decorate(main, ctx, w);
    rules.push_back(main);
    json spec = {{"parentRefs", ParentRefs(svc)}, {"rules", rules}};
    if (svc.contains("hosts") && !svc["hosts"].empty()) spec["hostnames"] = svc["hosts"];
    json route = {{"apiVersion", "gateway.networking.k8s.io/v1"},
                  {"kind", "HTTPRoute"},
                  {"metadata", OwnedMetadata(ctx, ctx.service)},
                  {"spec", spec}};
    return {route, ApexService(ctx, ctx.target + "-primary")};
  }

  std::optional<Weights> Read(const RouteContext& ctx, const std::vector<json>& live) const override {
    for (const auto& obj : live) {
      if (obj.value("kind", "") != "HTTPRoute") continue;
      const json& rules = obj["spec"].value("rules", json::array());
      if (rules.empty()) return std::nullopt;
      Weights w;
      w.ab_match = rules.size() > 1;
      for (const auto& ref : rules.back().value("backendRefs", json::array())) {
        std::string name = ref.value("name", "");
        int weight = ref.value("weight", 1);
        if (name == ctx.service + "-primary") w.primary = weight;
        if (name == ctx.service + "-canary") w.canary = weight;
      }
      for (const auto& f : rules.back().value("filters", json::array()))
        if (f.value("type", "") == "RequestMirror") w.mirror = true;
      return w;
    }
    return std::nullopt;
  }

  std::vector<json> Revert(const RouteContext& ctx) const override { return {ApexService(ctx, ctx.target)}; }
};

}  // namespace

std::unique_ptr<Router> MakeGatewayApiRouter() { return std::make_unique<GatewayApiRouter>(); }

}  // namespace sluice::routing
