#include "kube/config.h"

#include "core/base64.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sluice::kube {
namespace {

namespace fs = std::filesystem;

const char kDefaultMount[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// Where a named entry came from, so errors name the file and relative paths resolve against it.
struct Origin {
  std::string file;  // as named to the user
  std::string dir;   // relative paths in this file are resolved against it ("" = as is)
};

struct Entry {
  YAML::Node body;   // the `cluster:`, `user:` or `context:` map
  std::string where;  // e.g. "clusters[1].cluster"
  Origin origin;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  Origin current_context_origin;
  std::vector<std::string> files;
};

ConfigError Error(const Origin& o, const std::string& field, const std::string& what) {
  return ConfigError("kubeconfig " + o.file + ": " + field + ": " + what);
}

std::string ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot read " + what + " " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Str(const YAML::Node& map, const std::string& key, const std::string& where, const Origin& o) {
  YAML::Node v = map[key];
  if (!v || v.IsNull()) return "";
  if (!v.IsScalar()) throw Error(o, where + "." + key, "expected a string");
  return v.Scalar();
}

bool Bool(const YAML::Node& map, const std::string& key, const std::string& where, const Origin& o) {
  YAML::Node v = map[key];
  if (!v || v.IsNull()) return false;
  if (v.IsScalar()) {
    const std::string& s = v.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  throw Error(o, where + "." + key, "expected true or false");
}

std::string ResolvePath(const std::string& path, const Origin& o) {
  if (path.empty() || fs::path(path).is_absolute() || o.dir.empty()) return path;
  return (fs::path(o.dir) / path).lexically_normal().string();
}

// Reads one of clusters/users/contexts into `into`; a name already present (from an earlier
// file) wins, as kubectl merges KUBECONFIG.
void ReadSection(const YAML::Node& root, const std::string& section, const std::string& body_key, const Origin& o,
                 std::map<std::string, Entry>& into) {
  YAML::Node list = root[section];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) throw Error(o, section, "expected a list");
  for (size_t i = 0; i < list.size(); ++i) {
    std::string where = section + "[" + std::to_string(i) + "]";
    const YAML::Node& item = list[i];
    if (!item.IsMap()) throw Error(o, where, "expected a map with name and " + body_key);
    std::string name = Str(item, "name", where, o);
    if (name.empty()) throw Error(o, where + ".name", "missing");
    YAML::Node given = item[body_key];
    if (given && !given.IsNull() && !given.IsMap()) throw Error(o, where + "." + body_key, "expected a map");
    // An entry without its map (a user with no credentials) reads as an empty one. A new
    // node, not an assignment: yaml-cpp throws InvalidNode on assigning to the node a
    // missing key returns.
    YAML::Node body = given && !given.IsNull() ? given : YAML::Node(YAML::NodeType::Map);
    into.emplace(name, Entry{body, where + "." + body_key, o});
  }
}

void MergeDocument(const std::string& text, const Origin& o, Merged& m) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("kubeconfig " + o.file + ": not valid YAML: " + e.what());
  }
  m.files.push_back(o.file);
  if (!root || root.IsNull()) return;  // an empty file is an empty config, as for kubectl
  if (!root.IsMap()) throw Error(o, "(top level)", "expected a map with clusters, users and contexts");
  ReadSection(root, "clusters", "cluster", o, m.clusters);
  ReadSection(root, "users", "user", o, m.users);
  ReadSection(root, "contexts", "context", o, m.contexts);
  std::string current = Str(root, "current-context", "(top level)", o);
  if (m.current_context.empty() && !current.empty()) {
    m.current_context = current;
    m.current_context_origin = o;
  }
}

std::string DecodeData(const std::string& text, const std::string& field, const Origin& o) {
  auto decoded = core::Base64Decode(text);
  if (!decoded) throw Error(o, field, "not valid base64");
  return *decoded;
}

void RequireReadable(const std::string& path, const std::string& field, const Origin& o) {
  std::ifstream in(path);
  if (!in) throw Error(o, field, "cannot read file " + path);
}

