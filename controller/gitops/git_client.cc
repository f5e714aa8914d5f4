#include "controller/gitops/git_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "controller/gitops/semver.h"
#include "core/base64.h"

namespace sluice::gitops {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* ToString(GitErrorKind kind) {
  switch (kind) {
    case GitErrorKind::kAuthentication: return "AuthenticationFailed";
    case GitErrorKind::kInvalidUrl: return "InvalidURL";
    case GitErrorKind::kRefNotFound: return "RefNotFound";
    case GitErrorKind::kTimeout: return "Timeout";
    case GitErrorKind::kOperation: return "GitOperationFailed";
  }
  return "GitOperationFailed";
}

namespace {

// --- deadlines ---------------------------------------------------------------------------

// One libgit2 call sequence with a deadline. The sockets it opens are registered here so the
// watchdog can shut them down when the deadline passes: a blocked recv() then returns at
// once, whichever layer (ours, OpenSSL's or libssh2's) is waiting in it.
struct Operation {
  Clock::time_point deadline;
  std::mutex mu;
  std::set<int> fds;
  std::atomic<bool> expired{false};

  void Expire() {
    std::lock_guard lock(mu);
    expired = true;
    for (int fd : fds) shutdown(fd, SHUT_RDWR);
  }
  bool Register(int fd) {
    std::lock_guard lock(mu);
    if (expired) return false;
    fds.insert(fd);
    return true;
  }
  void Unregister(int fd) {
    std::lock_guard lock(mu);
    fds.erase(fd);
  }
  std::chrono::milliseconds Remaining() const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
};

class Watchdog {
 public:
  static Watchdog& Instance() {
    // Never destroyed: worker threads may still finish an operation during exit.
    static Watchdog* w = new Watchdog();
    return *w;
  }
  void Add(Operation* op) {
    std::lock_guard lock(mu_);
    ops_.insert(op);
    cv_.notify_all();
  }
  void Remove(Operation* op) {
    std::lock_guard lock(mu_);
    ops_.erase(op);
  }

 private:
  Watchdog() { std::thread([this] { Loop(); }).detach(); }
  void Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
      auto next = Clock::time_point::max();
      auto now = Clock::now();
      for (Operation* op : ops_) {
        if (op->expired) continue;
        if (op->deadline <= now)
          op->Expire();
        else
          next = std::min(next, op->deadline);
      }
      if (next == Clock::time_point::max())
        cv_.wait(lock);
      else
        cv_.wait_until(lock, next);
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::set<Operation*> ops_;
};

thread_local Operation* t_operation = nullptr;

class OperationScope {
 public:
  explicit OperationScope(std::chrono::milliseconds timeout) {
    op_.deadline = Clock::now() + timeout;
    Watchdog::Instance().Add(&op_);
    t_operation = &op_;
  }
  ~OperationScope() {
    t_operation = nullptr;
    Watchdog::Instance().Remove(&op_);
  }
  Operation& op() { return op_; }

