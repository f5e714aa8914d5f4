#include "api/git_repository.h"

#include "api/spec_error.h"
#include "api/spec_fields.h"

namespace sluice::api {
namespace {

using json = nlohmann::json;

bool SupportedUrl(const std::string& url) {
  for (const char* scheme : {"https://", "http://", "ssh://", "file://", "git://"})
    if (url.rfind(scheme, 0) == 0 && url.size() > std::string(scheme).size()) return true;
  auto at = url.find('@'), colon = url.find(':');  // scp form user@host:path
  return at != std::string::npos && colon != std::string::npos && at < colon && url.find("://") == std::string::npos;
}

}  // namespace

GitRepositorySpec ParseGitRepositorySpec(const json& obj) {
  const std::string at = "spec";
  const json& spec = fields::Object(obj, "", "spec");
  GitRepositorySpec s;
  s.url = fields::String(spec, at, "url");
  if (!SupportedUrl(s.url))
    throw InvalidSpec("spec.url: expected an https://, http://, ssh://, git:// or file:// URL (or user@host:path), got '" +
                          s.url + "'",
                      "InvalidURL");
  const json& ref = fields::Object(spec, at, "ref");
  s.ref.branch = fields::String(ref, "spec.ref", "branch");
  s.ref.tag = fields::String(ref, "spec.ref", "tag");
  s.ref.semver = fields::String(ref, "spec.ref", "semver");
  s.ref.name = fields::String(ref, "spec.ref", "name");
  s.ref.commit = fields::String(ref, "spec.ref", "commit");
  s.interval = fields::PositiveDuration(spec, at, "interval", s.interval);
  s.timeout = fields::PositiveDuration(spec, at, "timeout", s.timeout);
  s.secret_name = fields::String(fields::Object(spec, at, "secretRef"), "spec.secretRef", "name");
  s.ignore = fields::String(spec, at, "ignore");
  s.suspend = fields::Bool(spec, at, "suspend");
  return s;
}

}  // namespace sluice::api