void ApplyCluster(const Entry& e, RestConfig& rc) {
  const auto& [b, w, o] = e;
  rc.server = Str(b, "server", w, o);
  if (rc.server.empty()) throw Error(o, w + ".server", "missing");
  // client-go defaults a server without a scheme to https.
  if (rc.server.find("://") == std::string::npos) rc.server = "https://" + rc.server;
  if (!rc.server.starts_with("https://") && !rc.server.starts_with("http://"))
    throw Error(o, w + ".server", "\"" + rc.server + "\" is not an http:// or https:// URL");
  rc.tls_server_name = Str(b, "tls-server-name", w, o);
  rc.insecure_skip_tls_verify = Bool(b, "insecure-skip-tls-verify", w, o);
  std::string ca = Str(b, "certificate-authority", w, o);
  std::string ca_data = Str(b, "certificate-authority-data", w, o);
  if (rc.insecure_skip_tls_verify && (!ca.empty() || !ca_data.empty()))
    throw Error(o, w + ".insecure-skip-tls-verify",
                "specifying a root certificate authority together with insecure-skip-tls-verify is not allowed");
  if (!ca_data.empty()) {
    rc.ca_data = DecodeData(ca_data, w + ".certificate-authority-data", o);
  } else if (!ca.empty()) {
    rc.ca_file = ResolvePath(ca, o);
    RequireReadable(rc.ca_file, w + ".certificate-authority", o);
  }
  if (!Str(b, "proxy-url", w, o).empty())
    throw Error(o, w + ".proxy-url", "proxies are not supported by this client; reach the server directly");
}

ExecConfig ReadExec(const YAML::Node& node, const std::string& w, const Origin& o) {
  if (!node.IsMap()) throw Error(o, w, "expected a map");
  ExecConfig ex;
  ex.api_version = Str(node, "apiVersion", w, o);
  if (ex.api_version.empty()) throw Error(o, w + ".apiVersion", "missing");
  if (!ex.api_version.starts_with("client.authentication.k8s.io/"))
    throw Error(o, w + ".apiVersion", "\"" + ex.api_version + "\" is not a client.authentication.k8s.io version");
  ex.command = Str(node, "command", w, o);
  if (ex.command.empty()) throw Error(o, w + ".command", "missing");
  // A command with a path separator is relative to the kubeconfig, as in client-go.
  if (ex.command.find('/') != std::string::npos) ex.command = ResolvePath(ex.command, o);
  if (YAML::Node args = node["args"]; args && !args.IsNull()) {
    if (!args.IsSequence()) throw Error(o, w + ".args", "expected a list of strings");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) throw Error(o, w + ".args[" + std::to_string(i) + "]", "expected a string");
      ex.args.push_back(args[i].Scalar());
    }
  }
  if (YAML::Node env = node["env"]; env && !env.IsNull()) {
    if (!env.IsSequence()) throw Error(o, w + ".env", "expected a list of {name, value}");
    for (size_t i = 0; i < env.size(); ++i) {
      std::string ew = w + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap()) throw Error(o, ew, "expected a map with name and value");
      std::string name = Str(env[i], "name", ew, o);
      if (name.empty()) throw Error(o, ew + ".name", "missing");
      ex.env[name] = Str(env[i], "value", ew, o);
    }
  }
  ex.interactive_mode = Str(node, "interactiveMode", w, o);
  if (!ex.interactive_mode.empty() && ex.interactive_mode != "Never" && ex.interactive_mode != "IfAvailable" &&
      ex.interactive_mode != "Always")
    throw Error(o, w + ".interactiveMode", "expected Never, IfAvailable or Always");
  return ex;
}

void ApplyUser(const Entry& e, RestConfig& rc) {
  const auto& [b, w, o] = e;
  for (const char* unsupported : {"auth-provider", "as", "as-uid", "as-groups", "as-user-extra"}) {
    if (b[unsupported] && !b[unsupported].IsNull())
      throw Error(o, w + "." + unsupported, "not supported by this client");
  }
  rc.token = Str(b, "token", w, o);
  rc.token_file = ResolvePath(Str(b, "tokenFile", w, o), o);
  rc.username = Str(b, "username", w, o);
  rc.password = Str(b, "password", w, o);
  std::string cert_data = Str(b, "client-certificate-data", w, o);
  std::string key_data = Str(b, "client-key-data", w, o);
  if (!cert_data.empty()) rc.client_cert_data = DecodeData(cert_data, w + ".client-certificate-data", o);
  if (!key_data.empty()) rc.client_key_data = DecodeData(key_data, w + ".client-key-data", o);
  if (cert_data.empty()) rc.client_cert_file = ResolvePath(Str(b, "client-certificate", w, o), o);
  if (key_data.empty()) rc.client_key_file = ResolvePath(Str(b, "client-key", w, o), o);
  if (!rc.client_cert_file.empty()) RequireReadable(rc.client_cert_file, w + ".client-certificate", o);
  if (!rc.client_key_file.empty()) RequireReadable(rc.client_key_file, w + ".client-key", o);
  bool has_cert = !rc.client_cert_data.empty() || !rc.client_cert_file.empty();
  bool has_key = !rc.client_key_data.empty() || !rc.client_key_file.empty();
  if (has_cert != has_key) throw Error(o, w, "a client certificate and a client key must be given together");
  if (!rc.username.empty() && (!rc.token.empty() || !rc.token_file.empty()))
    throw Error(o, w, "username/password and token are mutually exclusive");
  if (YAML::Node exec = b["exec"]; exec && !exec.IsNull()) rc.exec = ReadExec(exec, w + ".exec", o);
}