 private:
  Operation op_;
};

// --- a socket stream with deadlines ------------------------------------------------------

// The field layout of libgit2's own socket stream: its SSH transport reads the descriptor
// `s` through that layout, so ours must match it.
struct TimedStream {
  git_stream parent;
  char* host;
  char* port;
  int s;
  Operation* op;
};

int StreamFail(const std::string& message) {
  git_error_set_str(GIT_ERROR_NET, message.c_str());
  return -1;
}

bool WaitWritable(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLOUT, 0};
  int rc;
  do rc = poll(&p, 1, static_cast<int>(wait.count()));
  while (rc < 0 && errno == EINTR);
  return rc == 1;
}

int StreamConnect(git_stream* stream) {
  auto* st = reinterpret_cast<TimedStream*>(stream);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  if (int rc = getaddrinfo(st->host, st->port, &hints, &addrs); rc != 0)
    return StreamFail(std::string("cannot resolve ") + st->host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(addrs, freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* a = addrs; a; a = a->ai_next) {
    int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (st->op && !st->op->Register(fd)) {
      close(fd);
      return StreamFail("timed out before connecting");
    }
    int flags = fcntl(fd, F_GETFL, 0);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    bool ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!ok && errno == EINPROGRESS) {
      auto wait = st->op ? st->op->Remaining() : std::chrono::milliseconds(60000);
      int err = 0;
      socklen_t len = sizeof err;
      ok = WaitWritable(fd, wait) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
      if (!ok) last_error = err ? std::strerror(err) : "connect timed out";
    } else if (!ok) {
      last_error = std::strerror(errno);
    }
    if (ok) {
      fcntl(fd, F_SETFL, flags);
      st->s = fd;
      return 0;
    }
    if (st->op) st->op->Unregister(fd);
    close(fd);
  }
  return StreamFail(std::string("cannot connect to ") + st->host + ":" + st->port + ": " + last_error);
}

ssize_t StreamRead(git_stream* stream, void* data, size_t len) {
  auto* st = reinterpret_cast<TimedStream*>(stream);
  ssize_t n;
  do n = recv(st->s, data, len, 0);
  while (n < 0 && errno == EINTR);
  if (st->op && st->op->expired) return StreamFail("timed out");
  if (n < 0) return StreamFail(std::string("read: ") + std::strerror(errno));
  return n;
}

ssize_t StreamWrite(git_stream* stream, const char* data, size_t len, int) {
  auto* st = reinterpret_cast<TimedStream*>(stream);
  ssize_t n;
  do n = send(st->s, data, len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (st->op && st->op->expired) return StreamFail("timed out");
  if (n < 0) return StreamFail(std::string("write: ") + std::strerror(errno));
  return n;
}

int StreamClose(git_stream* stream) {
  auto* st = reinterpret_cast<TimedStream*>(stream);
  if (st->s >= 0) {
    if (st->op) st->op->Unregister(st->s);
    close(st->s);
    st->s = -1;
  }
  return 0;
}

void StreamFree(git_stream* stream) {
  auto* st = reinterpret_cast<TimedStream*>(stream);
  StreamClose(stream);
  free(st->host);
  free(st->port);
  delete st;
}

int StreamInit(git_stream** out, const char* host, const char* port) {
  auto* st = new TimedStream{};
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.connect = StreamConnect;
  st->parent.read = StreamRead;
  st->parent.write = StreamWrite;
  st->parent.close = StreamClose;
  st->parent.free = StreamFree;
  st->host = strdup(host);
  st->port = strdup(port);
  st->s = -1;
  st->op = t_operation;
  *out = &st->parent;
  return 0;
}

void InitLibgit2() {
  static std::once_flag once;
  std::call_once(once, [] {
    git_libgit2_init();
    git_libgit2_opts(GIT_OPT_SET_USER_AGENT, "sluice");
    static git_stream_registration registration{GIT_STREAM_VERSION, StreamInit, nullptr};
    git_stream_register(GIT_STREAM_STANDARD, &registration);
  });
}

// --- RAII and errors ---------------------------------------------------------------------

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
using RepoPtr = std::unique_ptr<git_repository, Deleter<git_repository, git_repository_free>>;
using RemotePtr = std::unique_ptr<git_remote, Deleter<git_remote, git_remote_free>>;
using TreePtr = std::unique_ptr<git_tree, Deleter<git_tree, git_tree_free>>;
using CommitPtr = std::unique_ptr<git_commit, Deleter<git_commit, git_commit_free>>;
using BlobPtr = std::unique_ptr<git_blob, Deleter<git_blob, git_blob_free>>;

struct CallbackState {
  const GitCredentials* credentials = nullptr;
  Operation* op = nullptr;
  int port = 0;
  int credential_calls = 0;
  std::string auth_error;
  std::string cert_error;
};

bool Contains(const std::string& haystack, const char* needle) {
  std::string lower = haystack;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find(needle) != std::string::npos;
}

[[noreturn]] void Throw(int rc, const CallbackState& state, const std::string& doing) {
  const git_error* e = git_error_last();
  std::string message = e && e->message ? e->message : "libgit2 error " + std::to_string(rc);
  if (state.op && state.op->expired)
    throw GitError(GitErrorKind::kTimeout, doing + ": timed out (spec.timeout) (" + message + ")");
  if (!state.auth_error.empty()) throw GitError(GitErrorKind::kAuthentication, doing + ": " + state.auth_error);
  if (!state.cert_error.empty()) throw GitError(GitErrorKind::kAuthentication, doing + ": " + state.cert_error);
  if (rc == GIT_EAUTH || rc == GIT_ECERTIFICATE || Contains(message, "authentication") || Contains(message, "401") ||
      Contains(message, "unauthorized") || Contains(message, "certificate"))
    throw GitError(GitErrorKind::kAuthentication, doing + ": " + message);
  if (Contains(message, "unsupported url") || Contains(message, "malformed url") || Contains(message, "invalid url") ||
      Contains(message, "unknown scheme") ||
      Contains(message, "unsupported protocol"))
    throw GitError(GitErrorKind::kInvalidUrl, doing + ": " + message);
  throw GitError(GitErrorKind::kOperation, doing + ": " + message);
}

int Credentials(git_credential** out, const char*, const char* username_from_url, unsigned int allowed, void* payload) {
  auto* state = static_cast<CallbackState*>(payload);
  const GitCredentials& c = *state->credentials;
  // libgit2 asks again after each rejection: answering twice would loop until the deadline.
  if (++state->credential_calls > 1) {
    state->auth_error = "the server refused the credentials from spec.secretRef";
    git_error_set_str(GIT_ERROR_NET, state->auth_error.c_str());
    return GIT_EAUTH;
  }
  std::string user = !c.username.empty() ? c.username : (username_from_url ? username_from_url : "git");
  if ((allowed & (GIT_CREDENTIAL_SSH_MEMORY | GIT_CREDENTIAL_SSH_KEY)) && !c.identity.empty()) {
    int rc = git_credential_ssh_key_memory_new(out, user.c_str(), nullptr, c.identity.c_str(),
                                               c.identity_password.empty() ? nullptr : c.identity_password.c_str());
    if (rc != 0) state->auth_error = "the ssh identity in spec.secretRef cannot be used (not a private key?)";
    return rc;
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && !c.password.empty())
    return git_credential_userpass_plaintext_new(out, user.c_str(), c.password.c_str());
  if (allowed & GIT_CREDENTIAL_USERNAME) return git_credential_username_new(out, user.c_str());
  state->auth_error = (allowed & (GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY))
                          ? "the server asks for an ssh key and spec.secretRef gives no 'identity'"
                          : "the server asks for credentials and spec.secretRef gives no 'username'/'password'";
  git_error_set_str(GIT_ERROR_NET, state->auth_error.c_str());
  return GIT_EAUTH;
}

int CertificateCheck(git_cert* cert, int valid, const char* host, void* payload) {
  auto* state = static_cast<CallbackState*>(payload);
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) return valid ? 0 : GIT_PASSTHROUGH;
  const auto* key = reinterpret_cast<const git_cert_hostkey*>(cert);
  const GitCredentials& c = *state->credentials;
  if (c.known_hosts.empty()) {
    state->cert_error = "ssh needs 'known_hosts' in spec.secretRef to trust " + std::string(host);
  } else if (!(key->type & GIT_CERT_SSH_RAW)) {
    state->cert_error = "the ssh host key of " + std::string(host) + " cannot be read";
  } else if (!KnownHostsAccepts(c.known_hosts, host, state->port,
                                std::string(key->hostkey, key->hostkey_len))) {
    state->cert_error = "the ssh host key of " + std::string(host) + " is not in known_hosts";
  }
  if (state->cert_error.empty()) return 0;
  git_error_set_str(GIT_ERROR_SSH, state->cert_error.c_str());
  return GIT_ECERTIFICATE;
}

int TransferProgress(const git_indexer_progress*, void* payload) {
  auto* state = static_cast<CallbackState*>(payload);
  return state->op && state->op->expired ? -1 : 0;
}

int Sideband(const char*, int, void* payload) { return TransferProgress(nullptr, payload); }

git_remote_callbacks Callbacks(CallbackState& state) {
  git_remote_callbacks cb;
  git_remote_init_callbacks(&cb, GIT_REMOTE_CALLBACKS_VERSION);
  cb.credentials = Credentials;
  cb.certificate_check = CertificateCheck;
  cb.transfer_progress = TransferProgress;
  cb.sideband_progress = Sideband;
  cb.payload = &state;
  return cb;
}

// Custom headers for bearer tokens (libgit2 1.5 has no bearer credential type).
struct Headers {
  explicit Headers(const GitCredentials& c) {
    if (!c.bearer_token.empty()) values.push_back("Authorization: Bearer " + c.bearer_token);
    for (auto& v : values) pointers.push_back(v.data());
    array.strings = pointers.data();
    array.count = pointers.size();
  }
  std::vector<std::string> values;
  std::vector<char*> pointers;
  git_strarray array{};
};

int UrlPort(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return 22;  // scp-like user@host:path
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find('/'));
  rest = rest.substr(rest.find('@') == std::string::npos ? 0 : rest.find('@') + 1);
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && rest.find(']') == std::string::npos) return std::atoi(rest.c_str() + colon + 1);
  std::string s = url.substr(0, scheme);
  return s == "https" ? 443 : s == "http" ? 80 : s == "git" ? 9418 : 22;
}

