// Webhook receivers: signatures checked, a valid push reconciles its GitRepository within a
// second, a bad one gets 401 and is counted.
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include "controller/gitops/receiver.h"
#include "tests/gitops/git_harness.h"

namespace sluice::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

struct Posted {
  int status = 0;
  std::string body;
};

Posted Post(const std::string& url, const std::vector<std::pair<std::string, std::string>>& headers,
            const std::string& body) {
  std::vector<std::string> argv = {"curl", "-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}", "-X", "POST",
                                   "--data-binary", "@-"};
  bool typed = std::any_of(headers.begin(), headers.end(), [](const auto& h) { return h.first == "Content-Type"; });
  if (!typed) argv.insert(argv.end(), {"-H", "Content-Type: application/json"});
  for (const auto& [k, v] : headers) {
    argv.push_back("-H");
    argv.push_back(k + ": " + v);
  }
  argv.push_back(url);
  ProcessResult r = Run(argv, {}, seconds(10), body);
  Posted p;
  auto nl = r.out.rfind('\n');
  if (nl == std::string::npos) return p;
  p.body = r.out.substr(0, nl);
  p.status = std::atoi(r.out.c_str() + nl + 1);
  return p;
}

// The token Secret and a Receiver <name> of `type`; `spec_yaml` is indented under spec:.
std::string ReceiverYaml(const std::string& name, const std::string& type, const std::string& spec_yaml) {
  return R"(apiVersion: v1
kind: Secret
metadata:
  name: hook-token
  namespace: default
stringData:
  token: "t0ps3cret"
---
apiVersion: sluice.dev/v1beta1
kind: Receiver
metadata:
  name: )" + name + R"(
  namespace: default
spec:
  type: )" + type + R"(
  secretRef:
    name: hook-token
)" + spec_yaml;
}

std::string Setup(SourceCluster& c, const std::string& type, const std::string& repo_url) {
  c.Kubectl({"apply", "-f", "-"}, R"(apiVersion: sluice.dev/v1beta1
kind: GitRepository
metadata:
  name: app
  namespace: default
spec:
  url: )" + repo_url + R"(
  interval: 1h
---
)" + ReceiverYaml("push", type, R"(  events: ["push", "Push Hook"]
  resources:
    - kind: GitRepository
      name: app
)"));
  REQUIRE(c.WaitFor("receiver/push", "{.status.conditions[0].status}", "True", seconds(10)));
  std::string path = c.Get("receiver/push", "{.status.webhookPath}");
  CHECK(path == gitops::WebhookPath("t0ps3cret", "push", "default"));
  return c.ReceiverUrl() + path;
}

// A first commit fetched through GitRepository "app", and a Receiver "push" of `type` for it.
struct Hooked {
  std::string first;  // the first commit
  std::string url;    // the Receiver's webhook URL
};

Hooked SetupFetched(SourceCluster& c, GitRepo& repo, const std::string& type) {
  Hooked h;
  h.first = repo.Commit({{"a.yaml", "a"}});
  h.url = Setup(c, type, repo.FileUrl());
  REQUIRE(c.WaitFor("gitrepository/app", "{.status.artifact.revision}", "main@sha1:" + h.first, seconds(10)));
  return h;
}

}  // namespace

