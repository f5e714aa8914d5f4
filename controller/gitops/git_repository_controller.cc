#include "controller/gitops/git_repository_controller.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "api/git_repository.h"
#include "api/spec_error.h"
#include "core/base64.h"
#include "core/duration.h"
#include "core/object_key.h"

namespace sluice::gitops {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;

namespace {

// Runs `fn` on `pool` and resumes the awaiting coroutine on its own executor with the result
// (or the exception): libgit2 blocks, the event loop must not.
template <class T, class Fn>
asio::awaitable<T> RunBlocking(asio::thread_pool& pool, Fn fn) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, T)>(
      [&pool, fn = std::move(fn)](auto handler) mutable {
        auto home = asio::get_associated_executor(handler);
        auto work = asio::make_work_guard(home);
        asio::post(pool, [handler = std::move(handler), fn = std::move(fn), work = std::move(work)]() mutable {
          std::exception_ptr error;
          T result{};
          try {
            result = fn();
          } catch (...) {
            error = std::current_exception();
          }
          auto ex = work.get_executor();
          asio::post(ex, [handler = std::move(handler), error, result = std::move(result)]() mutable {
            handler(error, std::move(result));
          });
        });
      },
      asio::use_awaitable);
}

// A condition in status.conditions: lastTransitionTime moves only when status changes.
void SetCondition(json& status, const std::string& type, const std::string& value, const std::string& reason,
                  const std::string& message, int64_t generation, core::TimePoint now) {
  json& conditions = status["conditions"];
  if (!conditions.is_array()) conditions = json::array();
  json c = {{"type", type}, {"status", value}, {"reason", reason}, {"message", message},
            {"observedGeneration", generation}, {"lastTransitionTime", core::FormatTime(now)}};
  for (auto& existing : conditions)
    if (existing.value("type", "") == type) {
      if (existing.value("status", "") == value) c["lastTransitionTime"] = existing.value("lastTransitionTime", c["lastTransitionTime"].get<std::string>());
      existing = c;
      return;
    }
  conditions.push_back(c);
}

void RemoveCondition(json& status, const std::string& type) {
  if (!status.contains("conditions")) return;
  json kept = json::array();
  for (const auto& c : status["conditions"])
    if (c.value("type", "") != type) kept.push_back(c);
  status["conditions"] = kept;
}

void MarkFailed(json& status, const std::string& reason, const std::string& message, bool stalled, int64_t generation,
                core::TimePoint now) {
  SetCondition(status, "Ready", "False", reason, message, generation, now);
  RemoveCondition(status, "Reconciling");
  if (stalled)
    SetCondition(status, "Stalled", "True", reason, message, generation, now);
  else
    RemoveCondition(status, "Stalled");
}

// Returns whether the artifact changed (lastUpdateTime moves only then).
bool MarkReady(json& status, const std::string& revision, const std::string& path, int64_t generation,
               core::TimePoint now) {
  json artifact = status.value("artifact", json::object());
  bool changed = artifact.value("revision", "") != revision || artifact.value("path", "") != path;
  if (changed) artifact = {{"revision", revision}, {"path", path}, {"lastUpdateTime", core::FormatTime(now)}};
  status["artifact"] = artifact;
  SetCondition(status, "Ready", "True", "Succeeded", "stored artifact for revision '" + revision + "'", generation, now);
  RemoveCondition(status, "Reconciling");
  RemoveCondition(status, "Stalled");
  return changed;
}

std::string ConditionMessage(const json& status, const std::string& type) {
  for (const auto& c : status.value("conditions", json::array()))
    if (c.value("type", "") == type) return c.value("status", "") + "/" + c.value("message", "");
  return "";
}

// What a GitRepository asks for, validated; `error` names the field when it does not parse.
struct SourceSpec : api::GitRepositorySpec {
  std::string error;
  std::string error_reason;
};

SourceSpec ParseSpec(const json& obj) {
  SourceSpec s;
  try {
    static_cast<api::GitRepositorySpec&>(s) = api::ParseGitRepositorySpec(obj);
  } catch (const api::InvalidSpec& e) {
    s.error = e.what();
    s.error_reason = e.reason();
  }
  return s;
}

std::string SecretString(const json& secret, const char* key) {
  auto data = secret.value("data", json::object());
  if (data.contains(key) && data[key].is_string()) return core::Base64Decode(data[key].get<std::string>()).value_or("");
  auto plain = secret.value("stringData", json::object());
  return plain.value(key, "");
}