std::string OidHex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof buf, &oid);
  return buf;
}

bool HasCommit(git_repository* repo, const std::string& hex) {
  git_oid oid;
  if (git_oid_fromstrn(&oid, hex.c_str(), hex.size()) != 0) return false;
  git_commit* c = nullptr;
  if (git_commit_lookup(&c, repo, &oid) != 0) return false;
  git_commit_free(c);
  return true;
}

RepoPtr OpenOrInit(const std::string& dir) {
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, dir.c_str()) == 0) return RepoPtr(repo);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (int rc = git_repository_init(&repo, dir.c_str(), /*is_bare=*/1); rc != 0) {
    const git_error* e = git_error_last();
    throw GitError(GitErrorKind::kOperation, "cannot create the cache repository " + dir + ": " + (e ? e->message : "?"));
  }
  return RepoPtr(repo);
}

std::vector<RemoteRef> ListHeads(git_remote* remote, const CallbackState& state) {
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  if (int rc = git_remote_ls(&heads, &count, remote); rc != 0) Throw(rc, state, "listing remote refs");
  std::vector<RemoteRef> refs;
  refs.reserve(count);
  for (size_t i = 0; i < count; ++i) refs.push_back({heads[i]->name, OidHex(heads[i]->oid)});
  return refs;
}

