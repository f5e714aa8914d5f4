#include "kube/leader_election.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <cmath>
#include <stdexcept>

namespace sluice::kube {
namespace {

// client-go's factor: a candidate waits retry_period * [1, 2.2) between attempts.
constexpr double kJitterFactor = 1.2;

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

ApiResource LeaseResource() {
  ApiResource r;
  r.group = "coordination.k8s.io";
  r.version = "v1";
  r.resource = "leases";
  r.kind = "Lease";
  r.singular = "lease";
  r.namespaced = true;
  r.verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
  return r;
}

void ValidateLeaderElectionConfig(const LeaderElectionConfig& c) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("leader election: " + what); };
  if (c.lease_name.empty()) fail("lease_name is required");
  if (c.lease_namespace.empty()) fail("lease_namespace is required");
  if (c.identity.empty()) fail("identity is required (unique per replica, e.g. the pod name)");
  if (c.retry_period.count() <= 0) fail("retry_period must be positive, got " + Millis(c.retry_period));
  if (c.lease_duration < std::chrono::seconds(1)) {
    fail("lease_duration must be at least 1s (leaseDurationSeconds is whole seconds), got " + Millis(c.lease_duration));
  }
  if (c.lease_duration <= c.renew_deadline) {
    fail("lease_duration (" + Millis(c.lease_duration) + ") must be greater than renew_deadline (" +
         Millis(c.renew_deadline) + "), or a leader could still act after others took over");
  }
  if (static_cast<double>(c.renew_deadline.count()) <= kJitterFactor * static_cast<double>(c.retry_period.count())) {
    fail("renew_deadline (" + Millis(c.renew_deadline) + ") must be greater than 1.2 x retry_period (" +
         Millis(c.retry_period) + ")");
  }
}

std::shared_ptr<LeaderElector> LeaderElector::Create(std::shared_ptr<Client> client, LeaderElectionConfig config) {
  if (!client) throw std::invalid_argument("leader election: client is null");
  ValidateLeaderElectionConfig(config);
  return std::shared_ptr<LeaderElector>(new LeaderElector(std::move(client), std::move(config)));
}

LeaderElector::LeaderElector(std::shared_ptr<Client> client, LeaderElectionConfig config)
    : client_(std::move(client)),
      config_(std::move(config)),
      clock_(config_.clock ? *config_.clock : core::SystemClock::Instance()),
      lease_resource_(LeaseResource()),
      sleep_timer_(client_->executor()),
      rng_(std::random_device{}()) {}

void LeaderElector::Start() {
  if (started_) return;
  started_ = true;
  asio::co_spawn(client_->executor(), Run(), [self = shared_from_this()](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("leader election {}/{}: stopped by an unexpected error: {}", self->config_.lease_namespace,
                    self->config_.lease_name, ex.what());
    }
  });
}

void LeaderElector::Stop() {
  stopped_ = true;
  sleep_timer_.cancel();
}

asio::awaitable<void> LeaderElector::Run() {
  auto self = shared_from_this();
  started_ = true;
  while (!stopped_) {
    if (!co_await Acquire()) break;
    leading_ = true;
    spdlog::info("leader election {}/{}: {} became leader", config_.lease_namespace, config_.lease_name,
                 config_.identity);
    Callback(config_.on_started_leading, "on_started_leading");
    co_await RenewLoop();
    leading_ = false;
    // Stop working before giving the lease away: the next leader may start at once.
    Callback(config_.on_stopped_leading, "on_stopped_leading");
    if (stopped_ && config_.release_on_stop) co_await Release();
  }
  finished_ = true;
}

asio::awaitable<bool> LeaderElector::Acquire() {
  while (!stopped_) {
    if (co_await AttemptWithDeadline(config_.renew_deadline)) co_return true;
    if (stopped_) break;
    double factor = 1 + std::uniform_real_distribution<double>(0, kJitterFactor)(rng_);
    co_await Sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(config_.retry_period * factor));
  }
  co_return false;
}

asio::awaitable<void> LeaderElector::RenewLoop() {
  while (!stopped_) {
    co_await Sleep(config_.retry_period);
    for (;;) {
      if (stopped_) co_return;
      auto remaining = last_renew_ + config_.renew_deadline - clock_.Now();
      if (remaining <= core::TimePoint::duration::zero()) {
        spdlog::warn("leader election {}/{}: {} could not renew within {}; stopping leading",
                     config_.lease_namespace, config_.lease_name, config_.identity, Millis(config_.renew_deadline));
        co_return;
      }
      if (co_await AttemptWithDeadline(remaining)) break;
      if (stopped_) co_return;
      if (!reported_leader_.empty() && reported_leader_ != config_.identity) {
        spdlog::warn("leader election {}/{}: {} lost the lease to {}", config_.lease_namespace, config_.lease_name,
                     config_.identity, reported_leader_);
        co_return;
      }
      co_await Sleep(config_.retry_period);
    }
  }
}

