#include "controller/sandbox_delivery.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "controller/sandbox_process.h"
#include "sandbox/apimachinery/yaml_json.h"

namespace sluice::sandboxrun {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using nlohmann::json;

LocalRepo::LocalRepo(std::string dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_);
  Git({"init", "--quiet"});
  Git({"config", "user.name", "sluice sandbox"});
  Git({"config", "user.email", "sandbox@sluice.invalid"});
  Git({"config", "commit.gpgsign", "false"});
}

std::string LocalRepo::Git(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"git", "-C", dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string output;
  int status = RunCommand(argv, std::chrono::seconds(30), output);
  if (status == 127) throw std::runtime_error("git is not installed (Debian package git)");
  if (status != 0) throw std::runtime_error("git " + args.at(0) + " in " + dir_ + " failed: " + output);
  return output;
}

std::string LocalRepo::Commit(const AppFiles& files, const std::string& message) {
  for (const auto& entry : fs::directory_iterator(dir_))
    if (entry.is_regular_file() && !files.count(entry.path().filename().string())) fs::remove(entry.path());
  for (const auto& [name, text] : files) std::ofstream(fs::path(dir_) / name, std::ios::binary) << text;
  Git({"add", "--all", "."});
  Git({"commit", "--quiet", "--allow-empty", "-m", message});
  std::string rev = Git({"rev-parse", "HEAD"});
  while (!rev.empty() && (rev.back() == '\n' || rev.back() == '\r')) rev.pop_back();
  return rev;
}

namespace {

// Until Sluice's GitOps lands: each commit is applied as the sync would, by server-side
// apply of every manifest in kustomization order with one field manager.
class DirectApply final : public AppDelivery {
 public:
  explicit DirectApply(const DeliveryContext& context) : client_(context.client), repo_(context.repo_dir) {}

  asio::awaitable<std::string> Deliver(AppFiles files, std::string message) override {
    std::string revision = repo_.Commit(files, message);
    for (const std::string& name : ManifestOrder(files)) {
      std::vector<json> docs;
      try {
        docs = apimachinery::ParseYamlDocuments(files.at(name));
      } catch (const std::exception& e) {
        throw std::runtime_error(name + ": " + e.what());
      }
      for (json& doc : docs) {
        std::string what = name + ": " + doc.value("kind", "?") + " " + doc["metadata"].value("name", "?");
        try {
          std::string api_version = doc.value("apiVersion", "");
          std::string kind = doc.value("kind", "");
          auto resolve = client_->Resolve(api_version, kind);
          kube::ApiResource res = co_await std::move(resolve);
          std::string manager = "sluice-sandbox";
          bool force = true;
          std::string subresource;
          auto apply = client_->Apply(res, doc, manager, force, subresource);
          co_await std::move(apply);
        } catch (const std::exception& e) {
          throw std::runtime_error(what + ": " + e.what());
        }
      }
    }
    co_return revision;
  }

  std::string Describe() const override { return "commit to " + repo_.dir() + ", then server-side apply"; }

 private:
  std::shared_ptr<kube::Client> client_;
  LocalRepo repo_;
};

}  // namespace

std::shared_ptr<AppDelivery> MakeAppDelivery(const DeliveryContext& context) {
  return std::make_shared<DirectApply>(context);
}

}  // namespace sluice::sandboxrun