std::string DefaultBranch(git_remote* remote) {
  git_buf buf = GIT_BUF_INIT;
  std::string out;
  if (git_remote_default_branch(&buf, remote) == 0 && buf.ptr) out = buf.ptr;
  git_buf_dispose(&buf);
  return out;
}

bool IsHex40(const std::string& s) {
  return s.size() == 40 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

// --- export ------------------------------------------------------------------------------

bool EscapesRoot(const std::string& rel_dir, const std::string& target) {
  if (target.empty() || target[0] == '/') return true;
  fs::path p = (fs::path(rel_dir) / target).lexically_normal();
  return p.empty() || *p.begin() == "..";
}

void WriteTree(git_repository* repo, const git_tree* tree, const std::string& rel, const fs::path& out,
               const IgnoreRules& rules, size_t& files) {
  for (size_t i = 0; i < git_tree_entrycount(tree); ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    std::string name = git_tree_entry_name(e);
    std::string path = rel.empty() ? name : rel + "/" + name;
    git_filemode_t mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_COMMIT) continue;  // submodules are not fetched
    bool is_dir = mode == GIT_FILEMODE_TREE;
    if (rules.Ignored(path, is_dir)) continue;
    if (is_dir) {
      git_tree* sub = nullptr;
      if (git_tree_lookup(&sub, repo, git_tree_entry_id(e)) != 0)
        throw GitError(GitErrorKind::kOperation, "cannot read directory " + path);
      TreePtr guard(sub);
      fs::create_directories(out / path);
      WriteTree(repo, sub, path, out, rules, files);
      continue;
    }
    git_blob* blob = nullptr;
    if (git_blob_lookup(&blob, repo, git_tree_entry_id(e)) != 0)
      throw GitError(GitErrorKind::kOperation, "cannot read file " + path);
    BlobPtr guard(blob);
    std::string content(static_cast<const char*>(git_blob_rawcontent(blob)), git_blob_rawsize(blob));
    if (mode == GIT_FILEMODE_LINK) {
      // A link out of the tree would let a commit make the syncer read host files.
      if (EscapesRoot(rel, content)) continue;
      std::error_code ec;
      fs::create_symlink(content, out / path, ec);
      continue;
    }
    std::ofstream f(out / path, std::ios::binary);
    f.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!f) throw GitError(GitErrorKind::kOperation, "cannot write " + (out / path).string());
    f.close();
    if (mode == GIT_FILEMODE_BLOB_EXECUTABLE)
      fs::permissions(out / path, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                      fs::perm_options::add);
    files++;
  }
}

std::string Sha1Base64Host(const std::string& salt, const std::string& host) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()), reinterpret_cast<const unsigned char*>(host.data()),
       host.size(), mac, &len);
  return core::Base64Encode(std::string(reinterpret_cast<char*>(mac), len));
}

