#include "sandbox/faults/fault_plan.h"

#include "core/api_error.h"
#include "core/duration.h"

#include <cctype>
#include <stdexcept>

namespace sluice::sandbox::faults {

namespace {

// The standard distributions may differ between standard libraries; these draws are defined
// here so a seed means the same decisions wherever the proxy is built.
double Unit(std::mt19937_64& gen) { return static_cast<double>(gen() >> 11) * 0x1.0p-53; }

Millis UniformMillis(std::mt19937_64& gen, Millis lo, Millis hi) {
  auto span = static_cast<uint64_t>((hi - lo).count());
  uint64_t draw = gen();
  return lo + Millis(static_cast<int64_t>(span == 0 ? 0 : draw % (span + 1)));
}

// Distinct streams from one seed: the request decisions must not depend on how many watches
// or windows were drawn in between.
std::mt19937_64 Stream(uint64_t seed, uint64_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(stream)};
  return std::mt19937_64(seq);
}

void RequireRate(double rate, const char* name) {
  if (!(rate >= 0 && rate <= 1)) throw std::invalid_argument(std::string(name) + " must be between 0 and 1");
}

std::string Injected(const std::string& message) { return message + " (injected by the fault proxy)"; }

FaultAnswer Answer(const core::ApiError& error, const std::string& retry_after) {
  return FaultAnswer{error.code(), retry_after, error.ToStatus().dump()};
}

// The bodies the API server sends for these codes (apiserver's responsewriters and APF).
FaultAnswer ErrorAnswer(int code, int retry_after_seconds) {
  std::string after = std::to_string(retry_after_seconds);
  nlohmann::json details = {{"retryAfterSeconds", retry_after_seconds}};
  if (code == 500) return Answer(core::ApiError(500, "InternalError", Injected("Internal error occurred")), "");
  if (code == 503)
    return Answer(core::ApiError(503, "ServiceUnavailable", Injected("the server is currently unable to handle the request"),
                                 details),
                  after);
  return Answer(core::ApiError(429, "TooManyRequests", Injected("Too many requests, please try again later."), details),
                after);
}

FaultAnswer ConflictAnswer(std::string_view target) {
  std::string path(target.substr(0, target.find('?')));
  return Answer(core::ApiError(409, "Conflict",
                               Injected("Operation cannot be fulfilled on " + path +
                                        ": the object has been modified; please apply your changes to the latest "
                                        "version and try again")),
                "");
}

}  // namespace

void FaultOptions::Validate() const {
  RequireRate(error_rate, "the error rate");
  RequireRate(conflict_rate, "the conflict rate");
  if (max_delay.count() < 0) throw std::invalid_argument("the delay must not be negative");
  if (cut_watch_min.count() < 0 || cut_watch_min > cut_watch_max)
    throw std::invalid_argument("the watch cut interval must be MIN-MAX with 0 <= MIN <= MAX");
  if (cut_watch_max.count() > 0 && cut_watch_min.count() == 0)
    throw std::invalid_argument("the watch cut interval must start above 0 (a watch cut at once never streams)");
  if (refuse_for.count() < 0 || refuse_every.count() < 0)
    throw std::invalid_argument("refusal durations must not be negative");
  if (refuse_every.count() > 0 && refuse_for.count() == 0)
    throw std::invalid_argument("refusal windows at random times need a duration (refuse-for)");
  if (retry_after_seconds < 0) throw std::invalid_argument("Retry-After must not be negative");
}

uint64_t FaultCounts::Injected() const {
  return errors_500 + errors_503 + errors_429 + conflicts + delayed + watch_cuts + connections_refused +
         connections_dropped;
}

std::vector<std::pair<std::string, uint64_t>> FaultCounts::Named() const {
  return {{"requests", requests},
          {"forwarded", forwarded},
          {"errors_500", errors_500},
          {"errors_503", errors_503},
          {"errors_429", errors_429},
          {"conflicts_409", conflicts},
          {"delayed", delayed},
          {"delay_ms_total", delay_ms},
          {"watches", watches},
          {"watch_cuts", watch_cuts},
          {"refusal_windows", refusal_windows},
          {"connections_refused", connections_refused},
          {"connections_dropped", connections_dropped}};
}

FaultPlan::FaultPlan(FaultOptions options)
    : options_(options), requests_(Stream(options.seed, 1)), cuts_(Stream(options.seed, 2)),
      refusals_(Stream(options.seed, 3)) {
  options_.Validate();
}

RequestDecision FaultPlan::Decide(std::string_view method, std::string_view target) {
  // Four draws every time, whatever the rates: the sequence stays aligned across options.
  Millis delay = UniformMillis(requests_, Millis(0), options_.max_delay);
  double error_roll = Unit(requests_);
  uint64_t code_pick = requests_() % 3;
  double conflict_roll = Unit(requests_);

  RequestDecision d;
  d.delay = delay;
  if (error_roll < options_.error_rate) {
    static constexpr int kCodes[] = {500, 503, 429};
    d.answer = ErrorAnswer(kCodes[code_pick], options_.retry_after_seconds);
  } else if (IsWrite(method) && conflict_roll < options_.conflict_rate) {
    d.answer = ConflictAnswer(target);
  }
  return d;
}

std::optional<Millis> FaultPlan::NextWatchCut() {
  if (options_.cut_watch_max.count() == 0) return std::nullopt;
  return UniformMillis(cuts_, options_.cut_watch_min, options_.cut_watch_max);
}

std::optional<Millis> FaultPlan::NextRefusal() {
  if (options_.refuse_every.count() == 0) return std::nullopt;
  return UniformMillis(refusals_, options_.refuse_every / 2, options_.refuse_every * 3 / 2);
}

bool IsWatchTarget(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return false;
  std::optional<std::string> value;  // the last one wins, as on the API server
  for (std::string_view rest = target.substr(q + 1); !rest.empty();) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == "watch") value = std::string(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
  }
  if (!value) return false;
  for (auto& c : *value) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return *value != "0" && *value != "false";
}

bool IsWrite(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

std::optional<std::pair<Millis, Millis>> ParseDurationRange(std::string_view text) {
  // Go durations never contain '-' (negative ones are refused), so the first one splits.
  auto dash = text.find('-');
  auto lo = core::ParseDuration(text.substr(0, dash));
  auto hi = dash == std::string_view::npos ? lo : core::ParseDuration(text.substr(dash + 1));
  if (!lo || !hi || *lo > *hi) return std::nullopt;
  return std::make_pair(*lo, *hi);
}

}  // namespace sluice::sandbox::faults
