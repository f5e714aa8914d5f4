// What the fault proxy (fault_proxy.h) does to each request, drawn at random from a seed:
// an error answer (500, 503 or 429), a 409 Conflict on a write, a delay before forwarding,
// when a watch stream is cut and when connections are refused. Pure: no sockets, no clock,
// so the decisions can be tested by themselves.
//
// The same seed and the same sequence of calls give the same decisions. Each kind of
// decision has a generator of its own (requests, watch cuts, refusal windows), so opening a
// watch does not shift the decisions on the requests that follow. A proxy serving several
// connections at once sees their requests in an order the network chooses: a rerun with
// the same seed is then only as repeatable as that order.
//
// Not thread-safe: the proxy calls it from its one event-loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::sandbox::faults {

using Millis = std::chrono::milliseconds;

// Every rate is a probability in [0, 1]; 0 (and a zero duration) turns that fault off.
struct FaultOptions {
  uint64_t seed = 1;
  double error_rate = 0;     // a 500, 503 or 429 instead of forwarding, on any request
  double conflict_rate = 0;  // a 409 Conflict instead of forwarding, on POST/PUT/PATCH/DELETE
  Millis max_delay{0};       // each request waits a uniform 0..max_delay before it is handled
  Millis cut_watch_min{0};   // each watch stream is cut after a uniform min..max of streaming
  Millis cut_watch_max{0};
  Millis refuse_for{0};    // how long a window of refused connections lasts
  Millis refuse_every{0};  // mean time between windows (uniform 0.5..1.5 of it); 0 = on demand only
  int retry_after_seconds = 1;  // the Retry-After of 429 and 503 answers

  // Throws std::invalid_argument naming the option that is out of range.
  void Validate() const;
};

// How many faults of each kind were injected, and how much traffic went through.
struct FaultCounts {
  uint64_t requests = 0;   // requests read from clients
  uint64_t forwarded = 0;  // requests sent on to the upstream
  uint64_t errors_500 = 0;
  uint64_t errors_503 = 0;
  uint64_t errors_429 = 0;
  uint64_t conflicts = 0;
  uint64_t delayed = 0;  // requests held back by a non-zero delay
  uint64_t delay_ms = 0;  // the sum of those delays
  uint64_t watches = 0;   // watch streams forwarded
  uint64_t watch_cuts = 0;
  uint64_t refusal_windows = 0;
  uint64_t connections_refused = 0;  // new connections reset during a window
  uint64_t connections_dropped = 0;  // open connections closed when a window began

  uint64_t Injected() const;
  // One line per counter, "name: value", for logs and the subcommand's exit report.
  std::vector<std::pair<std::string, uint64_t>> Named() const;
};

// An answer the proxy gives in place of the upstream's.
struct FaultAnswer {
  int status = 0;
  std::string retry_after;  // the Retry-After header value; "" for none
  std::string body;         // a Kubernetes Status object (JSON)
};

struct RequestDecision {
  Millis delay{0};
  std::optional<FaultAnswer> answer;  // set: answer this instead of forwarding
};

class FaultPlan {
 public:
  // Throws std::invalid_argument when the options are out of range.
  explicit FaultPlan(FaultOptions options);

  const FaultOptions& options() const { return options_; }

  // The fate of the next request. Always draws the same amount of randomness per call, so a
  // rate of 0 for one fault does not change the draws of the others.
  RequestDecision Decide(std::string_view method, std::string_view target);
  // How long the next watch stream may run before it is cut; nullopt when cuts are off.
  std::optional<Millis> NextWatchCut();
  // How long until the next window of refused connections; nullopt when there are none.
  std::optional<Millis> NextRefusal();

 private:
  FaultOptions options_;
  std::mt19937_64 requests_;
  std::mt19937_64 cuts_;
  std::mt19937_64 refusals_;
};

// Whether a request target asks for a watch (?watch=true, watch=1, ... as the API server
// reads the parameter: anything but absent, "0" and "false").
bool IsWatchTarget(std::string_view target);
bool IsWrite(std::string_view method);

// "2s-8s" -> {2s, 8s}; "5s" -> {5s, 5s}; nullopt when a part is not a Go duration or the
// first is longer than the second.
std::optional<std::pair<Millis, Millis>> ParseDurationRange(std::string_view text);

}  // namespace sluice::sandbox::faults
