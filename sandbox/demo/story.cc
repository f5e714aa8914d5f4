#include "sandbox/demo/story.h"

#include <boost/asio/this_coro.hpp>

#include "sandbox/demo/wait.h"
#include "net/http_client.h"

namespace sluice::demo {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::string Outcome(const std::string& phase) {
  if (phase == "Succeeded") return "promoted";
  if (phase == "Failed") return "rolled back";
  if (phase == "Initialized") return "initialized";
  if (phase == "WaitingPromotion") return "analysis passed; waiting for approval";
  return phase;
}

const json* Ready(const json& st) {
  if (!st.contains("conditions") || !st["conditions"].is_array()) return nullptr;
  for (const auto& c : st["conditions"])
    if (c.value("type", "") == "Ready") return &c;
  return nullptr;
}

std::string ReadyReason(const json& st) { return Ready(st) ? Ready(st)->value("reason", "") : ""; }

std::string ReadyMessage(const json& st) { return Ready(st) ? Ready(st)->value("message", "") : ""; }

}  // namespace

asio::awaitable<void> Story::Init() {
  auto canaries = client_->Resolve("sluice.dev/v1beta1", "Canary");
  canaries_ = co_await std::move(canaries);
  auto events = client_->Resolve("v1", "Event");
  events_ = co_await std::move(events);
}

asio::awaitable<json> Story::Observe() {
  json canary;
  try {
    std::string sub;
    auto get = client_->Get(canaries_, ns_, name_, sub);
    canary = co_await std::move(get);
    view_.ShowCanary(canary);
    kube::ListOptions lo;
    auto list = client_->List(events_, ns_, lo);
    json events = co_await std::move(list);
    view_.ShowEvents(events, name_);
  } catch (const core::ApiError& e) {
    if (!e.IsNotFound()) view_.Note(std::string("cannot read the Canary: ") + e.what());
  }
  co_return canary;
}

asio::awaitable<bool> Story::WaitFor(std::string before, std::string phase, std::string reason) {
  auto start = std::chrono::steady_clock::now();
  auto end = start + timeout_;
  while (std::chrono::steady_clock::now() < end) {
    json c = co_await Observe();
    const json& st = c.is_object() && c.contains("status") ? c["status"] : json::object();
    std::string applied = st.value("lastAppliedSpec", "");
    std::string now_phase = st.value("phase", "");
    bool fresh = before.empty() ? !now_phase.empty() : applied != before && !applied.empty();
    if (fresh && (now_phase == "Succeeded" || now_phase == "Failed" || now_phase == phase)) {
      std::string why = ReadyReason(st);
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
      if (now_phase == phase && (reason.empty() || why == reason)) {
        view_.Headline(Outcome(phase) + " in " + std::to_string(secs) + "s" + (why.empty() ? "" : " (" + why + ")"));
        co_return true;
      }
      view_.Headline("expected " + phase + (reason.empty() ? "" : " (" + reason + ")") + ", but the rollout ended " +
                     now_phase + " (" + why + "): " + ReadyMessage(st));
      co_return false;
    }
    co_await Sleep(std::chrono::milliseconds(500));
  }
  view_.Headline("no " + phase + " within " + std::to_string(timeout_.count()) + "s; the controller's log is in the work dir");
  co_return false;
}

asio::awaitable<std::string> Story::Revision() {
  json c = co_await Observe();
  co_return c.is_object() && c.contains("status") ? c["status"].value("lastAppliedSpec", "") : "";
}

asio::awaitable<bool> Story::OpenGate(std::string host, uint16_t port) {
  std::string target = "/gate/open?name=" + name_ + "&namespace=" + ns_;
  view_.Note("$ curl -X POST 'http://" + host + ":" + std::to_string(port) + target + "'");
  auto executor = co_await asio::this_coro::executor;
  auto transport = net::MakeHttpClient(executor, {.server = "http://" + host + ":" + std::to_string(port)});
  net::ClientRequest req;
  req.method = "POST";
  req.target = target;
  req.accept = "*/*";
  auto timeout = std::chrono::milliseconds(5000);
  auto send = transport->Send(req, timeout);
  net::ClientResponse r = co_await std::move(send);
  if (r.status / 100 == 2) co_return true;
  view_.Headline("the loadtester answered " + std::to_string(r.status) + ": " + r.body);
  co_return false;
}

asio::awaitable<bool> Story::Abort(std::string before) {
  auto end = std::chrono::steady_clock::now() + timeout_;
  while (std::chrono::steady_clock::now() < end) {
    json c = co_await Observe();
    const json& st = c.is_object() && c.contains("status") ? c["status"] : json::object();
    bool underway = st.value("lastAppliedSpec", "") != before && st.value("phase", "") == "Progressing" &&
                    (st.value("canaryWeight", 0) > 0 || st.value("iterations", 0) > 0);
    if (underway) {
      view_.Note("$ kubectl -n " + ns_ + " annotate canary " + name_ + " sluice.dev/abort=\"sandbox abort scenario\"");
      json patch = {{"metadata", {{"annotations", {{"sluice.dev/abort", "sandbox abort scenario"}}}}}};
      kube::PatchOptions po;
      po.field_manager = "kubectl-annotate";
      auto op = client_->Patch(canaries_, ns_, name_, kube::PatchType::kMerge, patch, po);
      co_await std::move(op);
      co_return true;
    }
    co_await Sleep(std::chrono::milliseconds(250));
  }
  view_.Headline("the rollout did not start within " + std::to_string(timeout_.count()) + "s");
  co_return false;
}

}  // namespace sluice::demo