bool HostMatches(const std::string& field, const std::string& host_entry) {
  if (field.rfind("|1|", 0) == 0) {  // hashed: |1|base64(salt)|base64(hmac-sha1(salt, host))
    auto bar = field.find('|', 3);
    if (bar == std::string::npos) return false;
    auto salt = core::Base64Decode(field.substr(3, bar - 3));
    return salt && Sha1Base64Host(*salt, host_entry) == field.substr(bar + 1);
  }
  std::stringstream names(field);
  std::string name;
  while (std::getline(names, name, ','))
    if (name == host_entry) return true;
  return false;
}

}  // namespace

bool KnownHostsAccepts(const std::string& known_hosts, const std::string& host, int port, const std::string& key_blob) {
  std::string entry = port == 22 || port == 0 ? host : "[" + host + "]:" + std::to_string(port);
  std::stringstream lines(known_hosts);
  std::string line;
  while (std::getline(lines, line)) {
    std::stringstream fields(line);
    std::string hosts, type, key;
    if (!(fields >> hosts >> type >> key) || hosts[0] == '#' || hosts[0] == '@') continue;
    if (!HostMatches(hosts, entry)) continue;
    auto blob = core::Base64Decode(key);
    if (blob && *blob == key_blob) return true;
  }
  return false;
}

ResolvedRef ResolveRef(const RefSelector& ref, const std::vector<RemoteRef>& refs, const std::string& default_branch) {
  std::map<std::string, std::string> by_name;
  for (const auto& r : refs) {
    if (r.name.size() > 3 && r.name.ends_with("^{}"))
      by_name[r.name.substr(0, r.name.size() - 3)] = r.oid;  // the peeled commit wins
    else
      by_name.emplace(r.name, r.oid);
  }
  auto lookup = [&](const std::string& full, const std::string& what) {
    auto it = by_name.find(full);
    if (it == by_name.end()) throw GitError(GitErrorKind::kRefNotFound, what + " not found in the remote");
    return it->second;
  };
  ResolvedRef out;
  if (!ref.commit.empty()) {
    if (!IsHex40(ref.commit))
      throw GitError(GitErrorKind::kRefNotFound, "spec.ref.commit '" + ref.commit + "' is not a full 40-hex commit hash");
    out.commit = ref.commit;
    std::transform(out.commit.begin(), out.commit.end(), out.commit.begin(), ::tolower);
    out.revision = (ref.branch.empty() ? "" : ref.branch + "@") + "sha1:" + out.commit;
    out.refspecs = {ref.branch.empty() ? "+refs/heads/*:refs/heads/*" : "+refs/heads/" + ref.branch + ":refs/heads/" + ref.branch};
    return out;
  }
  std::string full, label;
  if (!ref.name.empty()) {
    full = ref.name;
    label = ref.name;
  } else if (!ref.semver.empty()) {
    SemverRange range = SemverRange::Parse(ref.semver);
    std::vector<std::string> tags;
    for (const auto& [name, oid] : by_name)
      if (name.rfind("refs/tags/", 0) == 0) tags.push_back(name.substr(10));
    auto best = HighestMatchingTag(range, tags);
    if (!best)
      throw GitError(GitErrorKind::kRefNotFound, "no tag matches semver range '" + ref.semver + "' (" +
                                                     std::to_string(tags.size()) + " tags in the remote)");
    full = "refs/tags/" + *best;
    label = *best;
  } else if (!ref.tag.empty()) {
    full = "refs/tags/" + ref.tag;
    label = ref.tag;
  } else {
    std::string branch = ref.branch;
    if (branch.empty()) {
      branch = default_branch.rfind("refs/heads/", 0) == 0 ? default_branch.substr(11) : default_branch;
      if (branch.empty()) throw GitError(GitErrorKind::kRefNotFound, "the remote has no default branch: set spec.ref.branch");
    }
    full = "refs/heads/" + branch;
    label = branch;
  }
  std::string what = !ref.name.empty() ? "ref '" + ref.name + "'"
                     : full.rfind("refs/tags/", 0) == 0 ? "tag '" + label + "'"
                                                         : "branch '" + label + "'";
  out.commit = lookup(full, what);
  out.revision = label + "@sha1:" + out.commit;
  out.refspecs = {"+" + full + ":" + full};
  return out;
}

ResolvedRef ResolveRef(const RefSelector& ref, const std::vector<RemoteRef>& refs) {
  std::string default_branch;
  for (const auto& r : refs)
    if (r.name == "refs/heads/main" || (default_branch.empty() && r.name == "refs/heads/master")) default_branch = r.name;
  return ResolveRef(ref, refs, default_branch);
}

GitClient::GitClient() { InitLibgit2(); }

