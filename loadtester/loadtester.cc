#include "loadtester/loadtester.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core/duration.h"
#include "core/url.h"
#include "net/http_client.h"
#include "net/http_server.h"

namespace sluice::loadtester {

namespace asio = boost::asio;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Task {
  std::string key;
  std::string type;    // load | cmd
  std::string target;  // the URL or the command
  Clock::time_point deadline;
  std::atomic<bool> done{false};
  // load
  std::string method = "GET";
  std::string body;
  int rps = 0;
  std::chrono::milliseconds request_timeout{0};
  std::atomic<uint64_t> sent{0}, ok{0}, non_2xx{0}, errors{0}, skipped{0};
  std::atomic<size_t> in_flight{0};
  // cmd
  pid_t pid = -1;
  std::atomic<int> exit_code{-1};
  std::atomic<bool> timed_out{false};

  json ToJson() const {
    json j = {{"key", key}, {"type", type}, {"target", target}, {"running", !done.load()}};
    if (type == "load") {
      j["rps"] = rps;
      j["sent"] = sent.load();
      j["ok"] = ok.load();
      j["non2xx"] = non_2xx.load();
      j["errors"] = errors.load();
      j["skipped"] = skipped.load();
    } else {
      j["exitCode"] = exit_code.load();
      j["timedOut"] = timed_out.load();
    }
    return j;
  }
};

net::HttpResponse AnswerJson(int status, const json& body) {
  net::HttpResponse r;
  r.status = status;
  r.body = body.dump();
  return r;
}

// A request that cannot be served as asked, with the answer to give.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};

json ParseBody(const net::HttpRequest& req) {
  if (req.body.empty()) return json::object();
  json body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    throw BadRequest("the body is not a JSON object (expected the webhook payload {\"name\", \"namespace\", ...})");
  return body;
}

// Gates are keyed by the Canary: the payload's name and namespace, or ?name=&namespace=.
std::string GateKey(const net::HttpRequest& req, const json& body) {
  std::string name = body.contains("name") && body["name"].is_string() ? body["name"].get<std::string>()
                                                                       : req.Query("name");
  std::string ns = body.contains("namespace") && body["namespace"].is_string()
                       ? body["namespace"].get<std::string>()
                       : req.Query("namespace");
  if (name.empty()) throw BadRequest("name is required: the payload's \"name\" or the query ?name=");
  if (ns.empty()) ns = "default";
  return name + "." + ns;
}

std::string MetaString(const json& metadata, const char* key) {
  if (!metadata.contains(key)) return "";
  const json& v = metadata[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return v.dump();
  throw BadRequest(std::string("metadata.") + key + " must be a string");
}

std::chrono::milliseconds MetaDuration(const json& metadata, const char* key, std::chrono::milliseconds fallback,
                                       std::chrono::milliseconds max) {
  std::string text = MetaString(metadata, key);
  if (text.empty()) return fallback;
  auto d = core::ParseDuration(text);
  if (!d || d->count() <= 0)
    throw BadRequest(std::string("metadata.") + key + " \"" + text + "\" is not a positive duration such as 30s or 1m");
  if (*d > max)
    throw BadRequest(std::string("metadata.") + key + " \"" + text + "\" is longer than the limit of " +
                     std::to_string(max.count() / 1000) + "s");
  return *d;
}

}  // namespace

struct LoadTester::Impl {
  LoadTesterOptions options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::thread worker;
  std::unique_ptr<net::HttpServer> server;
  std::atomic<bool> stopped{false};

  std::mutex mu;  // guards the maps below: the server thread and the task thread both use them
  std::map<std::string, bool> gates;      // closed unless opened
  std::map<std::string, bool> rollbacks;  // no rollback unless opened
  std::map<std::string, std::shared_ptr<Task>> tasks;

  explicit Impl(LoadTesterOptions o) : options(std::move(o)) {}

  net::HttpResponse Handle(const net::HttpRequest& req) {
    try {
      if (req.path == "/healthz" || req.path == "/livez") return net::HttpResponse::Text(200, "ok");
      if (req.path.starts_with("/gate/")) return Gate(req);
      if (req.path.starts_with("/rollback/")) return Rollback(req);
      if (req.path == "/tasks") return Tasks();
      if (req.path == "/") return StartTask(req);
      return net::HttpResponse::Text(404, "no such endpoint " + req.path +
                             "; try /gate/{check,open,close,approve,halt}, /rollback/{check,open,close}, /tasks, /");
    } catch (const BadRequest& e) {
      return net::HttpResponse::Text(400, e.what());
    }
  }

  static net::HttpResponse GateAnswer(const std::string& what, const std::string& key, bool open) {
    return net::HttpResponse::Text(open ? 200 : 403, what + " " + key + (open ? " is open" : " is closed"));
  }

