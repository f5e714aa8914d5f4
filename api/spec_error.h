// How a spec that does not validate is reported. The Canary parser returns a SpecError
// (its caller turns it into a status condition); the parsers of the other kinds throw
// InvalidSpec, whose message starts with the field ("spec.interval: ...") and whose reason is
// the condition reason the controller reports (InvalidSpec, InvalidURL, ...).
#pragma once

#include <stdexcept>
#include <string>

namespace sluice::api {

struct SpecError {
  std::string field;    // "spec.analysis.stepWeights[2]"
  std::string message;  // "must be greater than the previous entry (50), got 20"
  std::string ToString() const { return field + ": " + message; }
};

class InvalidSpec : public std::invalid_argument {
 public:
  explicit InvalidSpec(const std::string& message, std::string reason = "InvalidSpec")
      : std::invalid_argument(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

}  // namespace sluice::api
