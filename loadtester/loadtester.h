// `sluice loadtester`: the companion server of gated and load-tested rollouts.
//
// Gates: a Canary's confirm-* webhooks point at /gate/check (open when a person opened it
// with /gate/open), /gate/approve (always open) or /gate/halt (always closed); its rollback
// webhook at /rollback/check (2xx once /rollback/open was called). Gates are keyed by the
// payload's name and namespace and answer 200 when open, 403 when closed.
//
// Tasks: a rollout webhook POSTed to / with metadata {type: load, url, rps, duration} starts
// HTTP load against url in the background; {type: cmd, cmd, timeout} runs a shell command.
// A task already running for the same Canary and target is not started twice, so the
// webhook firing at every step keeps one load going. Both have hard deadlines.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace sluice::loadtester {

struct LoadTesterOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  int max_rps = 1000;
  std::chrono::milliseconds max_duration{std::chrono::hours(1)};
  std::chrono::milliseconds default_cmd_timeout{std::chrono::minutes(1)};
  std::chrono::milliseconds default_request_timeout{5000};
  size_t max_in_flight = 256;  // requests of one load task waiting for an answer
};

class LoadTester {
 public:
  explicit LoadTester(LoadTesterOptions options);
  ~LoadTester();
  LoadTester(const LoadTester&) = delete;
  LoadTester& operator=(const LoadTester&) = delete;

  // Binds and serves; throws std::runtime_error when the address cannot be bound.
  void Start();
  // Cancels running tasks (killing commands) and stops serving. Idempotent.
  void Stop();
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::loadtester
