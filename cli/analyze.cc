// `sluice analyze CANARY --from T1 --to T2`: replays a Canary's metric analysis against the
// data Prometheus stored for a past window, one step per analysis interval, and prints each
// metric's value and verdict, so thresholds can be tuned before a rollout depends on them.
// It runs the controller's own checker with the evaluation time set to each step.
#include "cli/analyze.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <vector>

#include "analysis/builtin_metrics.h"
#include "analysis/metric_checks.h"
#include "api/canary_spec.h"
#include "core/api_error.h"
#include "core/duration.h"
#include "kube/client.h"
#include "kube/config.h"
#include "routing/router.h"

namespace sluice::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

constexpr size_t kMaxSteps = 10000;


// RFC 3339, "now", or now minus a duration ("-1h", "-90m", "-1h30m").
std::optional<core::TimePoint> ParseWhen(const std::string& text, core::TimePoint now) {
  if (text == "now") return now;
  if (text.starts_with("-")) {
    auto d = core::ParseDuration(text.substr(1));
    if (!d) return std::nullopt;
    return now - *d;
  }
  return core::ParseTime(text);
}

struct Row {
  core::TimePoint time;
  api::MetricResult result;
};

// Objects the analysis reads, fetched once from the cluster (the controller has them cached).
asio::awaitable<std::map<std::string, json>> FetchTemplates(kube::Client& client, const json& canary,
                                                            const api::CanarySpec& spec) {
  std::map<std::string, json> objects;  // "Kind/ns/name"
  const std::string ns = canary["metadata"].value("namespace", "default");
  std::string mt_version = "sluice.dev/v1beta1";
  std::string mt_kind = "MetricTemplate";
  std::optional<kube::ApiResource> templates;  // resolved on the first templateRef only
  std::string v1 = "v1";
  std::string secret_kind = "Secret";
  for (const auto& m : spec.analysis.metrics) {
    if (m.template_name.empty()) continue;
    std::string name = m.template_name;
    std::string tns = m.template_namespace.empty() ? ns : m.template_namespace;
    if (name.empty() || objects.count("MetricTemplate/" + tns + "/" + name)) continue;
    if (!templates) {
      auto resolve = client.Resolve(mt_version, mt_kind);
      templates = co_await std::move(resolve);
    }
    json tmpl;
    try {
      auto get = client.Get(*templates, tns, name);
      tmpl = co_await std::move(get);
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) throw;
      continue;  // the checker reports the missing template in its row
    }
    objects["MetricTemplate/" + tns + "/" + name] = tmpl;
    json provider = tmpl.value("spec", json::object()).value("provider", json::object());
    std::string secret = provider.value("secretRef", json::object()).value("name", "");
    if (secret.empty()) continue;
    auto resolve_secret = client.Resolve(v1, secret_kind);
    kube::ApiResource secrets = co_await std::move(resolve_secret);
    try {
      auto get = client.Get(secrets, tns, secret);
      json s = co_await std::move(get);
      objects["Secret/" + tns + "/" + secret] = s;
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) throw;
    }
  }
  co_return objects;
}

asio::awaitable<std::vector<Row>> Replay(asio::any_io_executor ex, std::shared_ptr<kube::Client> client,
                                         AnalyzeFlags flags, core::TimePoint from, core::TimePoint to,
                                         std::optional<std::chrono::milliseconds> step, json& canary_out) {
  std::string version = "sluice.dev/v1beta1";
  std::string kind = "Canary";
  auto resolve = client->Resolve(version, kind);
  kube::ApiResource canaries = co_await std::move(resolve);
  std::string ns = flags.ns.empty() ? client->default_namespace() : flags.ns;
  auto get = client->Get(canaries, ns, flags.canary);
  json canary = co_await std::move(get);
  canary_out = canary;
  // The controller's parse, so a spec it would refuse is refused here with the field. Replaying
  // needs only the metrics, so a provider with builtin queries but no router yet is accepted.
  std::vector<api::ProviderInfo> providers = routing::RouterRegistry::Builtin().Providers();
  for (const auto& p : analysis::BuiltinProviders())
    if (std::none_of(providers.begin(), providers.end(), [&](const auto& known) { return known.name == p; }))
      providers.push_back({p, true});
  auto parsed = api::ParseCanarySpec(canary, providers);
  if (auto* error = std::get_if<api::SpecError>(&parsed))
    throw std::invalid_argument("Canary " + ns + "/" + flags.canary + ": " + error->ToString());
  const api::CanarySpec spec = std::get<api::CanarySpec>(std::move(parsed));
  auto fetch = FetchTemplates(*client, canary, spec);
  auto objects = std::make_shared<std::map<std::string, json>>(co_await std::move(fetch));
  analysis::ObjectLookup lookup = [objects](const std::string& k, const std::string& n,
                                              const std::string& name) -> kube::ObjectPtr {
    auto it = objects->find(k + "/" + n + "/" + name);
    return it == objects->end() ? nullptr : std::make_shared<const json>(it->second);
  };
  if (!step) step = spec.analysis.interval;
  if (static_cast<size_t>((to - from) / *step) + 1 > kMaxSteps)
    throw std::invalid_argument("the window holds more than " + std::to_string(kMaxSteps) +
                                " steps; pass a larger --step or a shorter window");
  analysis::MetricCheckerOptions options;
  options.default_address = flags.prometheus_address;
  options.query_timeout = std::chrono::seconds(flags.query_timeout_seconds);
  auto checker = analysis::QueryMetricChecker::Create(ex, options);
  std::vector<Row> rows;
  for (core::TimePoint t = from; t <= to; t += *step) {
    analysis::AnalysisOutcome outcome;
    auto check = checker->CheckAt(canary, spec, lookup, t, outcome);
    co_await std::move(check);
    for (auto& m : outcome.metrics) rows.push_back({t, std::move(m)});
  }
  co_return rows;
}