asio::awaitable<void> LeaderElector::Sleep(std::chrono::nanoseconds d) {
  if (stopped_) co_return;
  sleep_timer_.expires_after(d);
  boost::system::error_code ec;
  co_await sleep_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

asio::awaitable<bool> LeaderElector::AttemptWithDeadline(std::chrono::nanoseconds deadline) {
  // The attempt runs on its own so that a hung API call cannot hold a leader past its
  // renew deadline; a late answer is ignored through the epoch.
  struct Race {
    explicit Race(asio::any_io_executor ex) : timer(ex) {}
    bool done = false;
    bool ok = false;
    asio::steady_timer timer;
  };
  auto executor = client_->executor();
  auto race = std::make_shared<Race>(executor);
  race->timer.expires_after(deadline);
  uint64_t epoch = ++epoch_;
  asio::co_spawn(executor, TryAcquireOrRenew(epoch),
                 [race, self = shared_from_this()](std::exception_ptr e, bool ok) {
                   race->done = true;
                   race->ok = !e && ok;
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::warn("leader election {}/{}: attempt failed: {}", self->config_.lease_namespace,
                                    self->config_.lease_name, ex.what());
                     }
                   }
                   race->timer.cancel();
                 });
  boost::system::error_code ec;
  co_await race->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (!race->done) {
    ++epoch_;
    spdlog::warn("leader election {}/{}: lease request took longer than {}ms", config_.lease_namespace,
                 config_.lease_name, std::chrono::duration_cast<std::chrono::milliseconds>(deadline).count());
    co_return false;
  }
  co_return race->ok;
}

json LeaderElector::DesiredSpec(const json& old_spec, core::TimePoint now) const {
  const std::string old_holder = old_spec.is_object() ? old_spec.value("holderIdentity", std::string()) : "";
  int64_t transitions = old_spec.is_object() ? old_spec.value("leaseTransitions", int64_t{0}) : 0;
  std::string now_text = core::FormatMicroTime(now);
  json spec = {
      {"holderIdentity", config_.identity},
      {"leaseDurationSeconds",
       static_cast<int64_t>(std::ceil(std::chrono::duration<double>(config_.lease_duration).count()))},
      {"renewTime", now_text},
      {"acquireTime", now_text},
      {"leaseTransitions", transitions},
  };
  if (old_holder == config_.identity) {
    if (old_spec.contains("acquireTime")) spec["acquireTime"] = old_spec["acquireTime"];
  } else if (old_spec.is_object() && !old_spec.empty()) {
    spec["leaseTransitions"] = transitions + 1;  // a new holder, or the first after a release
  }
  return spec;
}

void LeaderElector::Observe(const json& lease, core::TimePoint now) {
  json spec = lease.value("spec", json::object());
  if (spec != observed_spec_) {
    observed_spec_ = spec;
    observed_time_ = now;
  }
  cached_lease_ = lease;
  ReportLeader(spec.value("holderIdentity", std::string()));
}

void LeaderElector::ReportLeader(const std::string& holder) {
  if (holder == reported_leader_) return;
  reported_leader_ = holder;
  if (holder.empty() || !config_.on_new_leader) return;
  try {
    config_.on_new_leader(holder);
  } catch (const std::exception& e) {
    spdlog::error("leader election {}/{}: on_new_leader failed: {}", config_.lease_namespace, config_.lease_name,
                  e.what());
  }
}

