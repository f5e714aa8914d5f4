// Webhook receivers on the controller's HTTP port. A `Receiver` object (sluice.dev/v1beta1)
// names a type (github | gitlab | generic-hmac), a Secret whose `token` is the shared
// secret, and the objects to reconcile. Its endpoint is POST /hook/<sha256(token + name +
// namespace)>, written to status.webhookPath. A request that proves the token (GitHub:
// X-Hub-Signature-256 HMAC-SHA256 of the body; GitLab: X-Gitlab-Token; generic-hmac:
// X-Signature: sha256=<hex HMAC of the body>) sets `sluice.dev/reconcile: <now>` on every
// listed object, which their controllers handle at once. Anything else gets 401 and counts
// in sluice_receiver_requests_total{result="unauthorized"}; a proven request whose body is
// not the JSON payload its type sends gets 400 (result="bad_request") and reconciles nothing.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/receiver.h"
#include "kube/client.h"
#include "core/clock.h"
#include "kube/event_recorder.h"
#include "kube/informer.h"
#include "kube/runtime/reconciler.h"
#include "net/http_server.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
}  // namespace prometheus

namespace sluice::gitops {

std::string HmacSha256Hex(const std::string& key, const std::string& data);
std::string Sha256Hex(const std::string& data);
// Constant-time comparison: a timing difference must not reveal how much of a guess matched.
bool SafeEqual(const std::string& a, const std::string& b);
// "sha256=<hex>" headers (GitHub's X-Hub-Signature-256, our generic X-Signature).
bool VerifySha256Signature(const std::string& token, const std::string& body, const std::string& header);
std::string WebhookPath(const std::string& token, const std::string& name, const std::string& ns);

using ReceiverTarget = api::ReceiverResource;

struct ReceiverRoute {
  std::string receiver;  // "namespace/name"
  std::string type;      // github | gitlab | generic-hmac
  std::string token;
  std::vector<std::string> events;
  std::vector<ReceiverTarget> targets;
  std::string secret_name;
};

struct ReceiverOptions {
  std::string ns;  // "" = every namespace
  std::string field_manager = "sluice-receiver";
  const core::Clock* clock = &core::SystemClock::Instance();
  // Where sluice_receiver_requests_total is registered (the Manager's); its own when null.
  std::shared_ptr<prometheus::Registry> metrics;
};

class ReceiverController final : public kube::runtime::Reconciler {
 public:
  static std::shared_ptr<ReceiverController> Create(std::shared_ptr<kube::Client> client,
                                                    std::shared_ptr<kube::EventRecorder> events,
                                                    ReceiverOptions options = {});
  ~ReceiverController();

  bool Synced() const { return Ready(); }

  // POST /hook/...: called on the HTTP server's thread; safe alongside the event loop.
  net::HttpResponse Handle(const net::HttpRequest& request);
  // Its metrics registry in the text exposition format.
  std::string SerializeMetrics() const;
  uint64_t Count(const std::string& result) const;

 private:
  ReceiverController(std::shared_ptr<kube::Client> client, std::shared_ptr<kube::EventRecorder> events,
                     ReceiverOptions options);
  boost::asio::awaitable<void> StartWatches() override;
  void StopWatches() override;
  std::weak_ptr<ReceiverController> WeakSelf();
  boost::asio::awaitable<void> Reconcile(std::string key) override;
  boost::asio::awaitable<void> Trigger(ReceiverRoute route);
  // "" when the API serves every kind in spec.resources, else which one it does not serve.
  // Throws when the API cannot be asked (the reconcile is retried).
  boost::asio::awaitable<std::string> UnservedKind(const ReceiverRoute& route);
  void SetRoute(const std::string& receiver, const std::string& path, std::optional<ReceiverRoute> route);
  void CountResult(const std::string& result);

  std::shared_ptr<kube::Client> client_;
  std::shared_ptr<kube::EventRecorder> events_;
  ReceiverOptions options_;
  kube::ApiResource resource_;
  std::shared_ptr<kube::Informer> receivers_;
  std::shared_ptr<kube::Informer> secrets_;
  std::map<std::string, kube::ApiResource> resolved_;  // "apiVersion/kind" -> resource (loop only)

  mutable std::mutex mu_;  // guards the route table and the counters (HTTP thread + loop)
  std::map<std::string, ReceiverRoute> routes_;       // by path
  std::map<std::string, std::string> path_of_;        // receiver key -> path
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
};

}  // namespace sluice::gitops
