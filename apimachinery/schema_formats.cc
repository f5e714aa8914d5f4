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

// The formats without a bound on their length are checked by hand: std::regex matches
// recursively, a frame or more per character, and a long value (60 KB of base64 in a
// `format: byte` field) overflowed the stack.

bool IsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }  // \s of the classic locale
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// \d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})
bool IsDateTime(const std::string& s) {
  auto digits = [&](size_t at, size_t n) {
    if (at + n > s.size()) return false;
    for (size_t i = at; i < at + n; ++i)
      if (!IsDigit(s[i])) return false;
    return true;
  };
  if (!digits(0, 4) || s[4] != '-' || !digits(5, 2) || s[7] != '-' || !digits(8, 2) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(11, 2) || s[13] != ':' || !digits(14, 2) ||
      s[16] != ':' || !digits(17, 2))
    return false;
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    size_t first = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == first) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) return i + 1 == s.size();
  return i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && digits(i + 1, 2) && s[i + 3] == ':' && digits(i + 4, 2);
}

// [^@\s<>]+@[^@\s<>]+
bool IsEmail(const std::string& s) {
  auto at = s.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == s.size() || s.find('@', at + 1) != std::string::npos)
    return false;
  for (char c : s)
    if (c == '<' || c == '>' || IsSpace(c)) return false;
  return true;
}

// ([a-zA-Z][a-zA-Z0-9+.-]*:|/)[^\s]*
bool IsUri(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (IsSpace(c)) return false;
  if (s[0] == '/') return true;
  if (!IsAsciiAlpha(s[0])) return false;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] == ':') return true;
    if (!IsAsciiAlpha(s[i]) && !IsDigit(s[i]) && s[i] != '+' && s[i] != '.' && s[i] != '-') return false;
  }
  return false;
}

// ([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?
bool IsBase64(const std::string& s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = !s.empty() && s.back() == '=' ? (s[s.size() - 2] == '=' ? 2 : 1) : 0;
  for (size_t i = 0; i + pad < s.size(); ++i) {
    char c = s[i];
    if (!IsAsciiAlpha(c) && !IsDigit(c) && c != '+' && c != '/') return false;
  }
  return true;
}

}  // namespace

bool IsFormatValid(const std::string& format, const std::string& s) {
  std::string f;
  for (char c : format)
    if (c != '-') f += c;  // go-openapi normalises "date-time" to "datetime"
  if (f == "datetime") return IsDateTime(s);
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
  if (f == "email") return IsEmail(s);
  if (f == "uri") return IsUri(s);  // net/url.ParseRequestURI: an absolute URI or an absolute path
  if (f == "uuid") {
    static const std::regex re(R"(^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$)");
    return std::regex_match(s, re);
  }
  if (f == "mac") {
    static const std::regex re(R"(^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$)");
    return std::regex_match(s, re);
  }
  if (f == "byte") return s.size() <= 1 << 20 ? IsBase64(s) : true;
  return true;  // int32, int64, double, password, quantity ... are not string checks
}


}  // namespace sluice::apimachinery::schema_internal
