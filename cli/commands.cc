// The verbs of `sluice get|status|watch|abort|promote|retry|pause|resume|reconcile`, each a
// function of the cluster flags: cmd/cli.cc only declares the flags and calls these.
#include "cli/commands.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "api/canary_spec.h"
#include "cli/view.h"
#include "core/duration.h"
#include "kube/client.h"
#include "kube/config.h"

namespace sluice::cli {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

struct KindRef {
  std::string api_version;
  std::string kind;
  std::string plural;
};

// The names users type for our kinds, as kubectl accepts plural, singular and short names.
std::optional<KindRef> KindNamed(const std::string& name) {
  static const std::map<std::string, KindRef> kinds = {
      {"canaries", {"sluice.dev/v1beta1", "Canary", "canaries"}},
      {"canary", {"sluice.dev/v1beta1", "Canary", "canaries"}},
      {"gitrepositories", {"sluice.dev/v1beta1", "GitRepository", "gitrepositories"}},
      {"gitrepository", {"sluice.dev/v1beta1", "GitRepository", "gitrepositories"}},
      {"gitrepo", {"sluice.dev/v1beta1", "GitRepository", "gitrepositories"}},
      {"source", {"sluice.dev/v1beta1", "GitRepository", "gitrepositories"}},
      {"kustomizations", {"sluice.dev/v1beta1", "Kustomization", "kustomizations"}},
      {"kustomization", {"sluice.dev/v1beta1", "Kustomization", "kustomizations"}},
      {"ks", {"sluice.dev/v1beta1", "Kustomization", "kustomizations"}},
      {"sync", {"sluice.dev/v1beta1", "Kustomization", "kustomizations"}},
  };
  auto it = kinds.find(name);
  if (it == kinds.end()) return std::nullopt;
  return it->second;
}

// An API session for one command: the cluster config, a client and a loop to run it on.
class Session {
 public:
  explicit Session(const ClusterFlags& flags)
      : config_(kube::LoadDefaultConfig({flags.kubeconfig, flags.context, flags.ns})),
        ns_(flags.ns.empty() ? config_.ns : flags.ns),
        client_(kube::MakeHttpClient(io_.get_executor(), config_)) {}

  const std::string& ns() const { return ns_; }
  kube::Client& client() { return *client_; }
  asio::io_context& io() { return io_; }

  template <typename T>
  T Run(asio::awaitable<T> work) {
    auto result = asio::co_spawn(io_, std::move(work), asio::use_future);
    io_.restart();
    io_.run();
    return result.get();
  }

  asio::awaitable<kube::ApiResource> Resolve(const KindRef& kind) {
    auto op = client_->Resolve(kind.api_version, kind.kind);
    co_return co_await std::move(op);
  }

 private:
  kube::RestConfig config_;
  std::string ns_;
  asio::io_context io_;
  std::shared_ptr<kube::Client> client_;
};

std::vector<json> Items(const json& list) {
  std::vector<json> items;
  for (const auto& item : list.value("items", json::array())) items.push_back(item);
  return items;
}

asio::awaitable<std::vector<json>> ListKind(Session& s, KindRef kind, bool all_namespaces) {
  auto res = co_await s.Resolve(kind);
  std::string ns = all_namespaces ? "" : s.ns();
  kube::ListOptions options;
  auto op = s.client().ListAll(res, ns, options);
  json list = co_await std::move(op);
  co_return Items(list);
}

asio::awaitable<json> GetCanary(Session& s, std::string name) {
  auto res = co_await s.Resolve(*KindNamed("canary"));
  std::string ns = s.ns();
  auto op = s.client().Get(res, ns, name);
  co_return co_await std::move(op);
}

asio::awaitable<std::vector<json>> CanaryEvents(Session& s, std::string name) {
  auto res = co_await s.client().Resolve("v1", "Event");
  std::string ns = s.ns();
  kube::ListOptions options;
  options.field_selector = "involvedObject.kind=Canary,involvedObject.name=" + name;
  auto op = s.client().ListAll(res, ns, options);
  json list = co_await std::move(op);
  co_return Items(list);
}

asio::awaitable<std::string> RenderStatus(Session& s, std::string name) {
  json canary = co_await GetCanary(s, name);
  auto events = co_await CanaryEvents(s, name);
  co_return CanaryStatusTree(canary, events, core::SystemClock::Instance().Now());
}

// Redraws the status whenever the Canary changes (its watch) and at least every second (for
// ages and new events), until the timeout or Ctrl-C.

asio::awaitable<void> WatchLoop(Session& s, std::string name, std::chrono::milliseconds timeout) {
  bool tty = isatty(STDOUT_FILENO);
  auto end = std::chrono::steady_clock::now() + timeout;
  std::string last;
  while (timeout.count() == 0 || std::chrono::steady_clock::now() < end) {
    std::string view = co_await RenderStatus(s, name);
    if (view != last) {
      if (tty) std::cout << "\033[H\033[2J";
      else if (!last.empty()) std::cout << "---\n";
      std::cout << view << std::flush;
      last = view;
    }
    asio::steady_timer timer(s.io(), std::chrono::milliseconds(500));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> PatchObject(Session& s, KindRef kind, std::string name, json patch) {
  auto res = co_await s.Resolve(kind);
  std::string ns = s.ns();
  kube::PatchOptions options;
  options.field_manager = "sluice-cli";
  auto op = s.client().Patch(res, ns, name, kube::PatchType::kMerge, patch, options);
  co_await std::move(op);
}

// Waits until the controller consumed the request annotation, then returns its answer.
asio::awaitable<std::string> AwaitAnswer(Session& s, std::string name, std::string verb,
                                         std::chrono::milliseconds timeout) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    json canary = co_await GetCanary(s, name);
    bool pending = canary["metadata"].value("annotations", json::object()).contains("sluice.dev/" + verb);
    if (!pending)
      co_return canary.value("status", json::object()).value("requests", json::object()).value(verb, json::object())
          .value("outcome", "handled");
    asio::steady_timer timer(s.io(), std::chrono::milliseconds(200));
    co_await timer.async_wait(asio::use_awaitable);
  }
  throw std::runtime_error("the controller did not answer the " + verb + " request within " +
                           core::FormatDuration(std::chrono::duration_cast<api::Millis>(timeout)) +
                           " (is `sluice controller` running?)");
}

}  // namespace

int Guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const core::ApiError& e) {
    std::cerr << "Error from server (" << (e.reason().empty() ? std::to_string(e.code()) : e.reason())
              << "): " << e.message() << "\n";
  } catch (const kube::ConfigError& e) {
    std::cerr << "error: " << e.what() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
  }
  return 1;
}

int Get(const ClusterFlags& flags, const std::string& kind_name) {
  auto kind = KindNamed(kind_name);
  if (!kind) {
    std::cerr << "error: unknown kind \"" << kind_name << "\": expected canaries, gitrepositories or kustomizations\n";
    return 1;
  }
  Session s(flags);
  auto items = s.Run(ListKind(s, *kind, flags.all_namespaces));
  if (items.empty()) {
    std::cerr << "No resources found" << (flags.all_namespaces ? "" : " in " + s.ns() + " namespace") << ".\n";
    return 0;
  }
  auto now = core::SystemClock::Instance().Now();
  std::cout << (kind->kind == "Canary" ? CanaryTable(items, flags.all_namespaces)
                                       : GitOpsTable(items, flags.all_namespaces, now));
  return 0;
}

int Status(const ClusterFlags& flags, const std::string& name) {
  Session s(flags);
  std::cout << s.Run(RenderStatus(s, name));
  return 0;
}

int Watch(const ClusterFlags& flags, const std::string& name, const std::string& timeout_text) {
  auto timeout = core::ParseDuration(timeout_text.empty() ? "0s" : timeout_text);
  if (!timeout) {
    std::cerr << "error: --timeout \"" << timeout_text << "\" is not a duration like 30s or 5m\n";
    return 1;
  }
  Session s(flags);
  s.Run(WatchLoop(s, name, *timeout));
  return 0;
}

int Request(const ClusterFlags& flags, const std::string& verb, const std::string& name, const std::string& value,
            bool wait) {
  Session s(flags);
  std::string v = value.empty() ? core::FormatTime(core::SystemClock::Instance().Now()) : value;
  json patch = {{"metadata", {{"annotations", {{"sluice.dev/" + verb, v}}}}}};
  KindRef kind = *KindNamed("canary");
  s.Run(PatchObject(s, kind, name, patch));
  std::cout << "canary " << s.ns() << "/" << name << ": " << verb << " requested\n";
  std::chrono::milliseconds answer_timeout = std::chrono::seconds(60);
  if (wait) std::cout << s.Run(AwaitAnswer(s, name, verb, answer_timeout)) << "\n";
  return 0;
}

int Suspend(const ClusterFlags& flags, const std::string& name, bool suspend) {
  Session s(flags);
  json patch = {{"spec", {{"suspend", suspend}}}};
  KindRef kind = *KindNamed("canary");
  s.Run(PatchObject(s, kind, name, patch));
  std::cout << "canary " << s.ns() << "/" << name << (suspend ? " paused" : " resumed") << "\n";
  return 0;
}

int Reconcile(const ClusterFlags& flags, const std::string& kind_name, const std::string& name) {
  auto kind = KindNamed(kind_name);
  if (!kind) {
    std::cerr << "error: unknown kind \"" << kind_name << "\": expected canary, source or sync\n";
    return 1;
  }
  Session s(flags);
  std::string now = core::FormatTime(core::SystemClock::Instance().Now());
  json patch = {{"metadata", {{"annotations", {{"sluice.dev/reconcile", now}}}}}};
  s.Run(PatchObject(s, *kind, name, patch));
  std::cout << kind->kind << " " << s.ns() << "/" << name << ": reconcile requested at " << now << "\n";
  return 0;
}

}  // namespace sluice::cli