std::vector<RemoteRef> GitClient::ListRemote(const std::string& url, const GitCredentials& credentials,
                                             std::chrono::milliseconds timeout) const {
  OperationScope scope(timeout);
  CallbackState state{&credentials, &scope.op(), UrlPort(url)};
  git_remote* raw = nullptr;
  if (int rc = git_remote_create_detached(&raw, url.c_str()); rc != 0) Throw(rc, state, "using url " + url);
  RemotePtr remote(raw);
  git_remote_callbacks cb = Callbacks(state);
  Headers headers(credentials);
  if (int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, &headers.array); rc != 0)
    Throw(rc, state, "connecting to " + url);
  auto refs = ListHeads(remote.get(), state);
  git_remote_disconnect(remote.get());
  return refs;
}

PollResult GitClient::Poll(const std::string& repo_dir, const std::string& url, const RefSelector& ref,
                           const GitCredentials& credentials, std::chrono::milliseconds timeout) const {
  OperationScope scope(timeout);
  CallbackState state{&credentials, &scope.op(), UrlPort(url)};
  RepoPtr repo = OpenOrInit(repo_dir);
  git_remote* raw = nullptr;
  if (int rc = git_remote_create_anonymous(&raw, repo.get(), url.c_str()); rc != 0) Throw(rc, state, "using url " + url);
  RemotePtr remote(raw);
  git_remote_callbacks cb = Callbacks(state);
  Headers headers(credentials);
  if (int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &cb, nullptr, &headers.array); rc != 0)
    Throw(rc, state, "connecting to " + url);
  PollResult result;
  result.refs = ListHeads(remote.get(), state);
  result.resolved = ResolveRef(ref, result.refs, DefaultBranch(remote.get()));
  if (!HasCommit(repo.get(), result.resolved->commit)) {
    git_fetch_options fo;
    git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
    fo.callbacks = cb;
    fo.custom_headers = headers.array;
    fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    std::vector<char*> specs;
    for (auto& s : result.resolved->refspecs) specs.push_back(s.data());
    git_strarray refspecs{specs.data(), specs.size()};
    // Same connection as the listing: the download reuses it.
    if (int rc = git_remote_download(remote.get(), &refspecs, &fo); rc != 0) Throw(rc, state, "fetching from " + url);
    if (int rc = git_remote_update_tips(remote.get(), &cb, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, nullptr); rc != 0)
      Throw(rc, state, "updating refs from " + url);
    const git_indexer_progress* stats = git_remote_stats(remote.get());
    result.fetched = true;
    result.received_bytes = stats->received_bytes;
    result.received_objects = stats->received_objects;
    if (!HasCommit(repo.get(), result.resolved->commit))
      throw GitError(GitErrorKind::kRefNotFound, "commit " + result.resolved->commit + " not found in " + url);
  }
  git_remote_disconnect(remote.get());
  return result;
}

size_t GitClient::Export(const std::string& repo_dir, const std::string& commit, const std::string& dest,
                         IgnoreRules rules) const {
  git_repository* raw_repo = nullptr;
  if (git_repository_open_bare(&raw_repo, repo_dir.c_str()) != 0)
    throw GitError(GitErrorKind::kOperation, "cannot open the cache repository " + repo_dir);
  RepoPtr repo(raw_repo);
  git_oid oid;
  git_commit* raw_commit = nullptr;
  if (git_oid_fromstrn(&oid, commit.c_str(), commit.size()) != 0 || git_commit_lookup(&raw_commit, repo.get(), &oid) != 0)
    throw GitError(GitErrorKind::kRefNotFound, "commit " + commit + " is not in the cache repository");
  CommitPtr c(raw_commit);
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, c.get()) != 0) throw GitError(GitErrorKind::kOperation, "cannot read the tree of " + commit);
  TreePtr tree(raw_tree);
  if (const git_tree_entry* e = git_tree_entry_byname(tree.get(), ".sourceignore")) {
    git_blob* blob = nullptr;
    if (git_blob_lookup(&blob, repo.get(), git_tree_entry_id(e)) == 0) {
      BlobPtr guard(blob);
      rules.Add(std::string(static_cast<const char*>(git_blob_rawcontent(blob)), git_blob_rawsize(blob)));
    }
  }
  std::random_device rd;
  fs::path tmp = dest + ".tmp-" + std::to_string(rd());
  fs::create_directories(tmp);
  size_t files = 0;
  try {
    WriteTree(repo.get(), tree.get(), "", tmp, rules, files);
    fs::rename(tmp, dest);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  return files;
}

}  // namespace sluice::gitops
