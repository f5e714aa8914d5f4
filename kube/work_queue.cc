#include "kube/work_queue.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace sluice::kube {

namespace asio = boost::asio;

std::shared_ptr<WorkQueue> WorkQueue::Create(asio::any_io_executor executor, const core::Clock& clock,
                                             WorkQueueOptions options) {
  if (options.base_delay.count() <= 0) {
    throw std::invalid_argument("work queue " + options.name + ": base_delay must be positive");
  }
  if (options.max_delay < options.base_delay) {
    throw std::invalid_argument("work queue " + options.name + ": max_delay must be at least base_delay");
  }
  if (options.qps < 0 || (options.qps > 0 && options.burst < 1)) {
    throw std::invalid_argument("work queue " + options.name +
                                ": qps must be >= 0 (0 = no overall limit) and burst >= 1 when qps > 0");
  }
  return std::shared_ptr<WorkQueue>(new WorkQueue(std::move(executor), clock, std::move(options)));
}

WorkQueue::WorkQueue(asio::any_io_executor executor, const core::Clock& clock, WorkQueueOptions options)
    : executor_(executor),
      clock_(clock),
      options_(std::move(options)),
      tokens_(options_.burst),
      tokens_at_(clock.Now()),
      ready_signal_(executor, asio::steady_timer::time_point::max()),
      delay_timer_(executor) {}

void WorkQueue::Add(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;
  ++stats_.adds;
  // Done() queues it again; handing it out now would run two reconciles of one key at once.
  if (processing_.count(key)) return;
  queue_.push_back(key);
  ready_signal_.cancel_one();
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  if (shutting_down_) return;
  if (delay <= Duration::zero()) {
    Add(key);
    return;
  }
  ++stats_.delayed_adds;
  core::TimePoint due = clock_.Now() + std::chrono::duration_cast<core::TimePoint::duration>(delay);
  auto existing = delayed_by_key_.find(key);
  if (existing != delayed_by_key_.end()) {
    if (existing->second <= due) return;
    delayed_.erase({existing->second, key});
    existing->second = due;
  } else {
    delayed_by_key_.emplace(key, due);
  }
  delayed_.emplace(due, key);
  ArmDelayTimer();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  if (shutting_down_) return;
  ++stats_.retries;
  Duration item = ItemBackoff(key);
  ++failures_[key];
  Duration overall = ReserveToken();
  AddAfter(key, std::max(item, overall));
}

void WorkQueue::Forget(const std::string& key) { failures_.erase(key); }

int WorkQueue::NumRequeues(const std::string& key) const {
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

WorkQueue::Duration WorkQueue::PeekBackoff(const std::string& key) const { return ItemBackoff(key); }

WorkQueue::Duration WorkQueue::ItemBackoff(const std::string& key) const {
  int failures = NumRequeues(key);
  // Doubles overflow long after the cap, so compute there and clamp.
  double nanos = static_cast<double>(std::chrono::nanoseconds(options_.base_delay).count()) *
                 std::pow(2.0, std::min(failures, 1000));
  double cap = static_cast<double>(std::chrono::nanoseconds(options_.max_delay).count());
  return Duration(static_cast<int64_t>(std::min(nanos, cap)));
}

WorkQueue::Duration WorkQueue::ReserveToken() {
  if (options_.qps <= 0) return Duration::zero();
  core::TimePoint now = clock_.Now();
  if (now > tokens_at_) {
    double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
    tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * options_.qps);
    tokens_at_ = now;
  }
  // Going negative reserves a future token, so a burst of failures spreads out evenly.
  tokens_ -= 1;
  if (tokens_ >= 0) return Duration::zero();
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / options_.qps));
}

asio::awaitable<std::optional<std::string>> WorkQueue::Get() {
  for (;;) {
    if (auto key = TryGet()) co_return key;
    if (shutting_down_) co_return std::nullopt;
    // Keep the queue alive while a worker waits on it.
    auto self = shared_from_this();
    boost::system::error_code ec;
    co_await ready_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

std::optional<std::string> WorkQueue::TryGet() {
  if (queue_.empty()) return std::nullopt;
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  processing_.insert(key);
  return key;
}

void WorkQueue::Done(const std::string& key) {
  processing_.erase(key);
  if (dirty_.count(key)) {
    queue_.push_back(key);
    ready_signal_.cancel_one();
  }
}

size_t WorkQueue::ReleaseDue() {
  core::TimePoint now = clock_.Now();
  size_t released = 0;
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    std::string key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    delayed_by_key_.erase(key);
    Add(key);
    ++released;
  }
  ArmDelayTimer();
  return released;
}

void WorkQueue::ArmDelayTimer() {
  if (delayed_.empty()) {
    if (armed_for_) delay_timer_.cancel();
    armed_for_.reset();
    return;
  }
  core::TimePoint earliest = delayed_.begin()->first;
  if (armed_for_ == earliest) return;
  armed_for_ = earliest;
  // The clock may be fake: the timer only decides when to look again; ReleaseDue asks the
  // clock what is due.
  auto wait = std::max<core::TimePoint::duration>(earliest - clock_.Now(), core::TimePoint::duration::zero());
  delay_timer_.expires_after(wait);
  std::weak_ptr<WorkQueue> weak = weak_from_this();
  delay_timer_.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->armed_for_.reset();
      self->ReleaseDue();
    }
  });
}

void WorkQueue::ShutDown() {
  shutting_down_ = true;
  delayed_.clear();
  delayed_by_key_.clear();
  armed_for_.reset();
  delay_timer_.cancel();
  ready_signal_.cancel();
}

}  // namespace sluice::kube
