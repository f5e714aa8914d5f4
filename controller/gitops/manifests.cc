#include "controller/gitops/manifests.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/yaml_json.h"

namespace sluice::gitops {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Manifest::Origin() const {
  return file + " document " + std::to_string(document) + " (line " + std::to_string(line) + ")";
}

namespace {

constexpr size_t kMaxFileBytes = 8u << 20;  // a manifest this large is a mistake, not a deployment
constexpr size_t kMaxKustomizeOutput = 64u << 20;

bool HasKustomization(const fs::path& dir) {
  std::error_code ec;
  for (const char* name : {"kustomization.yaml", "kustomization.yml", "Kustomization"})
    if (fs::exists(dir / name, ec)) return true;
  return false;
}

bool IsManifestFile(const fs::path& p) {
  std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

// A document separator: "---" alone or followed by a space or comment.
bool IsSeparator(std::string_view line) {
  if (line.substr(0, 3) != "---") return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' || line[3] == '#';
}

struct Chunk {
  std::string text;
  int first_line;  // 1-based line of the file where the chunk's text starts
};

std::vector<Chunk> SplitDocuments(const std::string& text) {
  std::vector<Chunk> chunks;
  Chunk current{"", 1};
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    ++line_no;
    if (IsSeparator(line)) {
      chunks.push_back(std::move(current));
      current = Chunk{"", line_no + 1};
    } else {
      current.text.append(line);
      current.text += '\n';
    }
    if (end == text.size()) break;
    pos = end + 1;
  }
  chunks.push_back(std::move(current));
  return chunks;
}

// "yaml: line 3, column 5: ..." counts from the chunk; the user needs the file's line.
std::string ShiftLine(const std::string& message, int first_line) {
  const std::string prefix = "yaml: line ";
  if (message.rfind(prefix, 0) != 0) return message;
  size_t digits_end = prefix.size();
  while (digits_end < message.size() && std::isdigit(static_cast<unsigned char>(message[digits_end]))) ++digits_end;
  if (digits_end == prefix.size()) return message;
  int line = std::stoi(message.substr(prefix.size(), digits_end - prefix.size())) + first_line - 1;
  return prefix + std::to_string(line) + message.substr(digits_end);
}

bool SubstitutionDisabled(const json& object) {
  if (!object.is_object()) return false;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return false;
  auto ann = meta->find("annotations");
  if (ann == meta->end() || !ann->is_object()) return false;
  auto it = ann->find(kSubstituteAnnotation);
  return it != ann->end() && it->is_string() && *it == "disabled";
}

std::string Fail(const Manifest& m, const std::string& what) { return m.Origin() + ": " + what; }

// The fields every object must have before anything can be sent for it.
void CheckObject(const Manifest& m) {
  const json& o = m.object;
  if (!o.is_object())
    throw ManifestError("BuildFailed", Fail(m, std::string("expected a Kubernetes object (a mapping with apiVersion, "
                                                           "kind and metadata), got a YAML ") +
                                                   o.type_name()));
  auto str_field = [&](const json& parent, const char* key, const std::string& path) {
    auto it = parent.find(key);
    if (it == parent.end() || it->is_null())
      throw ManifestError("BuildFailed", Fail(m, path + ": Required value"));
    if (!it->is_string() || it->get_ref<const std::string&>().empty())
      throw ManifestError("BuildFailed", Fail(m, path + ": Invalid value: " + it->dump() + ": expected a non-empty string"));
  };
  str_field(o, "apiVersion", "apiVersion");
  str_field(o, "kind", "kind");
  auto meta = o.find("metadata");
  if (meta == o.end() || !meta->is_object())
    throw ManifestError("BuildFailed", Fail(m, "metadata: Required value: expected a mapping with a name"));
  str_field(*meta, "name", "metadata.name");
  if (meta->contains("namespace") && !(*meta)["namespace"].is_string() && !(*meta)["namespace"].is_null())
    throw ManifestError("BuildFailed", Fail(m, "metadata.namespace: Invalid value: " + (*meta)["namespace"].dump() +
                                                   ": expected a string"));
}

// A "v1 List" (what `kubectl get -o yaml` writes) stands for its items.
void Append(std::vector<Manifest>& out, Manifest m) {
  // kind may be any value in a broken file (CheckObject names it): compare, never convert.
  if (m.object.is_object() && m.object.contains("kind") && m.object["kind"] == "List" && m.object.contains("items")) {
    if (!m.object["items"].is_array())
      throw ManifestError("BuildFailed", Fail(m, "items: Invalid value: expected a list of objects"));
    int index = 0;
    for (auto& item : m.object["items"]) {
      Manifest part{item, m.file, m.document, m.line};
      try {
        CheckObject(part);
      } catch (const ManifestError& e) {
        throw ManifestError("BuildFailed", std::string(e.what()) + " (List item " + std::to_string(index) + ")");
      }
      out.push_back(std::move(part));
      ++index;
    }
    return;
  }
  CheckObject(m);
  out.push_back(std::move(m));
}

std::string ReadText(const fs::path& file, const std::string& rel) {
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) throw ManifestError("BuildFailed", rel + ": cannot read: " + ec.message());
  if (size > kMaxFileBytes)
    throw ManifestError("BuildFailed", rel + ": " + std::to_string(size) + " bytes is more than the " +
                                           std::to_string(kMaxFileBytes >> 20) + " MiB a manifest file may hold");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ManifestError("BuildFailed", rel + ": cannot open: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ProgramResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs a program with a deadline, capturing its output; never through a shell.
ProgramResult RunProgram(const std::vector<std::string>& argv, std::chrono::seconds deadline) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  ProgramResult r;
  auto until = std::chrono::steady_clock::now() + deadline;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0 || r.out.size() > kMaxKustomizeOutput) {
      r.timed_out = left.count() <= 0;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      break;
    }
    int n = poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!r.timed_out) r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<Manifest> BuildKustomization(const fs::path& dir, const std::string& rel_dir, const BuildOptions& options) {
  std::string where = rel_dir.empty() ? "kustomization.yaml" : rel_dir + "/kustomization.yaml";
  if (options.kustomize_path.empty())
    throw ManifestError("KustomizeUnavailable",
                        where + " needs `kustomize build`, but no kustomize binary is configured: start the "
                                "controller with --kustomize-path=/path/to/kustomize, or remove the "
                                "kustomization.yaml to apply the folder's YAML files as they are");
  if (access(options.kustomize_path.c_str(), X_OK) != 0)
    throw ManifestError("KustomizeUnavailable", where + " needs `kustomize build`, but --kustomize-path " +
                                                    options.kustomize_path + " is not an executable file");
  ProgramResult r = RunProgram({options.kustomize_path, "build", dir.string()}, options.kustomize_timeout);
  if (r.timed_out)
    throw ManifestError("BuildFailed", "kustomize build " + (rel_dir.empty() ? "." : rel_dir) + " did not finish within " +
                                           std::to_string(options.kustomize_timeout.count()) + "s");
  if (r.exit_code != 0) {
    std::string err = r.err.size() > 2000 ? r.err.substr(0, 2000) + "..." : r.err;
    while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
    throw ManifestError("BuildFailed", "kustomize build " + (rel_dir.empty() ? "." : rel_dir) + " failed (exit " +
                                           std::to_string(r.exit_code) + "): " + err);
  }
  return ParseManifestText(r.out, where + " (kustomize build output)", options.variables);
}

// Files and sub-folders of one folder in name order; a sub-folder with a kustomization is
// built as a unit, as Flux does.
void Walk(const fs::path& dir, const std::string& rel_dir, const BuildOptions& options, const fs::path& root,
          std::vector<Manifest>& out) {
  std::vector<fs::directory_entry> entries;
  for (const auto& e : fs::directory_iterator(dir)) entries.push_back(e);
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.path().filename() < b.path().filename(); });
  for (const auto& e : entries) {
    std::string name = e.path().filename().string();
    if (!name.empty() && name[0] == '.') continue;  // .git, .github, editor files
    std::string rel = rel_dir.empty() ? name : rel_dir + "/" + name;
    std::error_code ec;
    if (e.is_symlink(ec)) {
      // A link may point anywhere on the controller's disk: only follow it inside the tree.
      fs::path target = fs::weakly_canonical(e.path(), ec);
      auto [root_end, _] = std::mismatch(root.begin(), root.end(), target.begin(), target.end());
      if (ec || root_end != root.end()) continue;
    }
    if (e.is_directory(ec)) {
      if (HasKustomization(e.path())) {
        auto built = BuildKustomization(e.path(), rel, options);
        out.insert(out.end(), built.begin(), built.end());
      } else {
        Walk(e.path(), rel, options, root, out);
      }
    } else if (e.is_regular_file(ec) && IsManifestFile(e.path())) {
      auto parsed = ParseManifestText(ReadText(e.path(), rel), rel, options.variables);
      out.insert(out.end(), parsed.begin(), parsed.end());
    }
  }
}

}  // namespace

