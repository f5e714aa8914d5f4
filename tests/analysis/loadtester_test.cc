// `sluice loadtester` driven over HTTP as a real subprocess: gates, rollback gates, load and
// command tasks, and bad requests.
#include <catch2/catch.hpp>

#include <filesystem>

#include "net/http_client.h"
#include "tests/analysis/webhook_receiver.h"
#include "tests/support/process.h"

using namespace sluice;
using namespace sluice::testing;
using namespace sluice::testing::hooks;
using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

struct Answer {
  int status = 0;
  std::string body;
};

class LoadTesterProcess {
 public:
  LoadTesterProcess() : process_({SLUICE_BINARY, "loadtester", "--listen", "127.0.0.1:0"}) {
    REQUIRE(process_.WaitForOutput("listening on", std::chrono::seconds(10)));
    std::string out = process_.Stdout();
    auto at = out.find("listening on 127.0.0.1:");
    REQUIRE(at != std::string::npos);
    port_ = std::stoi(out.substr(at + 23));
    transport_ = net::MakeHttpClient(io_.get_executor(), {.server = "http://127.0.0.1:" + std::to_string(port_)});
  }

  Answer Call(const std::string& method, const std::string& target, const json& body = nullptr) {
    net::ClientRequest request;
    request.method = method;
    request.target = target;
    if (!body.is_null()) {
      request.body = body.dump();
      request.content_type = "application/json";
    }
    request.accept = "*/*";
    std::chrono::milliseconds timeout(5000);
    auto future = boost::asio::co_spawn(io_, transport_->Send(request, timeout), boost::asio::use_future);
    io_.restart();
    io_.run();
    net::ClientResponse res = future.get();
    return {res.status, res.body};
  }
  Answer Post(const std::string& target, const json& body) { return Call("POST", target, body); }

  json Tasks() { return json::parse(Call("GET", "/tasks").body); }
  std::string Log() { return process_.Stdout() + process_.Stderr(); }

 private:
  BackgroundProcess process_;
  int port_ = 0;
  boost::asio::io_context io_;
  std::shared_ptr<net::HttpClient> transport_;
};

json Payload(const std::string& name, const json& metadata = json::object()) {
  return {{"name", name}, {"namespace", "shop"}, {"phase", "Progressing"}, {"checksum", "abc"}, {"metadata", metadata}};
}

}  // namespace

TEST_CASE("loadtester: gates are closed until opened for each Canary", "[analysis][loadtester]") {
  LoadTesterProcess lt;
  CHECK(lt.Call("GET", "/healthz").status == 200);
  CHECK(lt.Post("/gate/check", Payload("podinfo")).status == 403);
  CHECK(lt.Post("/gate/open", Payload("podinfo")).status == 202);
  auto open = lt.Post("/gate/check", Payload("podinfo"));
  CHECK(open.status == 200);
  CHECK_THAT(open.body, Contains("podinfo.shop is open"));
  CHECK(lt.Post("/gate/check", Payload("other")).status == 403);
  // The query form is what a person types with curl.
  CHECK(lt.Call("POST", "/gate/close?name=podinfo&namespace=shop").status == 202);
  CHECK(lt.Post("/gate/check", Payload("podinfo")).status == 403);
  CHECK(lt.Post("/gate/approve", Payload("podinfo")).status == 200);
  CHECK(lt.Post("/gate/halt", Payload("podinfo")).status == 403);
}

TEST_CASE("loadtester: rollback gates answer 2xx only once opened", "[analysis][loadtester]") {
  LoadTesterProcess lt;
  CHECK(lt.Post("/rollback/check", Payload("podinfo")).status == 403);
  CHECK(lt.Post("/rollback/open", Payload("podinfo")).status == 202);
  CHECK(lt.Post("/rollback/check", Payload("podinfo")).status == 200);
  CHECK(lt.Post("/rollback/close", Payload("podinfo")).status == 202);
  CHECK(lt.Post("/rollback/check", Payload("podinfo")).status == 403);
}

