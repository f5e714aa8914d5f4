// The string formats the API server checks for CRD fields (a subset of go-openapi's strfmt
// registry), kept to the ones that are cheap to check.
#include <regex>
#include <string>

#include "apimachinery/schema_internal.h"

namespace sluice::apimachinery::schema_internal {
namespace {

bool IsIpv4(const std::string& s) {
  static const std::regex re(R"(^((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$)");
  return std::regex_match(s, re);
}

bool IsIpv6(const std::string& s) {
  if (s.find(':') == std::string::npos || s.size() > 45) return false;
  std::string head = s;
  int groups_needed = 8;
  if (auto dot = s.find('.'); dot != std::string::npos) {
    auto colon = s.rfind(':');
    if (!IsIpv4(s.substr(colon + 1))) return false;
    head = s.substr(0, colon + 1) + "0";  // the IPv4 tail counts as two groups
    groups_needed = 7;
  }
  auto dbl = head.find("::");
  if (dbl != std::string::npos && head.find("::", dbl + 1) != std::string::npos) return false;
  auto count_groups = [](const std::string& part, int& groups) {
    if (part.empty()) return true;
    size_t start = 0;
    while (true) {
      auto end = part.find(':', start);
      std::string g = part.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (g.empty() || g.size() > 4) return false;
      for (char c : g)
        if (!isxdigit(static_cast<unsigned char>(c))) return false;
      ++groups;
      if (end == std::string::npos) return true;
      start = end + 1;
    }
  };
  int groups = 0;
  if (dbl == std::string::npos) return count_groups(head, groups) && groups == groups_needed;
  if (!count_groups(head.substr(0, dbl), groups) || !count_groups(head.substr(dbl + 2), groups)) return false;
  return groups < groups_needed;
}

}  // namespace

bool IsFormatValid(const std::string& format, const std::string& s) {
  std::string f;
  for (char c : format)
    if (c != '-') f += c;  // go-openapi normalises "date-time" to "datetime"
  if (f == "datetime") {
    static const std::regex re(R"(^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$)");
    return std::regex_match(s, re);
  }
  if (f == "date") {
    static const std::regex re(R"(^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$)");
    return std::regex_match(s, re);
  }
  if (f == "ipv4") return IsIpv4(s);
  if (f == "ipv6") return IsIpv6(s);
  if (f == "cidr") {
    auto slash = s.find('/');
    if (slash == std::string::npos) return false;
    std::string ip = s.substr(0, slash), bits = s.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos) return false;
    int n = std::stoi(bits);
    return (IsIpv4(ip) && n <= 32) || (IsIpv6(ip) && n <= 128);
  }
  if (f == "hostname") {
    static const std::regex re(R"(^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$)");
    return s.size() <= 255 && std::regex_match(s, re);
  }
  if (f == "email") {
    static const std::regex re(R"(^[^@\s<>]+@[^@\s<>]+$)");
    return std::regex_match(s, re);
  }
  if (f == "uri") {
    // net/url.ParseRequestURI: an absolute URI or an absolute path.
    static const std::regex re(R"(^([a-zA-Z][a-zA-Z0-9+.-]*:|/)[^\s]*$)");
    return std::regex_match(s, re);
  }
  if (f == "uuid") {
    static const std::regex re(R"(^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$)");
    return std::regex_match(s, re);
  }
  if (f == "mac") {
    static const std::regex re(R"(^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$)");
    return std::regex_match(s, re);
  }
  if (f == "byte") {
    static const std::regex re(R"(^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$)");
    return s.size() <= 1 << 20 ? std::regex_match(s, re) : true;
  }
  return true;  // int32, int64, double, password, quantity ... are not string checks
}


}  // namespace sluice::apimachinery::schema_internal