std::vector<Manifest> ParseManifestText(const std::string& text, const std::string& file,
                                        const std::optional<Variables>& variables) {
  std::vector<Manifest> out;
  int document = 0;
  for (const Chunk& chunk : SplitDocuments(text)) {
    Manifest m{nullptr, file, document + 1, chunk.first_line};
    json raw;
    std::string raw_error;
    try {
      raw = core::ParseYaml(chunk.text);
    } catch (const std::invalid_argument& e) {
      raw_error = ShiftLine(e.what(), chunk.first_line);
    }
    bool substitute = variables && chunk.text.find("${") != std::string::npos &&
                      !(raw_error.empty() && SubstitutionDisabled(raw));
    if (substitute) {
      std::string text_after;
      try {
        text_after = Substitute(chunk.text, *variables);
      } catch (const std::invalid_argument& e) {
        // The substitution's line counts from the document; report the file's line.
        std::string what = e.what();
        int rel_line = std::stoi(what.substr(5));
        std::string rest = what.substr(what.find(':'));
        throw ManifestError("BuildFailed", file + " document " + std::to_string(document + 1) + " (line " +
                                               std::to_string(chunk.first_line + rel_line - 1) + ")" + rest);
      }
      raw_error.clear();
      try {
        raw = core::ParseYaml(text_after);
      } catch (const std::invalid_argument& e) {
        raw_error = ShiftLine(e.what(), chunk.first_line) + " (after variable substitution)";
      }
    }
    if (!raw_error.empty()) {
      // A document that does not parse has no index of its own yet; count it for the message.
      throw ManifestError("BuildFailed", file + " document " + std::to_string(document + 1) + " (line " +
                                             std::to_string(chunk.first_line) + "): " + raw_error);
    }
    if (raw.is_null()) continue;  // empty or comment-only document
    ++document;
    m.document = document;
    m.object = std::move(raw);
    Append(out, std::move(m));
  }
  return out;
}

