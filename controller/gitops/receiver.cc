#include "controller/gitops/receiver.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>
#include <variant>

#include "api/receiver.h"
#include "api/spec_error.h"
#include "controller/gitops/git_repository_controller.h"
#include "core/base64.h"
#include "core/object_key.h"
#include "kube/runtime/metrics.h"

namespace sluice::gitops {

namespace asio = boost::asio;
using json = nlohmann::json;

namespace {

std::string Hex(const unsigned char* data, size_t len) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(digits[data[i] >> 4]);
    out.push_back(digits[data[i] & 15]);
  }
  return out;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}


constexpr std::chrono::seconds kUnservedKindRecheck{30};

std::string SecretToken(const json& secret) {
  auto data = secret.value("data", json::object());
  if (data.contains("token") && data["token"].is_string())
    return core::Base64Decode(data["token"].get<std::string>()).value_or("");
  return "";
}

void SetReady(json& status, const std::string& value, const std::string& reason, const std::string& message,
              int64_t generation, core::TimePoint now) {
  json c = {{"type", "Ready"}, {"status", value}, {"reason", reason}, {"message", message},
            {"observedGeneration", generation}, {"lastTransitionTime", core::FormatTime(now)}};
  for (const auto& old : status.value("conditions", json::array()))
    if (old.value("type", "") == "Ready" && old.value("status", "") == value)
      c["lastTransitionTime"] = old.value("lastTransitionTime", c["lastTransitionTime"].get<std::string>());
  status["conditions"] = json::array({c});
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// application/x-www-form-urlencoded value decoding: %XX escapes, '+' for a space.
std::string FormDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && HexDigit(in[i + 1]) >= 0 && HexDigit(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(in[i + 1]) * 16 + HexDigit(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i] == '+' ? ' ' : in[i]);
    }
  }
  return out;
}

// One field of a form-encoded body, decoded; "" when absent.
std::string FormField(std::string_view body, const std::string& name) {
  const std::string prefix = name + "=";
  while (!body.empty()) {
    std::string_view pair = body.substr(0, body.find('&'));
    if (pair.substr(0, prefix.size()) == prefix) return FormDecode(pair.substr(prefix.size()));
    body.remove_prefix(std::min(body.size(), pair.size() + 1));
  }
  return "";
}

// Every receiver type's sender posts a JSON payload (GitHub may form-encode it as
// payload=<json>). A proven request without one comes from a broken sender or proxy: it is
// refused so that its sender sees the failure instead of a 200 that did nothing useful.
// A JSON body passes whatever its Content-Type says (curl labels a body it posts form data).
std::string PayloadError(const std::string& type, const net::HttpRequest& req) {
  if (json::accept(req.body)) return "";
  bool form = Lower(req.Header("content-type")).rfind("application/x-www-form-urlencoded", 0) == 0;
  if (type == "github" && form) {
    if (json::accept(FormField(req.body, "payload"))) return "";
    return "the body is not JSON and its form field 'payload' is not JSON either";
  }
  return "the body is not JSON (" + std::to_string(req.body.size()) + " bytes); a " + type +
         " webhook sends a JSON payload";
}

// The Receiver's spec as a route, or an error naming the field.
std::variant<ReceiverRoute, std::string> ParseReceiver(const json& obj) {
  api::ReceiverSpec spec;
  try {
    spec = api::ParseReceiverSpec(obj);
  } catch (const api::InvalidSpec& e) {
    return std::string(e.what());
  }
  ReceiverRoute r;
  r.receiver = core::ObjectKey(obj);
  r.type = spec.type;
  r.events = spec.events;
  r.targets = spec.resources;
  r.secret_name = spec.secret_name;
  return r;
}

}  // namespace

std::string HmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &len);
  return Hex(mac, len);
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

bool SafeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool VerifySha256Signature(const std::string& token, const std::string& body, const std::string& header) {
  const std::string prefix = "sha256=";
  if (token.empty() || header.rfind(prefix, 0) != 0) return false;
  return SafeEqual(Lower(header.substr(prefix.size())), HmacSha256Hex(token, body));
}

