#include "sandbox/emulator/api_server.h"

#include "apimachinery/selectors.h"
#include "apimachinery/table.h"
#include "core/base64.h"
#include "core/json_fields.h"

#include <random>
#include <stdexcept>

namespace sluice::sandbox {

namespace api {

net::HttpResponse Json(int code, const nlohmann::json& body) {
  net::HttpResponse r;
  r.status = code;
  r.body = body.dump();
  r.body.push_back('\n');
  return r;
}

net::HttpResponse Error(const core::ApiError& e) { return Json(e.code() == 0 ? 500 : e.code(), e.ToStatus()); }

const nlohmann::json& Meta(const nlohmann::json& obj) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (!obj.is_object()) return empty;
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : empty;
}

std::string NameOf(const nlohmann::json& obj) { return Str(Meta(obj), "name"); }
std::string NamespaceOf(const nlohmann::json& obj) { return Str(Meta(obj), "namespace"); }

bool WantsTable(const net::HttpRequest& req) { return req.Header("accept").find("as=Table") != std::string::npos; }

std::string RandomSuffix(size_t n) {
  // The API server's generateName alphabet: no vowels, no digits that read like letters.
  static const char kChars[] = "bcdfghjklmnpqrstvwxz2456789";
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kChars) - 2);
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(kChars[pick(rng)]);
  return s;
}

std::string NewUid() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) s.push_back('-');
    unsigned v = static_cast<unsigned>(rng() & 15);
    if (i == 12) v = 4;
    if (i == 16) v = 8 | (v & 3);
    s.push_back(kHex[v]);
  }
  return s;
}

}  // namespace api

namespace {

std::vector<std::string> Segments(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

core::ApiError PathNotFound() {
  return core::ApiError(404, "NotFound", "the server could not find the requested resource",
                        nlohmann::json::object());
}

struct ContinueToken {
  uint64_t rv = 0;
  std::string start;
};

std::string EncodeContinue(uint64_t rv, const std::string& start) {
  return core::Base64Encode(nlohmann::json{{"rv", rv}, {"start", start}}.dump());
}

ContinueToken DecodeContinue(const std::string& token) {
  auto raw = core::Base64Decode(token);
  auto j = raw ? nlohmann::json::parse(*raw, nullptr, false) : nlohmann::json();
  if (!j.is_object() || !j.contains("rv") || !j["rv"].is_number_unsigned() || !j.contains("start") ||
      !j["start"].is_string())
    throw core::ApiError::BadRequest("invalid continue token: it was not issued by this server");
  return {j["rv"].get<uint64_t>(), j["start"].get<std::string>()};
}

uint64_t ParseRv(const std::string& text) {
  if (text.empty()) return 0;
  try {
    size_t used = 0;
    uint64_t v = std::stoull(text, &used);
    if (used == text.size()) return v;
  } catch (const std::exception&) {
  }
  throw core::ApiError::BadRequest("invalid resourceVersion \"" + text + "\": expected a number");
}

struct Filters {
  apimachinery::LabelSelector labels;
  apimachinery::FieldSelector fields;
  bool Matches(const nlohmann::json& obj) const {
    return (labels.Empty() || labels.Matches(api::Meta(obj).value("labels", nlohmann::json()))) &&
           (fields.Empty() || fields.Matches(obj));
  }
};

Filters ParseFilters(const net::HttpRequest& req) {
  Filters f;
  try {
    auto l = req.Query("labelSelector");
    if (!l.empty()) f.labels = apimachinery::LabelSelector::Parse(l);
  } catch (const std::invalid_argument& e) {
    throw core::ApiError::BadRequest(std::string("unable to parse requirement: ") + e.what());
  }
  try {
    auto s = req.Query("fieldSelector");
    if (!s.empty()) f.fields = apimachinery::FieldSelector::Parse(s);
  } catch (const std::invalid_argument& e) {
    throw core::ApiError::BadRequest(e.what());
  }
  return f;
}

}  // namespace

ApiServer::ApiServer(ApiServerOptions options, Scheduler scheduler, const core::Clock& clock)
    : options_(options), scheduler_(std::move(scheduler)), clock_(clock), store_(options.watch_history) {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    nlohmann::json obj = {{"apiVersion", "v1"},
                          {"kind", "Namespace"},
                          {"metadata",
                           {{"name", ns},
                            {"uid", api::NewUid()},
                            {"creationTimestamp", core::FormatTime(clock_.Now())},
                            {"labels", {{"kubernetes.io/metadata.name", ns}}}}},
                          {"spec", {{"finalizers", {"kubernetes"}}}},
                          {"status", {{"phase", "Active"}}}};
    store_.Put("/namespaces", std::move(obj));
  }
}