  net::HttpResponse Gate(const net::HttpRequest& req) {
    std::string action = req.path.substr(6);
    if (action == "approve") return net::HttpResponse::Text(200, "approved");
    if (action == "halt") return net::HttpResponse::Text(403, "halted");
    json body = ParseBody(req);
    std::string key = GateKey(req, body);
    std::lock_guard lock(mu);
    if (action == "check") return GateAnswer("gate", key, gates[key]);
    if (action == "open" || action == "close") {
      gates[key] = action == "open";
      spdlog::info("gate {} {}", key, action == "open" ? "opened" : "closed");
      return net::HttpResponse::Text(202, "gate " + key + (action == "open" ? " opened" : " closed"));
    }
    return net::HttpResponse::Text(404, "no such gate action " + action + "; try check, open, close, approve, halt");
  }

  net::HttpResponse Rollback(const net::HttpRequest& req) {
    std::string action = req.path.substr(10);
    json body = ParseBody(req);
    std::string key = GateKey(req, body);
    std::lock_guard lock(mu);
    if (action == "check") return GateAnswer("rollback", key, rollbacks[key]);
    if (action == "open" || action == "close") {
      rollbacks[key] = action == "open";
      spdlog::info("rollback gate {} {}", key, action == "open" ? "opened" : "closed");
      return net::HttpResponse::Text(202, "rollback " + key + (action == "open" ? " opened" : " closed"));
    }
    return net::HttpResponse::Text(404, "no such rollback action " + action + "; try check, open, close");
  }

  net::HttpResponse Tasks() {
    json list = json::array();
    std::lock_guard lock(mu);
    for (const auto& [key, task] : tasks) list.push_back(task->ToJson());
    return AnswerJson(200, list);
  }

  net::HttpResponse StartTask(const net::HttpRequest& req) {
    if (req.method != "POST") return net::HttpResponse::Text(405, "POST the webhook payload to start a task");
    json body = ParseBody(req);
    std::string canary = GateKey(req, body);
    if (!body.contains("metadata") || !body["metadata"].is_object())
      throw BadRequest("metadata is required: {type: load, url, rps, duration} or {type: cmd, cmd}");
    const json& metadata = body["metadata"];
    std::string type = MetaString(metadata, "type");
    if (type.empty()) type = "cmd";
    auto task = std::make_shared<Task>();
    task->type = type;
    if (type == "load")
      ParseLoad(metadata, *task);
    else if (type == "cmd")
      ParseCmd(metadata, *task);
    else
      throw BadRequest("metadata.type \"" + type + "\" is not load or cmd");
    task->key = canary + "|" + type + "|" + task->target;
    {
      std::lock_guard lock(mu);
      auto it = tasks.find(task->key);
      if (it != tasks.end() && !it->second->done) return AnswerJson(200, {{"task", task->key}, {"started", false}});
      if (stopped) return net::HttpResponse::Text(503, "shutting down");
      tasks[task->key] = task;
    }
    if (type == "load")
      asio::co_spawn(io, RunLoad(task), asio::detached);
    else
      asio::post(io, [this, task] { RunCmd(task); });
    spdlog::info("task {} started", task->key);
    return AnswerJson(200, {{"task", task->key}, {"started", true}});
  }

  void ParseLoad(const json& metadata, Task& task) {
    task.target = MetaString(metadata, "url");
    try {
      core::SplitUrl(task.target);
    } catch (const std::exception& e) {
      throw BadRequest(std::string("metadata.url ") + e.what());
    }
    std::string rps = MetaString(metadata, "rps");
    try {
      size_t used = 0;
      task.rps = rps.empty() ? 10 : std::stoi(rps, &used);
      if (!rps.empty() && used != rps.size()) throw std::invalid_argument(rps);
    } catch (const std::exception&) {
      throw BadRequest("metadata.rps \"" + rps + "\" is not an integer");
    }
    if (task.rps < 1 || task.rps > options.max_rps)
      throw BadRequest("metadata.rps " + std::to_string(task.rps) + " is not from 1 to " +
                       std::to_string(options.max_rps));
    auto duration = MetaDuration(metadata, "duration", std::chrono::minutes(1), options.max_duration);
    task.deadline = Clock::now() + duration;
    task.request_timeout = MetaDuration(metadata, "timeout", options.default_request_timeout, std::chrono::minutes(1));
    task.method = MetaString(metadata, "method");
    if (task.method.empty()) task.method = "GET";
    if (task.method != "GET" && task.method != "POST" && task.method != "PUT" && task.method != "HEAD")
      throw BadRequest("metadata.method \"" + task.method + "\" is not GET, POST, PUT or HEAD");
    task.body = MetaString(metadata, "body");
  }

  void ParseCmd(const json& metadata, Task& task) {
    task.target = MetaString(metadata, "cmd");
    if (task.target.empty()) throw BadRequest("metadata.cmd is required for type cmd");
    task.deadline = Clock::now() + MetaDuration(metadata, "timeout", options.default_cmd_timeout, options.max_duration);
  }