std::string Pad(const std::string& s, size_t width) { return s.size() >= width ? s + " " : s + std::string(width - s.size(), ' '); }

void PrintTable(const std::vector<Row>& rows, int threshold) {
  size_t name_width = 6;
  for (const auto& r : rows) name_width = std::max(name_width, r.result.name.size() + 2);
  std::cout << Pad("TIME", 22) << Pad("METRIC", name_width) << Pad("VALUE", 12) << Pad("VERDICT", 9) << "MESSAGE\n";
  for (const auto& r : rows) {
    std::string value = r.result.value ? analysis::FormatValue(*r.result.value) : "-";
    std::cout << Pad(core::FormatTime(r.time), 22) << Pad(r.result.name, name_width) << Pad(value, 12)
              << Pad(r.result.verdict, 9) << r.result.message << "\n";
  }
  // What the rollout would have done: each step with a metric that does not pass adds one
  // failed check; reaching the threshold rolls back.
  std::map<core::TimePoint, bool> step_failed;
  for (const auto& r : rows) step_failed[r.time] = step_failed[r.time] || r.result.verdict != "Pass";
  int failed = 0;
  std::optional<core::TimePoint> rollback;
  for (const auto& [t, f] : step_failed) {
    if (f) ++failed;
    if (!rollback && failed >= threshold) rollback = t;
  }
  std::cout << "\n" << step_failed.size() << " steps, " << (step_failed.size() - static_cast<size_t>(failed))
            << " passed, " << failed << " failed";
  if (rollback)
    std::cout << "; with threshold " << threshold << " the rollout would have rolled back at "
              << core::FormatTime(*rollback);
  std::cout << "\n";
}

}  // namespace

int Analyze(const AnalyzeFlags& flags) {
  spdlog::set_level(spdlog::level::warn);
  auto now = std::chrono::system_clock::now();
  auto from = ParseWhen(flags.from, now);
  auto to = ParseWhen(flags.to, now);
  if (!from || !to) {
    std::cerr << "error: --from and --to take RFC 3339 times (2026-01-01T00:00:00Z), \"now\" or -DURATION (-1h)\n";
    return 2;
  }
  if (*to < *from) {
    std::cerr << "error: --to " << flags.to << " is before --from " << flags.from << "\n";
    return 2;
  }
  std::optional<std::chrono::milliseconds> step;
  if (!flags.step.empty()) {
    step = core::ParseDuration(flags.step);
    if (!step || step->count() <= 0) {
      std::cerr << "error: --step \"" << flags.step << "\" is not a duration such as 30s or 1m\n";
      return 2;
    }
  }
  kube::RestConfig config;
  try {
    config = kube::LoadDefaultConfig(kube::KubeconfigOptions{flags.kubeconfig, flags.context, flags.ns});
  } catch (const std::exception& e) {
    std::cerr << "error: cannot load the cluster config: " << e.what() << "\n";
    return 1;
  }
  asio::io_context io;
  auto client = kube::MakeHttpClient(io.get_executor(), config);
  json canary;
  asio::any_io_executor ex = io.get_executor();
  core::TimePoint start = *from;
  core::TimePoint end = *to;
  auto future = asio::co_spawn(io, Replay(ex, client, flags, start, end, step, canary), asio::use_future);
  io.run();
  std::vector<Row> rows;
  try {
    rows = future.get();
  } catch (const core::ApiError& e) {
    std::string ns = flags.ns.empty() ? client->default_namespace() : flags.ns;
    if (e.IsNotFound() && canary.is_null())
      std::cerr << "error: Canary " << ns << "/" << flags.canary << " not found\n";
    else
      std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  if (rows.empty()) {
    std::cout << "Canary " << flags.canary << " has no spec.analysis.metrics to replay\n";
    return 0;
  }
  int threshold = canary.value("spec", json::object()).value("analysis", json::object()).value("threshold", 5);
  PrintTable(rows, threshold);
  return 0;
}

}  // namespace sluice::cli