std::string WebhookPath(const std::string& token, const std::string& name, const std::string& ns) {
  return "/hook/" + Sha256Hex(token + name + ns);
}

std::shared_ptr<ReceiverController> ReceiverController::Create(std::shared_ptr<kube::Client> client,
                                                               std::shared_ptr<kube::EventRecorder> events,
                                                               ReceiverOptions options) {
  return std::shared_ptr<ReceiverController>(new ReceiverController(std::move(client), std::move(events), std::move(options)));
}

ReceiverController::ReceiverController(std::shared_ptr<kube::Client> client, std::shared_ptr<kube::EventRecorder> events,
                                       ReceiverOptions options)
    : Reconciler(client->executor(),
                 // A Receiver reconcile only publishes its webhook path; a failed status write is retried.
                 {.name = "receivers",
                  .kind = "Receiver",
                  .workers = 1,
                  .retry = {.base_delay = std::chrono::milliseconds(500),
                            .max_delay = std::chrono::seconds(300),
                            .retry_invalid = true},
                  .clock = options.clock}),
      client_(std::move(client)),
      events_(std::move(events)),
      options_(std::move(options)),
      registry_(options_.metrics ? options_.metrics : kube::runtime::NewMetricsRegistry()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("sluice_receiver_requests_total")
                   .Help("Webhook requests to /hook/ by result: accepted, ignored, unauthorized, not_found, bad_request")
                   .Register(*registry_);
  for (const char* r : {"accepted", "ignored", "unauthorized", "not_found", "bad_request"}) requests_->Add({{"result", r}});
}

ReceiverController::~ReceiverController() = default;

void ReceiverController::CountResult(const std::string& result) {
  std::lock_guard lock(mu_);
  requests_->Add({{"result", result}}).Increment();
}

uint64_t ReceiverController::Count(const std::string& result) const {
  std::lock_guard lock(mu_);
  return static_cast<uint64_t>(requests_->Add({{"result", result}}).Value());
}

std::string ReceiverController::SerializeMetrics() const {
  std::lock_guard lock(mu_);
  return kube::runtime::ExpositionText(*registry_);
}

net::HttpResponse ReceiverController::Handle(const net::HttpRequest& req) {
  if (req.method != "POST") {
    CountResult("bad_request");
    return net::HttpResponse::Text(405, "use POST");
  }
  std::optional<ReceiverRoute> route;
  {
    std::lock_guard lock(mu_);
    auto it = routes_.find(req.path);
    if (it != routes_.end()) route = it->second;
  }
  if (!route) {
    CountResult("not_found");
    return net::HttpResponse::Text(404, "no receiver at " + req.path);
  }
  bool valid = false;
  std::string event;
  if (route->type == "github") {
    valid = VerifySha256Signature(route->token, req.body, req.Header("x-hub-signature-256"));
    event = Lower(req.Header("x-github-event"));
  } else if (route->type == "gitlab") {
    valid = !route->token.empty() && SafeEqual(req.Header("x-gitlab-token"), route->token);
    event = Lower(req.Header("x-gitlab-event"));
  } else {
    valid = VerifySha256Signature(route->token, req.body, req.Header("x-signature"));
  }
  if (!valid) {
    CountResult("unauthorized");
    spdlog::warn("receiver {}: rejected a {} request with a bad signature or token", route->receiver, route->type);
    return net::HttpResponse::Text(401, "signature or token does not match");
  }
  if (std::string bad = PayloadError(route->type, req); !bad.empty()) {
    CountResult("bad_request");
    spdlog::warn("receiver {}: refused a signed {} request: {}", route->receiver, route->type, bad);
    return net::HttpResponse::Text(400, bad);
  }
  if (event == "ping") {
    CountResult("ignored");
    return net::HttpResponse::Text(200, "pong");
  }
  if (!route->events.empty() && std::find(route->events.begin(), route->events.end(), event) == route->events.end()) {
    CountResult("ignored");
    return net::HttpResponse::Text(200, "event '" + event + "' is not in spec.events; nothing to do");
  }
  CountResult("accepted");
  size_t targets = route->targets.size();
  // This runs on the HTTP server's thread: hand the work to the event loop that owns the client.
  asio::post(client_->executor(), [self = WeakSelf().lock(), route = std::move(*route)]() mutable {
    asio::co_spawn(self->client_->executor(), self->Trigger(std::move(route)), asio::detached);
  });
  return net::HttpResponse::Text(200, "reconciling " + std::to_string(targets) + " object(s)");
}

