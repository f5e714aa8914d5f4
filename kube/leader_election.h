// Leader election on a coordination.k8s.io/v1 Lease, so that of several controller
// replicas exactly one reconciles at a time.
//
// The algorithm is the one every Kubernetes controller uses, so mixed fleets agree:
// - a candidate GETs the Lease (creating it when missing); if someone else holds it and
//   the record has not changed for leaseDurationSeconds *by our own clock since we first
//   saw it* (clocks of different hosts are never compared), it takes the Lease over with an
//   update at the resourceVersion it read: a 409 means another candidate won the race;
// - the leader renews every retry_period by writing renewTime; if it cannot renew within
//   renew_deadline it stops leading (before others may take over at lease_duration);
// - on Stop() a leader writes an empty holder and a 1 s duration so that another replica
//   takes over at once instead of waiting out the lease.
#pragma once

#include "kube/client.h"
#include "core/clock.h"

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace sluice::kube {

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per replica, e.g. the pod name plus a random suffix
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  bool release_on_stop = true;
  const core::Clock* clock = nullptr;  // nullptr = system clock

  // Called on the client's executor; they must not block.
  std::function<void()> on_started_leading;
  // Only after on_started_leading: the lease was lost or given up. Stop reconciling now.
  std::function<void()> on_stopped_leading;
  // Whenever the observed holder changes to a non-empty identity (ourselves included).
  std::function<void(const std::string& identity)> on_new_leader;
};

// Throws std::invalid_argument naming the setting and what is expected.
void ValidateLeaderElectionConfig(const LeaderElectionConfig& config);

// The Lease resource; leader election needs no discovery.
ApiResource LeaseResource();

class LeaderElector : public std::enable_shared_from_this<LeaderElector> {
 public:
  // Validates the config (throws std::invalid_argument).
  static std::shared_ptr<LeaderElector> Create(std::shared_ptr<Client> client, LeaderElectionConfig config);

  // Campaigns, leads while it can renew, campaigns again after losing, until Stop().
  asio::awaitable<void> Run();
  // Spawns Run() on the client's executor.
  void Start();
  // Stops campaigning; a leader calls on_stopped_leading and releases the lease.
  void Stop();

  bool IsLeader() const { return leading_; }
  // The holder last observed ("" when unknown or released).
  const std::string& observed_leader() const { return reported_leader_; }
  // True once Run() has returned.
  bool finished() const { return finished_; }
  const LeaderElectionConfig& config() const { return config_; }

 private:
  LeaderElector(std::shared_ptr<Client> client, LeaderElectionConfig config);

  asio::awaitable<bool> Acquire();
  asio::awaitable<void> RenewLoop();
  // One attempt bounded by `deadline` of real time; false on timeout or any failure.
  asio::awaitable<bool> AttemptWithDeadline(std::chrono::nanoseconds deadline);
  asio::awaitable<bool> TryAcquireOrRenew(uint64_t epoch);
  asio::awaitable<void> Release();
  asio::awaitable<void> Sleep(std::chrono::nanoseconds d);

  json DesiredSpec(const json& old_spec, core::TimePoint now) const;
  void Observe(const json& lease, core::TimePoint now);
  void ReportLeader(const std::string& holder);
  void Callback(const std::function<void()>& f, const char* what);

  std::shared_ptr<Client> client_;
  LeaderElectionConfig config_;
  const core::Clock& clock_;
  ApiResource lease_resource_;

  std::optional<json> cached_lease_;  // the last Lease we read or wrote
  json observed_spec_;                // the record as last seen
  core::TimePoint observed_time_{};         // by our clock, when observed_spec_ last changed
  core::TimePoint last_renew_{};            // by our clock, when our last successful write was made
  std::string reported_leader_;
  uint64_t epoch_ = 0;  // attempts that timed out must not touch the state

  bool leading_ = false;
  bool stopped_ = false;
  bool started_ = false;
  bool finished_ = false;
  asio::steady_timer sleep_timer_;
  std::minstd_rand rng_;
};

}  // namespace sluice::kube