  // Requests leave at a steady rate whatever the answers' latency; past max_in_flight a
  // tick is skipped (and counted) rather than queued, so a dead target cannot pile up work.
  asio::awaitable<void> RunLoad(std::shared_ptr<Task> task) {
    std::pair<std::string, std::string> url = core::SplitUrl(task->target);
    net::ClientConfig config;
    config.server = url.first;
    config.tls.insecure_skip_verify = true;  // load against a test endpoint, not a trust decision
    std::shared_ptr<net::HttpClient> transport;
    try {
      transport = net::MakeHttpClient(io.get_executor(), std::move(config));
    } catch (const std::exception& e) {
      spdlog::warn("task {}: {}", task->key, e.what());
      task->done = true;
      co_return;
    }
    net::ClientRequest request;
    request.method = task->method;
    request.target = url.second;
    request.body = task->body;
    if (!task->body.empty()) request.content_type = "application/json";
    request.accept = "*/*";
    auto interval = std::chrono::nanoseconds(std::chrono::seconds(1)) / task->rps;
    asio::steady_timer timer(io);
    auto next = Clock::now();
    while (Clock::now() < task->deadline && !stopped) {
      if (task->in_flight < options.max_in_flight) {
        task->in_flight++;
        task->sent++;
        asio::co_spawn(io, OneRequest(task, transport, request), asio::detached);
      } else {
        task->skipped++;
      }
      next += interval;
      timer.expires_at(next);
      co_await timer.async_wait(asio::use_awaitable);
    }
    // The last answers arrive within one request timeout.
    auto drain = Clock::now() + task->request_timeout;
    while (task->in_flight > 0 && Clock::now() < drain && !stopped) {
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::use_awaitable);
    }
    task->done = true;
    spdlog::info("task {} finished: {}", task->key, task->ToJson().dump());
  }

  static asio::awaitable<void> OneRequest(std::shared_ptr<Task> task, std::shared_ptr<net::HttpClient> transport,
                                          net::ClientRequest request) {
    try {
      auto send = transport->Send(request, task->request_timeout);
      net::ClientResponse res = co_await std::move(send);
      if (res.status >= 200 && res.status < 300)
        task->ok++;
      else
        task->non_2xx++;
    } catch (const std::exception&) {
      task->errors++;
    }
    task->in_flight--;
  }

  // The command runs in a process group of its own, so the deadline kills its children too.
  void RunCmd(std::shared_ptr<Task> task) {
    pid_t pid = fork();
    if (pid < 0) {
      spdlog::warn("task {}: fork failed", task->key);
      task->done = true;
      return;
    }
    if (pid == 0) {
      setpgid(0, 0);
      sigset_t none;  // the loadtester blocks SIGINT/SIGTERM to take them synchronously
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execl("/bin/sh", "sh", "-c", task->target.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    setpgid(pid, pid);
    {
      std::lock_guard lock(mu);
      task->pid = pid;
    }
    asio::co_spawn(io, WatchCmd(task), asio::detached);
  }

  asio::awaitable<void> WatchCmd(std::shared_ptr<Task> task) {
    asio::steady_timer timer(io);
    for (;;) {
      int wstatus = 0;
      pid_t r = waitpid(task->pid, &wstatus, WNOHANG);
      if (r == task->pid) {
        task->exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        break;
      }
      if (r < 0) break;
      if (Clock::now() >= task->deadline || stopped) {
        task->timed_out = !stopped;
        kill(-task->pid, SIGKILL);
        waitpid(task->pid, &wstatus, 0);
        break;
      }
      timer.expires_after(std::chrono::milliseconds(50));
      co_await timer.async_wait(asio::use_awaitable);
    }
    task->done = true;
    spdlog::info("task {} finished: {}", task->key, task->ToJson().dump());
  }

  void KillCommands() {
    std::lock_guard lock(mu);
    for (auto& [key, task] : tasks)
      if (task->type == "cmd" && !task->done && task->pid > 0) {
        kill(-task->pid, SIGKILL);
        int wstatus = 0;
        waitpid(task->pid, &wstatus, 0);
        task->done = true;
      }
  }
};

LoadTester::LoadTester(LoadTesterOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

LoadTester::~LoadTester() { Stop(); }

void LoadTester::Start() {
  net::HttpServerOptions o;
  o.host = impl_->options.host;
  o.port = impl_->options.port;
  o.max_body_bytes = 1 << 20;
  o.read_timeout = std::chrono::seconds(10);
  Impl* impl = impl_.get();
  impl_->server = std::make_unique<net::HttpServer>(o, [impl](const net::HttpRequest& req) {
    return impl->Handle(req);
  });
  impl_->server->Start();
  impl_->worker = std::thread([impl] { impl->io.run(); });
}

void LoadTester::Stop() {
  if (impl_->stopped.exchange(true)) return;
  if (impl_->server) impl_->server->Stop();
  impl_->KillCommands();
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->worker.joinable()) impl_->worker.join();
}

uint16_t LoadTester::port() const { return impl_->server ? impl_->server->port() : 0; }

}  // namespace sluice::loadtester
