#include "core/api_error.h"

namespace sluice::core {
namespace {

std::string Truncate(const std::string& s, size_t n) { return s.size() <= n ? s : s.substr(0, n) + "..."; }

nlohmann::json Details(const std::string& group, const std::string& resource, const std::string& name) {
  nlohmann::json d = {{"name", name}, {"kind", resource}};
  if (!group.empty()) d["group"] = group;
  return d;
}

std::string Qualified(const std::string& group, const std::string& resource) {
  return group.empty() ? resource : resource + "." + group;
}

}  // namespace

ApiError::ApiError(int code, std::string reason, std::string message, nlohmann::json details)
    : std::runtime_error(message), code_(code), reason_(std::move(reason)), message_(std::move(message)),
      details_(std::move(details)) {}

ApiError ApiError::FromResponse(int http_code, const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    std::string reason = parsed.value("reason", "");
    if (reason.empty()) reason = http_code >= 500 ? "InternalError" : "Unknown";
    return ApiError(parsed.value("code", http_code), reason, parsed.value("message", ""),
                    parsed.value("details", nlohmann::json::object()));
  }
  std::string reason = http_code == 401   ? "Unauthorized"
                       : http_code == 403 ? "Forbidden"
                       : http_code == 404 ? "NotFound"
                       : http_code == 429 ? "TooManyRequests"
                       : http_code >= 500 ? "InternalError"
                                          : "Unknown";
  return ApiError(http_code, reason,
                  "the server answered HTTP " + std::to_string(http_code) + " without a Status: " +
                      Truncate(body, 200));
}

nlohmann::json ApiError::ToStatus() const {
  nlohmann::json s = {{"kind", "Status"},       {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                      {"status", "Failure"},    {"message", message_}, {"reason", reason_},
                      {"code", code_}};
  if (!details_.empty()) s["details"] = details_;
  return s;
}

std::vector<StatusCause> ApiError::causes() const {
  std::vector<StatusCause> out;
  if (!details_.is_object() || !details_.contains("causes") || !details_["causes"].is_array()) return out;
  for (const auto& c : details_["causes"]) {
    if (!c.is_object()) continue;
    out.push_back({c.value("reason", ""), c.value("message", ""), c.value("field", "")});
  }
  return out;
}

RetryAdvice ApiError::retry_advice() const {
  if (reason_ == "Conflict" && code_ == 409) return RetryAdvice::kReread;
  if (code_ == 0 || code_ == 429 || code_ >= 500 || reason_ == "Timeout" || reason_ == "ServerTimeout" ||
      reason_ == "TooManyRequests" || reason_ == "ServiceUnavailable")
    return RetryAdvice::kBackoff;
  return RetryAdvice::kNever;
}

int ApiError::retry_after_seconds() const {
  if (details_.is_object() && details_.contains("retryAfterSeconds") && details_["retryAfterSeconds"].is_number())
    return details_["retryAfterSeconds"].get<int>();
  return 0;
}

ApiError ApiError::NotFound(const std::string& group, const std::string& resource, const std::string& name) {
  return ApiError(404, "NotFound", Qualified(group, resource) + " \"" + name + "\" not found",
                  Details(group, resource, name));
}

ApiError ApiError::AlreadyExists(const std::string& group, const std::string& resource, const std::string& name) {
  return ApiError(409, "AlreadyExists", Qualified(group, resource) + " \"" + name + "\" already exists",
                  Details(group, resource, name));
}

ApiError ApiError::Conflict(const std::string& group, const std::string& resource, const std::string& name,
                            const std::string& why) {
  return ApiError(409, "Conflict",
                  "Operation cannot be fulfilled on " + Qualified(group, resource) + " \"" + name + "\": " + why,
                  Details(group, resource, name));
}

ApiError ApiError::Invalid(const std::string& qualified_kind, const std::string& name,
                           const std::vector<StatusCause>& causes, const std::string& group,
                           const std::string& resource_kind) {
  std::string msg = qualified_kind + " \"" + name + "\" is invalid: ";
  nlohmann::json jc = nlohmann::json::array();
  for (size_t i = 0; i < causes.size(); ++i) {
    if (i) msg += ", ";
    msg += (causes[i].field.empty() ? "" : causes[i].field + ": ") + causes[i].message;
    jc.push_back({{"reason", causes[i].reason}, {"message", causes[i].message}, {"field", causes[i].field}});
  }
  if (causes.size() > 1) msg = qualified_kind + " \"" + name + "\" is invalid: [" + msg.substr(msg.find(": ") + 2) + "]";
  nlohmann::json d = {{"name", name}, {"causes", jc}};
  if (!group.empty()) d["group"] = group;
  if (!resource_kind.empty()) d["kind"] = resource_kind;
  return ApiError(422, "Invalid", msg, d);
}

ApiError ApiError::BadRequest(const std::string& m) { return ApiError(400, "BadRequest", m); }
ApiError ApiError::Expired(const std::string& m) { return ApiError(410, "Expired", m); }
ApiError ApiError::UnsupportedMediaType(const std::string& m) { return ApiError(415, "UnsupportedMediaType", m); }
ApiError ApiError::NotAcceptable(const std::string& m) { return ApiError(406, "NotAcceptable", m); }
ApiError ApiError::MethodNotAllowed(const std::string& m) { return ApiError(405, "MethodNotAllowed", m); }
ApiError ApiError::RequestEntityTooLarge(const std::string& m) { return ApiError(413, "RequestEntityTooLarge", m); }
ApiError ApiError::Unauthorized(const std::string& m) { return ApiError(401, "Unauthorized", m); }
ApiError ApiError::Forbidden(const std::string& m) { return ApiError(403, "Forbidden", m); }
ApiError ApiError::InternalError(const std::string& m) { return ApiError(500, "InternalError", m); }
ApiError ApiError::Unavailable(const std::string& m) { return ApiError(0, "ServiceUnavailable", m); }
ApiError ApiError::Timeout(const std::string& m) { return ApiError(0, "Timeout", m); }

}  // namespace sluice::core