RestConfig Build(const Merged& m, const KubeconfigOptions& options) {
  std::string files;
  for (const auto& f : m.files) files += (files.empty() ? "" : ", ") + f;
  std::string context_name = options.context.empty() ? m.current_context : options.context;
  if (context_name.empty())
    throw ConfigError("kubeconfig " + files + ": current-context is not set and no context was given");
  auto ctx = m.contexts.find(context_name);
  if (ctx == m.contexts.end()) {
    if (options.context.empty())
      throw Error(m.current_context_origin, "current-context",
                  "names context \"" + context_name + "\", which is not in " + files);
    throw ConfigError("kubeconfig " + files + ": context \"" + context_name + "\" not found");
  }
  const auto& [cb, cw, co] = ctx->second;
  RestConfig rc;
  rc.context_name = context_name;
  std::string cluster_name = Str(cb, "cluster", cw, co);
  if (cluster_name.empty()) throw Error(co, cw + ".cluster", "missing");
  auto cluster = m.clusters.find(cluster_name);
  if (cluster == m.clusters.end())
    throw Error(co, cw + ".cluster", "names cluster \"" + cluster_name + "\", which is not in " + files);
  ApplyCluster(cluster->second, rc);
  std::string user_name = Str(cb, "user", cw, co);
  if (!user_name.empty()) {
    auto user = m.users.find(user_name);
    if (user == m.users.end())
      throw Error(co, cw + ".user", "names user \"" + user_name + "\", which is not in " + files);
    ApplyUser(user->second, rc);
  }
  std::string ns = Str(cb, "namespace", cw, co);
  rc.ns = !options.ns.empty() ? options.ns : !ns.empty() ? ns : "default";
  return rc;
}

std::vector<std::string> SplitPathList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ':'))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

}  // namespace

RestConfig ParseKubeconfig(const std::string& yaml_text, const KubeconfigOptions& options,
                           const std::string& source_name) {
  Merged m;
  Origin o{source_name, ""};
  if (!source_name.empty() && source_name[0] != '<') o.dir = fs::path(source_name).parent_path().string();
  MergeDocument(yaml_text, o, m);
  return Build(m, options);
}

RestConfig LoadKubeconfig(const KubeconfigOptions& options) {
  std::vector<std::string> paths;
  bool must_exist = false;
  if (!options.explicit_path.empty()) {
    paths.push_back(options.explicit_path);
    must_exist = true;
  } else if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    paths = SplitPathList(env);
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    paths.push_back((fs::path(home) / ".kube" / "config").string());
  }
  Merged m;
  for (const auto& path : paths) {
    std::error_code ec;
    // Files named in KUBECONFIG that do not exist are skipped, as kubectl does.
    if (!must_exist && !fs::exists(path, ec)) continue;
    std::string text = ReadFile(path, "kubeconfig");
    fs::path abs = fs::absolute(path, ec);
    MergeDocument(text, Origin{path, abs.parent_path().string()}, m);
  }
  if (m.files.empty()) {
    std::string tried;
    for (const auto& p : paths) tried += (tried.empty() ? "" : ", ") + p;
    throw ConfigError("no kubeconfig found (tried: " + (tried.empty() ? std::string("none") : tried) + ")");
  }
  return Build(m, options);
}

RestConfig InClusterConfig(const std::string& mount_dir) {
  fs::path dir = mount_dir.empty() ? fs::path(kDefaultMount) : fs::path(mount_dir);
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  RestConfig rc;
  rc.server = "https://" + h + ":" + port;
  rc.token_file = (dir / "token").string();
  if (Trim(ReadFile(rc.token_file, "service account token")).empty())
    throw ConfigError("service account token " + rc.token_file + " is empty");
  rc.ca_file = (dir / "ca.crt").string();
  std::ifstream ca(rc.ca_file);
  if (!ca) throw ConfigError("cannot read service account CA " + rc.ca_file);
  std::ifstream ns_in(dir / "namespace");
  if (ns_in) {
    std::ostringstream ss;
    ss << ns_in.rdbuf();
    std::string ns = Trim(ss.str());
    if (!ns.empty()) rc.ns = ns;
  }
  rc.context_name = "in-cluster";
  return rc;
}

RestConfig LoadDefaultConfig(const KubeconfigOptions& options) {
  const char* kubeconfig_env = std::getenv("KUBECONFIG");
  const char* service_host = std::getenv("KUBERNETES_SERVICE_HOST");
  bool named = !options.explicit_path.empty() || (kubeconfig_env && *kubeconfig_env);
  if (!named && service_host && *service_host) {
    RestConfig rc = InClusterConfig();
    if (!options.ns.empty()) rc.ns = options.ns;
    return rc;
  }
  return LoadKubeconfig(options);
}

}  // namespace sluice::kube