asio::awaitable<bool> LeaderElector::TryAcquireOrRenew(uint64_t epoch) {
  auto self = shared_from_this();
  core::TimePoint now = clock_.Now();
  const std::string& ns = config_.lease_namespace;
  const std::string& name = config_.lease_name;
  // Every awaited call is built from named values first: g++ 12 destroys argument
  // temporaries of an awaited call twice (see kube/client.h).
  const WriteOptions write_options;
  const std::string no_subresource;

  // A leader renews with the version it wrote last: one request per period. Any failure
  // falls back to reading the lease, which tells whether we still hold it.
  if (leading_ && cached_lease_ && observed_spec_.value("holderIdentity", std::string()) == config_.identity) {
    json lease = *cached_lease_;
    lease["spec"] = DesiredSpec(observed_spec_, now);
    try {
      auto op = client_->Update(lease_resource_, lease, write_options, no_subresource);
      json written = co_await std::move(op);
      if (epoch != epoch_) co_return false;
      Observe(written, now);
      last_renew_ = now;
      co_return true;
    } catch (const core::ApiError& e) {
      if (epoch != epoch_) co_return false;
      spdlog::info("leader election {}/{}: renew with cached lease failed ({}); re-reading", ns, name, e.reason());
    }
  }

  std::optional<json> lease;
  try {
    auto op = client_->Get(lease_resource_, ns, name, no_subresource);
    lease = co_await std::move(op);
  } catch (const core::ApiError& e) {
    if (!e.IsNotFound()) {
      spdlog::warn("leader election {}/{}: reading the lease failed: {}", ns, name, e.what());
      co_return false;
    }
  }
  if (epoch != epoch_) co_return false;

  if (!lease) {
    json fresh = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", name}, {"namespace", ns}}},
                  {"spec", DesiredSpec(json::object(), now)}};
    try {
      auto op = client_->Create(lease_resource_, ns, fresh, write_options);
      json created = co_await std::move(op);
      if (epoch != epoch_) co_return false;
      Observe(created, now);
      last_renew_ = now;
      co_return true;
    } catch (const core::ApiError& e) {
      // AlreadyExists: another candidate created it first; we read it on the next attempt.
      spdlog::info("leader election {}/{}: creating the lease failed: {}", ns, name, e.what());
      co_return false;
    }
  }

  Observe(*lease, now);
  const std::string holder = observed_spec_.value("holderIdentity", std::string());
  int64_t duration_seconds = observed_spec_.value("leaseDurationSeconds", int64_t{0});
  if (!holder.empty() && holder != config_.identity &&
      observed_time_ + std::chrono::seconds(duration_seconds) > now) {
    co_return false;  // held by someone else and not expired by our clock
  }

  json updated = *lease;
  updated["spec"] = DesiredSpec(observed_spec_, now);
  try {
    auto op = client_->Update(lease_resource_, updated, write_options, no_subresource);
    json written = co_await std::move(op);
    if (epoch != epoch_) co_return false;
    Observe(written, now);
    last_renew_ = now;
    co_return true;
  } catch (const core::ApiError& e) {
    if (e.IsConflict()) {
      spdlog::info("leader election {}/{}: lost the race for the lease (409)", ns, name);
    } else {
      spdlog::warn("leader election {}/{}: writing the lease failed: {}", ns, name, e.what());
    }
    co_return false;
  }
}

asio::awaitable<void> LeaderElector::Release() {
  if (!cached_lease_ || observed_spec_.value("holderIdentity", std::string()) != config_.identity) co_return;
  core::TimePoint now = clock_.Now();
  json lease = *cached_lease_;
  json& spec = lease["spec"];
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = core::FormatMicroTime(now);
  spec["acquireTime"] = core::FormatMicroTime(now);
  auto executor = client_->executor();
  struct Race {
    explicit Race(asio::any_io_executor ex) : timer(ex) {}
    bool done = false;
    asio::steady_timer timer;
  };
  auto race = std::make_shared<Race>(executor);
  race->timer.expires_after(config_.renew_deadline);
  auto write = [](std::shared_ptr<Client> client, ApiResource res, json body) -> asio::awaitable<json> {
    const WriteOptions write_options;
    const std::string no_subresource;
    auto op = client->Update(res, std::move(body), write_options, no_subresource);
    co_return co_await std::move(op);
  };
  asio::co_spawn(executor, write(client_, lease_resource_, lease),
                 [race, self = shared_from_this()](std::exception_ptr e, json written) {
                   race->done = true;
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       spdlog::warn("leader election {}/{}: releasing the lease failed: {}",
                                    self->config_.lease_namespace, self->config_.lease_name, ex.what());
                     }
                   } else {
                     self->Observe(written, self->clock_.Now());
                     spdlog::info("leader election {}/{}: {} released the lease", self->config_.lease_namespace,
                                  self->config_.lease_name, self->config_.identity);
                   }
                   race->timer.cancel();
                 });
  boost::system::error_code ec;
  co_await race->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

void LeaderElector::Callback(const std::function<void()>& f, const char* what) {
  if (!f) return;
  try {
    f();
  } catch (const std::exception& e) {
    spdlog::error("leader election {}/{}: {} failed: {}", config_.lease_namespace, config_.lease_name, what, e.what());
  }
}

}  // namespace sluice::kube
