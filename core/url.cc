#include "core/url.h"

#include <stdexcept>

namespace sluice::core {

std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw std::invalid_argument("\"" + url + "\" is not an http:// or https:// URL");
  size_t path = url.find_first_of("/?#", scheme_end + 3);
  std::string origin = url.substr(0, path);
  if (origin.size() == scheme_end + 3) throw std::invalid_argument("\"" + url + "\" has no host");
  std::string target = path == std::string::npos ? "/" : url.substr(path);
  if (auto hash = target.find('#'); hash != std::string::npos) target.erase(hash);
  if (target.empty() || target[0] != '/') target = "/" + target;
  return {origin, target};
}

}  // namespace sluice::core