net::HttpResponse ApiServer::Handle(const net::HttpRequest& request) {
  try {
    return Route(request);
  } catch (const core::ApiError& e) {
    return api::Error(e);
  } catch (const nlohmann::json::exception& e) {
    return api::Error(core::ApiError::BadRequest(std::string("the request does not have the expected shape: ") +
                                                 e.what()));
  } catch (const std::logic_error& e) {
    return api::Error(core::ApiError::InternalError(e.what()));
  }
}

net::HttpResponse ApiServer::Route(const net::HttpRequest& req) {
  const std::string& p = req.path;
  auto seg = Segments(p);
  bool read = req.method == "GET" || req.method == "HEAD";
  auto read_only = [&](auto&& fn) -> net::HttpResponse {
    if (!read) throw core::ApiError::MethodNotAllowed("the server does not allow this method on the requested resource");
    return fn();
  };
  if (seg.empty()) return read_only([&] {
      nlohmann::json paths = {"/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v2", "/openapi/v3", "/readyz", "/version"};
      return api::Json(200, {{"paths", paths}});
    });
  if (seg.size() == 1 && (seg[0] == "healthz" || seg[0] == "readyz" || seg[0] == "livez"))
    return read_only([] { return net::HttpResponse{200, "text/plain; charset=utf-8", "ok", {}, nullptr}; });
  if (seg.size() == 1 && seg[0] == "version")
    return read_only([] {
      return api::Json(200, {{"major", "1"},
                             {"minor", "32"},
                             {"gitVersion", "v1.32.0"},
                             {"gitCommit", "sluice-emulator"},
                             {"gitTreeState", "clean"},
                             {"buildDate", "2024-12-11T00:00:00Z"},
                             {"goVersion", "go1.23.3"},
                             {"compiler", "gc"},
                             {"platform", "linux/amd64"}});
    });
  if (seg[0] == "openapi") return read_only([&] { return OpenApi(req); });
  if (seg[0] == "api") {
    if (seg.size() == 1) return read_only([&] { return DiscoveryRoot(req, true); });
    if (seg[1] != "v1") throw PathNotFound();
    return ServeResource(req, "", "v1", std::vector<std::string>(seg.begin() + 2, seg.end()));
  }
  if (seg[0] == "apis") {
    if (seg.size() == 1) return read_only([&] { return DiscoveryRoot(req, false); });
    if (seg.size() == 2) return read_only([&] { return DiscoveryGroup(seg[1]); });
    return ServeResource(req, seg[1], seg[2], std::vector<std::string>(seg.begin() + 3, seg.end()));
  }
  throw PathNotFound();
}

net::HttpResponse ApiServer::ServeResource(const net::HttpRequest& req, const std::string& group, const std::string& version,
                                      const std::vector<std::string>& seg) {
  if (registry_.InGroupVersion(group, version).empty()) throw PathNotFound();
  if (seg.empty()) {
    if (req.method != "GET") throw core::ApiError::MethodNotAllowed("discovery documents are read-only");
    return DiscoveryGroupVersion(group, version);
  }
  Target t;
  std::vector<std::string> rest;
  if (seg[0] == "namespaces" && seg.size() >= 3) {
    auto k = registry_.Find(group, version, seg[2]);
    if (k && k->res.namespaced) {
      t.kind = k;
      t.ns = seg[1];
      rest.assign(seg.begin() + 3, seg.end());
    } else if (group.empty() && seg.size() == 3 && (seg[2] == "status" || seg[2] == "finalize")) {
      t.kind = registry_.Find("", "v1", "namespaces");
      rest = {seg[1], seg[2]};
    } else {
      throw PathNotFound();
    }
  } else {
    t.kind = registry_.Find(group, version, seg[0]);
    rest.assign(seg.begin() + 1, seg.end());
  }
  if (!t.kind || rest.size() > 2) throw PathNotFound();
  if (!rest.empty()) t.name = rest[0];
  if (rest.size() == 2) t.subresource = rest[1];
  const auto& res = t.kind->res;
  if (!t.subresource.empty()) {
    bool known = (t.subresource == "status" && res.has_status) || (t.subresource == "scale" && res.has_scale) ||
                 (t.subresource == "finalize" && res.resource == "namespaces");
    if (!known) throw PathNotFound();
  }
  if (res.namespaced && t.ns.empty() && !t.name.empty()) throw PathNotFound();
  const std::string& m = req.method;
  if (m == "GET" || m == "HEAD") {
    if (!t.name.empty()) return Get(req, t);
    if (req.QueryBool("watch")) return Watch(req, t);
    return List(req, t);
  }
  if (m == "POST") {
    if (!t.name.empty() || (res.namespaced && t.ns.empty()))
      throw core::ApiError::MethodNotAllowed("POST is only allowed on a collection of " + res.resource +
                                             (res.namespaced ? " inside a namespace" : ""));
    return Create(req, t);
  }
  if (m == "PUT" || m == "PATCH") {
    if (t.name.empty())
      throw core::ApiError::MethodNotAllowed(m + " needs an object name: the collection of " + res.resource +
                                             " cannot be replaced or patched");
    if (t.subresource == "scale") return ScaleRequest(req, t);
    return m == "PUT" ? Update(req, t) : Patch(req, t);
  }
  if (m == "DELETE") {
    if (!t.subresource.empty()) throw core::ApiError::MethodNotAllowed("subresources cannot be deleted");
    return t.name.empty() ? DeleteCollection(req, t) : Delete(req, t);
  }
  throw core::ApiError::MethodNotAllowed("the server does not allow method " + m + " on " + res.resource);
}