GitCredentials CredentialsFrom(const json& secret) {
  GitCredentials c;
  c.username = SecretString(secret, "username");
  c.password = SecretString(secret, "password");
  c.bearer_token = SecretString(secret, "bearerToken");
  c.identity = SecretString(secret, "identity");
  c.known_hosts = SecretString(secret, "known_hosts");
  if (!c.identity.empty()) c.identity_password = c.password;  // for ssh, 'password' unlocks the key
  return c;
}

std::string Fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf, 8);
}

std::string Annotation(const json& obj, const char* key) {
  return obj["metadata"].value("annotations", json::object()).value(key, "");
}

bool NeedsReconcile(const json& old_obj, const json& new_obj) {
  const json& a = old_obj["metadata"];
  const json& b = new_obj["metadata"];
  return a.value("generation", int64_t{0}) != b.value("generation", int64_t{0}) ||
         a.value("annotations", json::object()) != b.value("annotations", json::object()) ||
         b.contains("deletionTimestamp");
}

}  // namespace

// One reconcile's inputs, copied out of the cache so the worker thread never touches it.
struct GitRepositoryController::Pass {
  kube::ObjectPtr object;
  std::string key, ns, name;
  int64_t generation = 0;
  SourceSpec spec;
  GitCredentials credentials;
  std::string request;  // sluice.dev/reconcile value, "" if none
  std::string repo_dir;
  std::string artifact_base;
};

struct GitRepositoryController::Outcome {
  bool ok = false;
  GitErrorKind kind = GitErrorKind::kOperation;
  std::string reason;
  std::string message;
  PollResult poll;
  std::string artifact_path;
};

std::shared_ptr<GitRepositoryController> GitRepositoryController::Create(std::shared_ptr<kube::Client> client,
                                                                         std::shared_ptr<kube::EventRecorder> events,
                                                                         std::shared_ptr<ArtifactStore> artifacts,
                                                                         GitRepositoryControllerOptions options) {
  if (options.cache_dir.empty()) throw std::invalid_argument("the GitRepository controller needs a cache directory");
  return std::shared_ptr<GitRepositoryController>(
      new GitRepositoryController(std::move(client), std::move(events), std::move(artifacts), std::move(options)));
}

GitRepositoryController::GitRepositoryController(std::shared_ptr<kube::Client> client,
                                                 std::shared_ptr<kube::EventRecorder> events,
                                                 std::shared_ptr<ArtifactStore> artifacts,
                                                 GitRepositoryControllerOptions options)
    : Reconciler(client->executor(),
                 // Git failures are handled inside Reconcile and reported in status; what reaches here is a
                 // status write that failed (API down, a conflict), so everything is retried.
                 {.name = "gitrepositories",
                  .kind = "GitRepository",
                  .workers = options.workers,
                  .retry = {.base_delay = std::chrono::milliseconds(500),
                            .max_delay = std::chrono::seconds(300),
                            .retry_invalid = true},
                  .clock = options.clock}),
      client_(std::move(client)),
      events_(std::move(events)),
      artifacts_(std::move(artifacts)),
      options_(std::move(options)),
      pool_(static_cast<size_t>(std::max(1, options_.git_threads))),
      rng_(std::random_device{}()) {
}

GitRepositoryController::~GitRepositoryController() { pool_.join(); }

std::weak_ptr<GitRepositoryController> GitRepositoryController::WeakSelf() {
  return std::static_pointer_cast<GitRepositoryController>(shared_from_this());
}

asio::awaitable<void> GitRepositoryController::StartWatches() {
  auto op = client_->Resolve("sluice.dev/v1beta1", "GitRepository");
  resource_ = co_await std::move(op);
  auto secrets_op = client_->Resolve("v1", "Secret");
  kube::ApiResource secrets = co_await std::move(secrets_op);
  kube::InformerOptions io;
  io.ns = options_.ns;
  repos_ = kube::Informer::Create(client_, resource_, io);
  secrets_ = kube::Informer::Create(client_, secrets, io);
  repos_->AddIndex("secret", [](const json& r) {
    std::string secret = r.value("spec", json::object()).value("secretRef", json::object()).value("name", "");
    if (secret.empty()) return std::vector<std::string>{};
    return std::vector<std::string>{r["metadata"].value("namespace", "") + "/" + secret};
  });
  WireHandlers();
  repos_->Start();
  secrets_->Start();
  auto w1 = repos_->WaitForSync();
  co_await std::move(w1);
  auto w2 = secrets_->WaitForSync();
  co_await std::move(w2);
  spdlog::info("git repository controller synced: {} repositories, cache {}", repos_->size(), options_.cache_dir);
}