asio::awaitable<void> ReceiverController::Trigger(ReceiverRoute route) {
  std::string now = core::FormatMicroTime(options_.clock->Now());
  for (const auto& t : route.targets) {
    try {
      std::string type_key = t.api_version + "/" + t.kind;
      if (!resolved_.count(type_key)) {
        auto op = client_->Resolve(t.api_version, t.kind);
        resolved_[type_key] = co_await std::move(op);
      }
      json patch = {{"metadata", {{"annotations", {{kRequestReconcileAnnotation, now}}}}}};
      kube::PatchOptions po;
      po.field_manager = options_.field_manager;
      auto op = client_->Patch(resolved_[type_key], t.ns, t.name, kube::PatchType::kMerge, patch, po);
      co_await std::move(op);
      spdlog::info("receiver {}: requested reconcile of {} {}/{}", route.receiver, t.kind, t.ns, t.name);
    } catch (const std::exception& e) {
      spdlog::warn("receiver {}: cannot request reconcile of {} {}/{}: {}", route.receiver, t.kind, t.ns, t.name, e.what());
    }
  }
}

asio::awaitable<std::string> ReceiverController::UnservedKind(const ReceiverRoute& route) {
  for (size_t i = 0; i < route.targets.size(); ++i) {
    const ReceiverTarget& t = route.targets[i];
    std::string type_key = t.api_version + "/" + t.kind;
    if (resolved_.count(type_key)) continue;
    bool served = true;
    try {
      auto op = client_->Resolve(t.api_version, t.kind);
      resolved_[type_key] = co_await std::move(op);
    } catch (const core::ApiError& e) {
      if (!e.IsNotFound()) throw;  // the API could not answer: the reconcile is retried
      served = false;
    }
    if (!served)
      co_return "spec.resources[" + std::to_string(i) + "]: the API does not serve kind " + t.kind + " in " +
          t.api_version + " (a typo, or is its CustomResourceDefinition not applied?)";
  }
  co_return "";
}

std::weak_ptr<ReceiverController> ReceiverController::WeakSelf() {
  return std::static_pointer_cast<ReceiverController>(shared_from_this());
}

asio::awaitable<void> ReceiverController::StartWatches() {
  auto op = client_->Resolve("sluice.dev/v1beta1", "Receiver");
  resource_ = co_await std::move(op);
  auto sop = client_->Resolve("v1", "Secret");
  kube::ApiResource secrets = co_await std::move(sop);
  kube::InformerOptions io;
  io.ns = options_.ns;
  receivers_ = kube::Informer::Create(client_, resource_, io);
  secrets_ = kube::Informer::Create(client_, secrets, io);
  receivers_->AddIndex("secret", [](const json& r) {
    std::string s = r.value("spec", json::object()).value("secretRef", json::object()).value("name", "");
    return s.empty() ? std::vector<std::string>{} : std::vector<std::string>{r["metadata"].value("namespace", "") + "/" + s};
  });
  auto self = WeakSelf();
  kube::InformerHandler rh;
  rh.on_add = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->Enqueue(core::ObjectKey(*o));
  };
  rh.on_update = [self](const kube::ObjectPtr& a, const kube::ObjectPtr& b) {
    if (auto s = self.lock(); s && (*a)["metadata"].value("generation", 0) != (*b)["metadata"].value("generation", 0))
      s->Enqueue(core::ObjectKey(*b));
  };
  rh.on_delete = rh.on_add;
  receivers_->AddHandler(rh);
  kube::InformerHandler sh;
  sh.on_add = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock())
      for (const auto& r : s->receivers_->ByIndex("secret", core::ObjectKey(*o))) s->Enqueue(core::ObjectKey(*r));
  };
  sh.on_update = [sh](const kube::ObjectPtr&, const kube::ObjectPtr& o) { sh.on_add(o); };
  sh.on_delete = sh.on_add;
  secrets_->AddHandler(sh);
  receivers_->Start();
  secrets_->Start();
  auto w1 = receivers_->WaitForSync();
  co_await std::move(w1);
  auto w2 = secrets_->WaitForSync();
  co_await std::move(w2);
  spdlog::info("receiver controller synced: {} receivers", receivers_->size());
}