nlohmann::json ApiServer::Output(const nlohmann::json& stored, const KindInfo& kind) const {
  nlohmann::json out = stored;
  out["apiVersion"] = kind.res.ApiVersion();
  out["kind"] = kind.res.kind;
  return out;
}

nlohmann::json ApiServer::TableOf(const std::vector<nlohmann::json>& objects, const KindInfo& kind,
                                  const net::HttpRequest& req, const std::string& rv, const std::string& cont) const {
  std::string include = req.Query("includeObject");
  if (include.empty()) include = "Metadata";
  try {
    auto columns = kind.custom ? apimachinery::ColumnsFromCrd(kind.printer_columns)
                               : apimachinery::BuiltinColumns(kind.res.group, kind.res.kind);
    return apimachinery::MakeTable(objects, columns, include, clock_.Now(), rv, cont);
  } catch (const std::logic_error&) {
    // Table rendering not available: kubectl accepts the plain object or list instead.
    return nullptr;
  }
}

net::HttpResponse ApiServer::ObjectResponse(int code, const nlohmann::json& object, const net::HttpRequest& req,
                                       const Target& t, const std::vector<std::string>& warnings) {
  net::HttpResponse r;
  nlohmann::json body = object;
  if (api::WantsTable(req) && object.value("kind", "") == t.kind->res.kind) {
    auto table = TableOf({object}, *t.kind, req, api::Str(api::Meta(object), "resourceVersion"), "");
    if (!table.is_null()) body = std::move(table);
  }
  r = api::Json(code, body);
  for (const auto& w : warnings) {
    std::string escaped;
    for (char c : w) {
      if (c == '"' || c == '\\') escaped.push_back('\\');
      escaped.push_back(c);
    }
    r.headers.emplace_back("Warning", "299 - \"" + escaped + "\"");
  }
  return r;
}

net::HttpResponse ApiServer::Get(const net::HttpRequest& req, const Target& t) {
  auto obj = store_.Get(t.kind->StorageKey(), t.ns, t.name);
  if (!obj) throw core::ApiError::NotFound(t.kind->res.group, t.kind->res.resource, t.name);
  if (t.subresource == "scale") return ScaleRequest(req, t);
  return ObjectResponse(200, Output(*obj, *t.kind), req, t);
}

net::HttpResponse ApiServer::List(const net::HttpRequest& req, const Target& t) {
  Filters filters = ParseFilters(req);
  size_t limit = 0;
  if (auto l = req.Query("limit"); !l.empty()) {
    try {
      long long v = std::stoll(l);
      limit = v > 0 ? static_cast<size_t>(v) : 0;
    } catch (const std::exception&) {
      throw core::ApiError::BadRequest("invalid limit \"" + l + "\": expected a number");
    }
  }
  uint64_t rv = store_.CurrentRv();
  std::string start;
  if (auto c = req.Query("continue"); !c.empty()) {
    auto token = DecodeContinue(c);
    if (token.rv < store_.CompactedRv())
      throw core::ApiError::Expired(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list "
          "without the continue parameter.");
    rv = token.rv;
    start = token.start;
  }
  std::vector<nlohmann::json> items;
  std::string next;
  size_t remaining = 0;
  for (const auto& obj : store_.List(t.kind->StorageKey(), t.ns, start)) {
    if (!filters.Matches(*obj)) continue;
    if (limit && items.size() == limit) {
      ++remaining;
      continue;
    }
    items.push_back(Output(*obj, *t.kind));
  }
  if (remaining) {
    const auto& last = items.back();
    next = EncodeContinue(rv, api::NamespaceOf(last) + "/" + api::NameOf(last));
  }
  if (api::WantsTable(req)) {
    auto table = TableOf(items, *t.kind, req, std::to_string(rv), next);
    if (!table.is_null()) return api::Json(200, table);
  }
  nlohmann::json meta = {{"resourceVersion", std::to_string(rv)}};
  if (!next.empty()) {
    meta["continue"] = next;
    meta["remainingItemCount"] = remaining;
  }
  nlohmann::json list = {{"kind", t.kind->res.kind + "List"},
                         {"apiVersion", t.kind->res.ApiVersion()},
                         {"metadata", meta},
                         {"items", items}};
  return api::Json(200, list);
}

