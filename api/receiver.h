// A Receiver's spec (Flux's notification.toolkit.fluxcd.io field names), parsed once.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace sluice::api {

inline constexpr const char* kReceiverTypes[] = {"github", "gitlab", "generic-hmac"};

struct ReceiverResource {
  std::string api_version = "sluice.dev/v1beta1";
  std::string kind;
  std::string ns;  // the Receiver's own namespace when not given
  std::string name;
};

struct ReceiverSpec {
  std::string type;                 // one of kReceiverTypes
  std::vector<std::string> events;  // lower-cased; empty = every event
  std::vector<ReceiverResource> resources;
  std::string secret_name;  // spec.secretRef.name, the Secret holding 'token'
};

// Throws InvalidSpec naming the field.
ReceiverSpec ParseReceiverSpec(const nlohmann::json& receiver);

}  // namespace sluice::api