std::vector<Manifest> LoadManifests(const std::string& root, const std::string& path, const BuildOptions& options) {
  std::error_code ec;
  fs::path root_path = fs::weakly_canonical(fs::path(root), ec);
  if (ec || !fs::is_directory(root_path))
    throw ManifestError("ArtifactFailed", "the source's checked-out tree " + root + " is missing");
  std::string rel = path;
  while (rel.rfind("./", 0) == 0) rel = rel.substr(2);
  while (!rel.empty() && rel.back() == '/') rel.pop_back();
  if (rel == ".") rel.clear();
  if (!rel.empty() && rel[0] == '/') rel = rel.substr(1);
  fs::path dir = fs::weakly_canonical(root_path / rel, ec);
  auto [root_end, _] = std::mismatch(root_path.begin(), root_path.end(), dir.begin(), dir.end());
  if (ec || root_end != root_path.end())
    throw ManifestError("PathNotFound", "spec.path: " + path + " leaves the repository");
  if (!fs::exists(dir)) throw ManifestError("PathNotFound", "spec.path: " + path + " does not exist in this revision");
  if (!fs::is_directory(dir)) throw ManifestError("PathNotFound", "spec.path: " + path + " is not a folder");
  std::vector<Manifest> out;
  if (HasKustomization(dir)) return BuildKustomization(dir, rel, options);
  Walk(dir, rel, options, root_path, out);
  return out;
}

}  // namespace sluice::gitops