TEST_CASE("receiver: signature helpers") {
  // RFC 4231 test case 2.
  CHECK(gitops::HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  std::string sig = "sha256=" + gitops::HmacSha256Hex("k", "body");
  CHECK(gitops::VerifySha256Signature("k", "body", sig));
  CHECK_FALSE(gitops::VerifySha256Signature("k", "body!", sig));
  CHECK_FALSE(gitops::VerifySha256Signature("k", "body", "sha1=abc"));
  CHECK_FALSE(gitops::VerifySha256Signature("", "body", "sha256=" + gitops::HmacSha256Hex("", "body")));
}

TEST_CASE("receiver: a signed GitHub push reconciles the GitRepository within a second, and a bad signature gets 401") {
  SourceCluster c;
  GitRepo repo;
  Hooked hook = SetupFetched(c, repo, "github");
  const std::string c1 = hook.first, url = hook.url;
  std::string c2 = repo.Commit({{"b.yaml", "b"}});
  std::string body = R"({"ref":"refs/heads/main","after":")" + c2 + R"("})";

  Posted bad = Post(url, {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", "sha256=" + gitops::HmacSha256Hex("guess", body)}}, body);
  CHECK(bad.status == 401);
  CHECK(c.receiver().Count("unauthorized") == 1);
  Posted unsigned_post = Post(url, {{"X-GitHub-Event", "push"}}, body);
  CHECK(unsigned_post.status == 401);
  CHECK(c.receiver().Count("unauthorized") == 2);
  CHECK(c.receiver().SerializeMetrics().find("sluice_receiver_requests_total{result=\"unauthorized\"} 2") != std::string::npos);
  std::this_thread::sleep_for(milliseconds(300));
  CHECK(c.artifacts().Latest("default/app")->revision == "main@sha1:" + c1);

  Posted ping = Post(url, {{"X-GitHub-Event", "ping"}, {"X-Hub-Signature-256", "sha256=" + gitops::HmacSha256Hex("t0ps3cret", "{}")}}, "{}");
  CHECK(ping.status == 200);

  auto start = std::chrono::steady_clock::now();
  Posted ok = Post(url, {{"X-GitHub-Event", "push"}, {"X-Hub-Signature-256", "sha256=" + gitops::HmacSha256Hex("t0ps3cret", body)}}, body);
  CHECK(ok.status == 200);
  bool followed = WaitFor([&] { return c.artifacts().Latest("default/app")->revision == "main@sha1:" + c2; }, seconds(5));
  auto took = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  CHECK(followed);
  CHECK(took < seconds(1));
  WARN("push to new artifact through the receiver: " << took.count() << " ms");
  CHECK(c.receiver().Count("accepted") == 1);
  CHECK(c.Get("gitrepository/app", "{.metadata.annotations.sluice\\.dev/reconcile}") != "");
  Posted missing = Post(c.ReceiverUrl() + "/hook/0000", {}, body);
  CHECK(missing.status == 404);
}

TEST_CASE("receiver: GitLab token and generic HMAC") {
  SourceCluster c;
  GitRepo repo;
  Hooked hook = SetupFetched(c, repo, "gitlab");
  const std::string c1 = hook.first, url = hook.url;
  CHECK(Post(url, {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", "nope"}}, "{}").status == 401);
  std::string c2 = repo.Commit({{"b.yaml", "b"}});
  CHECK(Post(url, {{"X-Gitlab-Event", "Push Hook"}, {"X-Gitlab-Token", "t0ps3cret"}}, "{}").status == 200);
  CHECK(WaitFor([&] { return c.artifacts().Latest("default/app")->revision == "main@sha1:" + c2; }, seconds(3)));
  // An event the Receiver does not list is acknowledged and ignored.
  CHECK(Post(url, {{"X-Gitlab-Event", "Tag Push Hook"}, {"X-Gitlab-Token", "t0ps3cret"}}, "{}").status == 200);
  CHECK(c.receiver().Count("ignored") == 1);

  c.Kubectl({"patch", "receiver", "push", "--type=merge", "-p", R"({"spec":{"type":"generic-hmac","events":[]}})"});
  const std::string body = R"({"x":1})";
  REQUIRE(WaitFor([&] { return Post(url, {{"X-Signature", "sha256=" + gitops::HmacSha256Hex("t0ps3cret", body)}}, body).status == 200; },
                  seconds(5)));
  CHECK(Post(url, {{"X-Signature", "sha256=" + gitops::HmacSha256Hex("t0ps3cret", body)}}, "y").status == 401);
}

TEST_CASE("receiver: a signed request whose body is not JSON gets 400, is counted and reconciles nothing") {
  SourceCluster c;
  GitRepo repo;
  Hooked hook = SetupFetched(c, repo, "github");
  const std::string c1 = hook.first, url = hook.url;
  repo.Commit({{"b.yaml", "b"}});
  auto signed_post = [&](const std::string& body, const std::string& type) {
    return Post(url, {{"X-GitHub-Event", "push"}, {"Content-Type", type},
                      {"X-Hub-Signature-256", "sha256=" + gitops::HmacSha256Hex("t0ps3cret", body)}}, body);
  };
  for (const std::string body : {"ref=refs/heads/main", "{\"ref\": ", ""}) {
    Posted p = signed_post(body, "application/json");
    INFO("body: " << body);
    CHECK(p.status == 400);
    CHECK(p.body.find("not JSON") != std::string::npos);
  }
  // Form-encoded, as GitHub may send it, but without a JSON payload field.
  Posted form_without = signed_post("payload=nope", "application/x-www-form-urlencoded");
  CHECK(form_without.status == 400);
  CHECK(form_without.body.find("not JSON") != std::string::npos);
  CHECK(c.receiver().Count("bad_request") == 4);
  CHECK(c.receiver().SerializeMetrics().find("sluice_receiver_requests_total{result=\"bad_request\"} 4") != std::string::npos);
  CHECK(c.receiver().Count("accepted") == 0);
  std::this_thread::sleep_for(milliseconds(300));
  CHECK(c.Get("gitrepository/app", "{.metadata.annotations.sluice\\.dev/reconcile}") == "");
  CHECK(c.artifacts().Latest("default/app")->revision == "main@sha1:" + c1);

  // GitHub's form encoding of a JSON payload is accepted, and so is JSON labelled as a form.
  Posted form = signed_post("payload=%7B%22ref%22%3A+%22refs%2Fheads%2Fmain%22%7D", "application/x-www-form-urlencoded");
  CHECK(form.status == 200);
  CHECK(signed_post(R"({"ref":"refs/heads/main"})", "application/x-www-form-urlencoded").status == 200);
  CHECK(c.receiver().Count("accepted") == 2);
}

TEST_CASE("receiver: a Receiver naming a kind the API does not serve is Ready=False with a Warning Event") {
  SourceCluster c;
  c.Kubectl({"apply", "-f", "-"}, ReceiverYaml("typo", "github", R"(  resources:
    - kind: GitRepository
      name: app
    - kind: GitRepositry
      name: app
)"));
  REQUIRE(c.WaitFor("receiver/typo", "{.status.conditions[0].status}", "False", seconds(10)));
  CHECK(c.Get("receiver/typo", "{.status.conditions[0].reason}") == "InvalidSpec");
  std::string message = c.Get("receiver/typo", "{.status.conditions[0].message}");
  CHECK(message.find("spec.resources[1]") != std::string::npos);
  CHECK(message.find("does not serve kind GitRepositry in sluice.dev/v1beta1") != std::string::npos);
  CHECK(c.Get("receiver/typo", "{.status.webhookPath}") == "");
  // What `kubectl describe` shows: the condition's message and the Warning Event.
  bool described = WaitFor(
      [&] {
        std::string d = c.TryKubectl({"describe", "receiver", "typo"}).out;
        return d.find("Warning") != std::string::npos && d.find("InvalidSpec") != std::string::npos &&
               d.find("spec.resources[1]") != std::string::npos;
      },
      seconds(5));
  INFO(c.TryKubectl({"describe", "receiver", "typo"}).out);
  CHECK(described);

  // Fixed: Ready, serving its path.
  c.Kubectl({"patch", "receiver", "typo", "--type=json", "-p",
             R"([{"op":"replace","path":"/spec/resources/1/kind","value":"GitRepository"}])"});
  CHECK(c.WaitFor("receiver/typo", "{.status.conditions[0].status}", "True", seconds(10)));
}

}  // namespace sluice::testing
