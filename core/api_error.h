// The API's metav1.Status for a failed call. The emulator builds these to answer requests;
// the client raises them as exceptions so a caller can branch on what retrying would do.
#pragma once

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace sluice::core {

struct StatusCause {
  std::string reason;  // e.g. FieldValueInvalid, FieldValueRequired, FieldManagerConflict
  std::string message;
  std::string field;  // e.g. spec.rules[0].backendRefs[0].weight
};

// What a caller should do after an error (Abseil-style status semantics).
enum class RetryAdvice {
  kNever,    // the request itself is wrong (invalid spec, not found, forbidden): report it
  kReread,   // the object changed underneath us (409 Conflict): re-read, re-apply, retry
  kBackoff,  // the server or the network is unavailable (5xx, 429, timeouts): back off with jitter
};

class ApiError : public std::runtime_error {
 public:
  // `code` is the HTTP status; 0 marks a transport failure (no HTTP answer at all).
  ApiError(int code, std::string reason, std::string message,
           nlohmann::json details = nlohmann::json::object());

  // Decodes a response body; a body that is not a Status becomes a generic error that keeps
  // the HTTP code and the start of the body.
  static ApiError FromResponse(int http_code, const std::string& body);
  nlohmann::json ToStatus() const;

  int code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  const nlohmann::json& details() const { return details_; }
  std::vector<StatusCause> causes() const;
  RetryAdvice retry_advice() const;
  // Seconds the server asked us to wait (details.retryAfterSeconds or Retry-After), 0 if none.
  int retry_after_seconds() const;

  bool IsNotFound() const { return reason_ == "NotFound"; }
  bool IsConflict() const { return reason_ == "Conflict"; }
  bool IsAlreadyExists() const { return reason_ == "AlreadyExists"; }
  bool IsExpired() const { return code_ == 410 || reason_ == "Expired" || reason_ == "Gone"; }
  bool IsInvalid() const { return reason_ == "Invalid"; }

  // Builders for the reasons the API uses. `resource` is the plural (e.g. "canaries").
  static ApiError NotFound(const std::string& group, const std::string& resource, const std::string& name);
  static ApiError AlreadyExists(const std::string& group, const std::string& resource, const std::string& name);
  static ApiError Conflict(const std::string& group, const std::string& resource, const std::string& name,
                           const std::string& why);
  // kind e.g. "Canary.sluice.dev" or "Deployment.apps" ("ConfigMap" for core).
  static ApiError Invalid(const std::string& qualified_kind, const std::string& name,
                          const std::vector<StatusCause>& causes, const std::string& group = "",
                          const std::string& resource_kind = "");
  static ApiError BadRequest(const std::string& message);
  static ApiError Expired(const std::string& message);
  static ApiError UnsupportedMediaType(const std::string& message);
  static ApiError NotAcceptable(const std::string& message);
  static ApiError MethodNotAllowed(const std::string& message);
  static ApiError RequestEntityTooLarge(const std::string& message);
  static ApiError Unauthorized(const std::string& message);
  static ApiError Forbidden(const std::string& message);
  static ApiError InternalError(const std::string& message);
  static ApiError Unavailable(const std::string& message);  // transport: refused, reset, TLS
  static ApiError Timeout(const std::string& message);      // transport: deadline passed

 private:
  int code_;
  std::string reason_;
  std::string message_;
  nlohmann::json details_;
};

}  // namespace sluice::core