void ReceiverController::StopWatches() {
  if (receivers_) receivers_->Stop();
  if (secrets_) secrets_->Stop();
}

void ReceiverController::SetRoute(const std::string& receiver, const std::string& path, std::optional<ReceiverRoute> route) {
  std::lock_guard lock(mu_);
  if (auto old = path_of_.find(receiver); old != path_of_.end()) {
    routes_.erase(old->second);
    path_of_.erase(old);
  }
  if (!route) return;
  routes_[path] = std::move(*route);
  path_of_[receiver] = path;
}

asio::awaitable<void> ReceiverController::Reconcile(std::string key) {
  auto obj = receivers_->Get(key);
  if (!obj) {
    SetRoute(key, "", std::nullopt);
    co_return;
  }
  const json& r = *obj;
  std::string ns = r["metadata"].value("namespace", ""), name = r["metadata"].value("name", "");
  int64_t generation = r["metadata"].value("generation", int64_t{0});
  json status = r.value("status", json::object());
  json desired = status;
  desired["observedGeneration"] = generation;
  auto now = options_.clock->Now();
  auto parsed = ParseReceiver(r);
  auto* route = std::get_if<ReceiverRoute>(&parsed);
  std::string secret_name = route ? route->secret_name : "";
  auto secret = route ? secrets_->Get(ns, secret_name) : nullptr;
  std::string token = secret ? SecretToken(*secret) : "";
  std::string error;
  if (auto* e = std::get_if<std::string>(&parsed))
    error = *e;
  else if (!secret)
    error = "spec.secretRef: Secret " + ns + "/" + secret_name + " not found";
  else if (token.empty())
    error = "spec.secretRef: Secret " + ns + "/" + secret_name + " has no 'token'";
  bool unserved = false;
  if (error.empty()) {
    auto check = UnservedKind(*route);
    error = co_await std::move(check);
    unserved = !error.empty();
  }
  if (!error.empty()) {
    SetRoute(key, "", std::nullopt);
    desired.erase("webhookPath");
    SetReady(desired, "False", "InvalidSpec", error, generation, now);
  } else {
    ReceiverRoute route = std::get<ReceiverRoute>(parsed);
    route.token = token;
    std::string path = WebhookPath(token, name, ns);
    SetRoute(key, path, route);
    desired["webhookPath"] = path;
    SetReady(desired, "True", "Succeeded", "receiver serving " + path, generation, now);
  }
  // A CRD applied later makes the kind served: look again, as nothing else would enqueue this.
  if (unserved) EnqueueAfter(key, kUnservedKindRecheck);
  if (desired == status) co_return;
  if (!error.empty()) events_->Warning(r, "InvalidSpec", error);
  json apply = {{"apiVersion", resource_.ApiVersion()},
                {"kind", resource_.kind},
                {"metadata", {{"name", name}, {"namespace", ns}}},
                {"status", desired}};
  const std::string manager = options_.field_manager;
  const std::string subresource = "status";
  auto op = client_->Apply(resource_, apply, manager, /*force=*/true, subresource);
  co_await std::move(op);
}

}  // namespace sluice::gitops