void GitRepositoryController::WireHandlers() {
  auto self = WeakSelf();
  kube::InformerHandler repos;
  repos.on_add = [self](const kube::ObjectPtr& o) {
    if (auto s = self.lock()) s->Enqueue(core::ObjectKey(*o));
  };
  // Our own status writes come back as updates: only spec, annotation and deletion changes
  // reconcile early; everything else waits for the interval.
  repos.on_update = [self](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& o) {
    if (auto s = self.lock(); s && NeedsReconcile(*old_obj, *o)) s->Enqueue(core::ObjectKey(*o));
  };
  repos.on_delete = repos.on_add;
  repos_->AddHandler(repos);

  kube::InformerHandler secrets;
  secrets.on_add = [self](const kube::ObjectPtr& o) {
    auto s = self.lock();
    if (!s) return;
    for (const auto& r : s->repos_->ByIndex("secret", core::ObjectKey(*o))) s->Enqueue(core::ObjectKey(*r));
  };
  secrets.on_update = [secrets](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& o) {
    if (old_obj->value("data", json::object()) != o->value("data", json::object())) secrets.on_add(o);
  };
  secrets.on_delete = secrets.on_add;
  secrets_->AddHandler(secrets);
}

void GitRepositoryController::StopWatches() {
  if (repos_) repos_->Stop();
  if (secrets_) secrets_->Stop();
}

void GitRepositoryController::OnReconcileError(const std::string&, const std::exception&, bool) { stats_.failures++; }

std::chrono::milliseconds GitRepositoryController::Jittered(milliseconds interval) {
  std::uniform_real_distribution<double> d(0.0, options_.jitter);
  return milliseconds(static_cast<int64_t>(static_cast<double>(interval.count()) * (1.0 + d(rng_))));
}

asio::awaitable<void> GitRepositoryController::Reconcile(std::string key) {
  Pass pass;
  pass.key = key;
  pass.object = repos_->Get(key);
  if (!pass.object || (*pass.object)["metadata"].contains("deletionTimestamp")) {
    Forget(key);
    co_return;
  }
  stats_.reconciles++;
  const json& obj = *pass.object;
  pass.ns = obj["metadata"].value("namespace", "");
  pass.name = obj["metadata"].value("name", "");
  pass.generation = obj["metadata"].value("generation", int64_t{0});
  pass.spec = ParseSpec(obj);
  pass.request = Annotation(obj, kRequestReconcileAnnotation);
  pass.repo_dir = options_.cache_dir + "/repos/" + pass.ns + "/" + pass.name + ".git";
  pass.artifact_base = options_.cache_dir + "/artifacts/" + pass.ns + "/" + pass.name;
  json current = obj.value("status", json::object());
  json status = current;
  core::TimePoint now = options_.clock->Now();
  if (pass.spec.suspend) co_return;  // the last artifact stays published

  auto fail = [&](const std::string& reason, const std::string& message, bool stalled) {
    MarkFailed(status, reason, message, stalled, pass.generation, now);
    if (ConditionMessage(current, "Ready") != ConditionMessage(status, "Ready")) events_->Warning(obj, reason, message);
  };
  status["observedGeneration"] = pass.generation;
  if (!pass.request.empty()) status["lastHandledReconcileAt"] = pass.request;

  if (!pass.spec.error.empty()) {
    fail(pass.spec.error_reason, pass.spec.error, /*stalled=*/true);
    co_await WriteStatus(pass, status);
    co_return;  // nothing to retry until the spec changes
  }
  if (!pass.spec.secret_name.empty()) {
    auto secret = secrets_->Get(pass.ns, pass.spec.secret_name);
    if (!secret) {
      fail("AuthenticationFailed", "spec.secretRef: Secret " + pass.ns + "/" + pass.spec.secret_name + " not found",
           false);
      co_await WriteStatus(pass, status);
      EnqueueAfter(key, pass.spec.interval);  // the Secret's arrival also reconciles
      co_return;
    }
    pass.credentials = CredentialsFrom(*secret);
  }
  if (current.value("observedGeneration", int64_t{-1}) != pass.generation) {
    json progressing = current;
    SetCondition(progressing, "Reconciling", "True", "Progressing",
                 "reconciling new object generation (" + std::to_string(pass.generation) + ")", pass.generation, now);
    co_await WriteStatus(pass, progressing);
  }

  Outcome outcome = co_await Fetch(pass);
  now = options_.clock->Now();
  if (!outcome.ok) {
    stats_.failures++;
    bool stalled = outcome.reason == "InvalidURL" || outcome.reason == "InvalidSpec";
    fail(outcome.reason, outcome.message, stalled);
    co_await WriteStatus(pass, status);
    if (stalled) co_return;
    int n = ++failures_[key];
    auto backoff = milliseconds(1000) * (1 << std::min(n - 1, 10));
    EnqueueAfter(key, std::min(backoff, Jittered(pass.spec.interval)));
    co_return;
  }
  failures_.erase(key);
  const std::string& revision = outcome.poll.resolved->revision;
  if (MarkReady(status, revision, outcome.artifact_path, pass.generation, now))
    events_->Normal(obj, "NewArtifact", "stored artifact for revision '" + revision + "'");
  Publish(pass, outcome);
  co_await WriteStatus(pass, status);
  EnqueueAfter(key, Jittered(pass.spec.interval));
}

