// http(s) URLs as webhooks, alert providers and load tasks name them.
#pragma once

#include <string>
#include <utility>

namespace sluice::core {

// "http://a:8080/gate/check?x=1" -> {"http://a:8080", "/gate/check?x=1"}. Throws
// std::invalid_argument for what is not an http(s) URL with a host.
std::pair<std::string, std::string> SplitUrl(const std::string& url);

}  // namespace sluice::core
