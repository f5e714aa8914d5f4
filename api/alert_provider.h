// An AlertProvider's spec (Flagger's flagger.app AlertProvider field names), parsed once.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace sluice::api {

inline constexpr const char* kAlertProviderTypes[] = {"slack", "msteams", "discord", "generic"};

struct AlertProviderSpec {
  std::string type;         // one of kAlertProviderTypes
  std::string channel;      // slack: overrides the webhook's channel
  std::string username;     // slack, discord: "" = "sluice"
  std::string address;      // the webhook URL; "" = key `address` of the Secret below
  std::string secret_name;  // spec.secretRef.name
  std::string severity;     // the least severe alert this provider sends; "" = every alert
};

// Throws InvalidSpec naming the field: an unknown type, a severity outside info/warn/error,
// neither address nor secretRef, or a proxy (not supported: the address is reached directly).
AlertProviderSpec ParseAlertProviderSpec(const nlohmann::json& alert_provider);

}  // namespace sluice::api
