// The scenario's side of `sluice sandbox`: reads the Canary and its Events through the API,
// shows them in the RolloutView, and waits for each step's outcome (a phase for the
// revision a commit started, an abort request, a gate opened on the loadtester).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sandbox/demo/view.h"
#include "kube/client.h"

namespace sluice::demo {

class Story {
 public:
  Story(std::shared_ptr<kube::Client> client, RolloutView& view, std::string ns, std::string name,
        std::chrono::seconds step_timeout)
      : client_(std::move(client)), view_(view), ns_(std::move(ns)), name_(std::move(name)), timeout_(step_timeout) {}

  // Resolves the Canary and Event resources (discovery).
  boost::asio::awaitable<void> Init();
  // The Canary now, or null; shows it and the new events.
  boost::asio::awaitable<nlohmann::json> Observe();
  // Waits for the revision after `before` to reach `phase` (and `reason`); false with a note
  // when it ends otherwise or the deadline passes.
  boost::asio::awaitable<bool> WaitFor(std::string before, std::string phase, std::string reason);
  // The revision the Canary last started (status.lastAppliedSpec), shown as it goes.
  boost::asio::awaitable<std::string> Revision();
  // Opens the Canary's promotion gate on the loadtester, as a person would with curl.
  boost::asio::awaitable<bool> OpenGate(std::string host, uint16_t port);
  // Waits for the rollout under way to move traffic, then annotates the abort request.
  boost::asio::awaitable<bool> Abort(std::string before);

 private:
  std::shared_ptr<kube::Client> client_;
  RolloutView& view_;
  std::string ns_, name_;
  std::chrono::seconds timeout_;
  kube::ApiResource canaries_, events_;
};

}  // namespace sluice::demo