void GitRepositoryController::Forget(const std::string& key) {
  if (published_.erase(key)) artifacts_->Remove(key);
  failures_.erase(key);
  // The bare repository goes; exported trees stay, since a sync may still be reading one.
  auto [ns, name] = core::SplitObjectKey(key);
  asio::post(pool_, [dir = options_.cache_dir + "/repos/" + ns + "/" + name + ".git"] {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
}

asio::awaitable<GitRepositoryController::Outcome> GitRepositoryController::Fetch(const Pass& pass) {
  stats_.polls++;
  std::string keep = published_.count(pass.key) ? published_[pass.key] : "";
  const GitClient* git = &git_;
  auto job = [git, url = pass.spec.url, ref = pass.spec.ref, creds = pass.credentials, timeout = pass.spec.timeout,
              repo_dir = pass.repo_dir, base = pass.artifact_base, ignore = pass.spec.ignore, keep]() {
    Outcome out;
    try {
      out.poll = git->Poll(repo_dir, url, ref, creds, timeout);
      const ResolvedRef& r = *out.poll.resolved;
      out.artifact_path = base + "/" + r.commit + "-" + Fnv1a(ignore);
      if (!fs::exists(out.artifact_path)) {
        fs::create_directories(base);
        IgnoreRules rules = IgnoreRules::WithDefaults();
        rules.Add(ignore);
        git->Export(repo_dir, r.commit, out.artifact_path, rules);
      }
      // Keep the tree being published and the one syncs may still read; drop the rest.
      for (const auto& entry : fs::directory_iterator(base)) {
        std::string p = entry.path().string();
        if (p != out.artifact_path && p != keep) {
          std::error_code ec;
          fs::remove_all(entry.path(), ec);
        }
      }
      out.ok = true;
    } catch (const GitError& e) {
      out.kind = e.kind();
      out.reason = e.kind() == GitErrorKind::kTimeout ? "GitOperationFailed" : ToString(e.kind());
      out.message = e.what();
    } catch (const std::invalid_argument& e) {
      out.reason = "InvalidSpec";
      out.message = std::string("spec.ref.semver: ") + e.what();
    } catch (const std::exception& e) {
      out.reason = "GitOperationFailed";
      out.message = e.what();
    }
    return out;
  };
  auto op = RunBlocking<Outcome>(pool_, std::move(job));
  Outcome outcome = co_await std::move(op);
  if (outcome.ok && outcome.poll.fetched) {
    stats_.fetches++;
    stats_.received_bytes += outcome.poll.received_bytes;
  }
  co_return outcome;
}

void GitRepositoryController::Publish(const Pass& pass, const Outcome& outcome) {
  auto it = published_.find(pass.key);
  if (it != published_.end() && it->second == outcome.artifact_path) return;
  published_[pass.key] = outcome.artifact_path;
  stats_.published++;
  Artifact a;
  a.revision = outcome.poll.resolved->revision;
  a.path = outcome.artifact_path;
  a.fetched = options_.clock->Now();
  artifacts_->Publish(pass.key, std::move(a));
}

asio::awaitable<void> GitRepositoryController::WriteStatus(const Pass& pass, const json& status) {
  if (pass.object->value("status", json::object()) == status) co_return;
  json patch = {{"apiVersion", resource_.ApiVersion()},
                {"kind", resource_.kind},
                {"metadata", {{"name", pass.name}, {"namespace", pass.ns}}},
                {"status", status}};
  const std::string manager = options_.field_manager;
  const std::string subresource = "status";
  auto op = client_->Apply(resource_, patch, manager, /*force=*/true, subresource);
  co_await std::move(op);
  stats_.status_writes++;
}

}  // namespace sluice::gitops