TEST_CASE("loadtester: bad requests are answered 400 with the field named", "[analysis][loadtester]") {
  LoadTesterProcess lt;
  auto no_name = lt.Post("/gate/check", json{{"namespace", "shop"}});
  CHECK(no_name.status == 400);
  CHECK_THAT(no_name.body, Contains("name is required"));
  auto not_json = lt.Call("POST", "/gate/check?name=x", nullptr);
  CHECK(not_json.status == 403);  // no body: the query names the gate
  auto rps = lt.Post("/", Payload("podinfo", {{"type", "load"}, {"url", "http://127.0.0.1:1/"}, {"rps", "lots"}}));
  CHECK(rps.status == 400);
  CHECK_THAT(rps.body, Contains("metadata.rps"));
  auto url = lt.Post("/", Payload("podinfo", {{"type", "load"}, {"url", "podinfo:9898"}}));
  CHECK(url.status == 400);
  CHECK_THAT(url.body, Contains("metadata.url"));
  auto duration = lt.Post("/", Payload("podinfo", {{"type", "load"}, {"url", "http://127.0.0.1:1/"}, {"duration", "2d"}}));
  CHECK(duration.status == 400);
  CHECK_THAT(duration.body, Contains("metadata.duration"));
  auto type = lt.Post("/", Payload("podinfo", {{"type", "bash"}}));
  CHECK(type.status == 400);
  CHECK_THAT(type.body, Contains("metadata.type"));
  CHECK(lt.Call("GET", "/nope").status == 404);
}

TEST_CASE("loadtester: a load task sends requests at the asked rate for the asked time", "[analysis][loadtester]") {
  WebhookReceiver target;
  LoadTesterProcess lt;
  json load = {{"type", "load"}, {"url", target.Url("/api/info")}, {"rps", "40"}, {"duration", "1s"}};
  auto started = lt.Post("/", Payload("podinfo", load));
  REQUIRE(started.status == 200);
  CHECK(json::parse(started.body)["started"] == true);
  // The webhook fires again at the next step: the running task is not doubled.
  auto again = lt.Post("/", Payload("podinfo", load));
  CHECK(json::parse(again.body)["started"] == false);

  REQUIRE(WaitFor([&] { return !lt.Tasks().empty() && lt.Tasks()[0]["running"] == false; }, std::chrono::seconds(5)));
  json task = lt.Tasks()[0];
  INFO(task.dump());
  CHECK(task["sent"].get<int>() >= 35);
  CHECK(task["sent"].get<int>() <= 45);
  CHECK(task["ok"] == task["sent"]);
  auto got = target.Got("/api/info");
  CHECK(got.size() == task["sent"].get<size_t>());
  CHECK(got[0].method == "GET");
}

TEST_CASE("loadtester: command tasks run and are killed at their deadline", "[analysis][loadtester]") {
  TempDir dir;
  LoadTesterProcess lt;
  std::string marker = dir.File("ran");
  auto ok = lt.Post("/", Payload("podinfo", {{"type", "cmd"}, {"cmd", "echo hello > " + marker}}));
  REQUIRE(ok.status == 200);
  REQUIRE(WaitFor([&] { return std::filesystem::exists(marker); }, std::chrono::seconds(5)));
  CHECK(ReadFile(marker) == "hello\n");

  auto slow = lt.Post("/", Payload("podinfo", {{"type", "cmd"}, {"cmd", "sleep 30"}, {"timeout", "300ms"}}));
  REQUIRE(slow.status == 200);
  REQUIRE(WaitFor(
      [&] {
        for (const auto& t : lt.Tasks())
          if (t["target"] == "sleep 30") return t["running"] == false;
        return false;
      },
      std::chrono::seconds(5)));
  for (const auto& t : lt.Tasks()) {
    if (t["target"] == "echo hello > " + marker) CHECK(t["exitCode"] == 0);
    if (t["target"] == "sleep 30") CHECK(t["timedOut"] == true);
  }
}

TEST_CASE("loadtester: load against an unreachable target counts errors and ends on time", "[analysis][loadtester]") {
  std::string dead;
  {
    WebhookReceiver gone;
    dead = gone.Url("/");
  }
  LoadTesterProcess lt;
  auto started = lt.Post("/", Payload("podinfo", {{"type", "load"}, {"url", dead}, {"rps", "20"}, {"duration", "500ms"},
                                                  {"timeout", "200ms"}}));
  REQUIRE(started.status == 200);
  REQUIRE(WaitFor([&] { return !lt.Tasks().empty() && lt.Tasks()[0]["running"] == false; }, std::chrono::seconds(5)));
  json task = lt.Tasks()[0];
  INFO(task.dump());
  CHECK(task["sent"].get<int>() >= 8);
  CHECK(task["ok"] == 0);
  CHECK(task["errors"] == task["sent"]);
  CHECK(lt.Call("GET", "/healthz").status == 200);
}