net::HttpResponse ApiServer::Watch(const net::HttpRequest& req, const Target& t) {
  Filters filters = ParseFilters(req);
  std::string rv_text = req.Query("resourceVersion");
  uint64_t from = ParseRv(rv_text);
  bool bookmarks = req.QueryBool("allowWatchBookmarks");
  auto timeout = options_.default_watch_timeout;
  if (auto ts = req.Query("timeoutSeconds"); !ts.empty()) {
    try {
      timeout = std::chrono::seconds(std::max(0LL, std::stoll(ts)));
    } catch (const std::exception&) {
      throw core::ApiError::BadRequest("invalid timeoutSeconds \"" + ts + "\": expected a number");
    }
  }
  bool table = api::WantsTable(req);
  net::HttpResponse r;
  r.stream = std::make_shared<net::EventStream>();
  auto es = r.stream;
  KindPtr kind = t.kind;
  std::string ns = t.ns;
  std::string name = t.name;

  // Renders one event for this watcher; selector transitions turn MODIFIED into ADDED or
  // DELETED as the API server does. Returns null when the watcher does not see the event.
  auto render = [this, kind, ns, filters, table, req](const StoreEvent& ev) -> std::shared_ptr<const std::string> {
    if (!ns.empty() && ev.ns != ns) return nullptr;
    bool now_matches = filters.Matches(*ev.object);
    bool was_matching = ev.previous && filters.Matches(*ev.previous);
    std::string type = ev.type;
    if (ev.type == "MODIFIED") {
      if (!now_matches && !was_matching) return nullptr;
      if (!was_matching) type = "ADDED";
      if (!now_matches) type = "DELETED";
    } else if (!now_matches) {
      return nullptr;
    }
    bool plain_ok = type == ev.type && !table && api::Str(*ev.object, "apiVersion") == kind->res.ApiVersion() &&
                    api::Str(*ev.object, "kind") == kind->res.kind;
    if (plain_ok) return ev.Line();
    nlohmann::json obj = Output(*ev.object, *kind);
    if (table) {
      auto t = TableOf({obj}, *kind, req, api::Str(api::Meta(obj), "resourceVersion"), "");
      if (!t.is_null()) obj = std::move(t);
    }
    return std::make_shared<const std::string>(nlohmann::json{{"type", type}, {"object", obj}}.dump() + "\n");
  };
  auto callback = [es, render](const EventPtr& ev) {
    if (auto line = render(*ev)) es->Push(line);
  };

  uint64_t after = from;
  if (rv_text.empty() || from == 0) {
    after = store_.CurrentRv();
    for (const auto& obj : store_.List(kind->StorageKey(), ns)) {
      if (!filters.Matches(*obj)) continue;
      nlohmann::json out = Output(*obj, *kind);
      if (table) {
        auto tb = TableOf({out}, *kind, req, api::Str(api::Meta(out), "resourceVersion"), "");
        if (!tb.is_null()) out = std::move(tb);
      }
      es->Push(std::make_shared<const std::string>(nlohmann::json{{"type", "ADDED"}, {"object", out}}.dump() + "\n"));
    }
  }
  uint64_t id = store_.Watch(kind->StorageKey(), after, callback);
  if (id == 0) {
    core::ApiError gone(410, "Expired",
                        "too old resource version: " + std::to_string(from) + " (" +
                            std::to_string(store_.CompactedRv() + 1) + ")");
    es->Push(std::make_shared<const std::string>(
        nlohmann::json{{"type", "ERROR"}, {"object", gone.ToStatus()}}.dump() + "\n"));
    es->Close();
    return r;
  }
  Store* store = &store_;
  es->on_finish = [store, id] { store->Unwatch(id); };
  auto bookmark = [store, kind, es] {
    nlohmann::json obj = {{"kind", kind->res.kind},
                          {"apiVersion", kind->res.ApiVersion()},
                          {"metadata", {{"resourceVersion", std::to_string(store->CurrentRv())}}}};
    es->Push(std::make_shared<const std::string>(nlohmann::json{{"type", "BOOKMARK"}, {"object", obj}}.dump() + "\n"));
  };
  es->deadline = std::chrono::steady_clock::now() + timeout;
  es->on_timeout = [es, bookmark, bookmarks] {
    if (bookmarks) bookmark();
    es->Close();
  };
  if (bookmarks) {
    es->tick_interval = options_.bookmark_interval;
    es->on_tick = bookmark;
  }
  return r;
}

}  // namespace sluice::sandbox
