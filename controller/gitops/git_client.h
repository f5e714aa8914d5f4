// The Git side of a GitRepository, over libgit2 1.5: list a remote's refs, fetch what a ref
// selects into a bare cache repository over the same connection, and export one commit's
// tree to a directory. Every call blocks (run them on a worker pool, never on the event
// loop) and every call that touches the network ends by its deadline: libgit2 1.5 has no
// timeout options, so our own socket stream connects with a deadline and a watchdog shuts
// the operation's sockets down when it passes (which also ends libssh2's blocking reads).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/git_repository.h"
#include "controller/gitops/ignore.h"

namespace sluice::gitops {

enum class GitErrorKind {
  kAuthentication,  // credentials refused or missing, host key or certificate not trusted
  kInvalidUrl,      // a URL libgit2 cannot use (unsupported scheme, malformed)
  kRefNotFound,     // the branch, tag, semver range or commit selects nothing
  kTimeout,         // the operation's deadline passed
  kOperation,       // anything else (network down, repository missing, corrupt data)
};

const char* ToString(GitErrorKind kind);

class GitError : public std::runtime_error {
 public:
  GitError(GitErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  GitErrorKind kind() const { return kind_; }

 private:
  GitErrorKind kind_;
};

// From the Secret of spec.secretRef.
struct GitCredentials {
  std::string username;
  std::string password;      // https basic auth (a token goes here too)
  std::string bearer_token;  // https: Authorization: Bearer
  std::string identity;      // ssh private key (PEM / OpenSSH format)
  std::string identity_password;
  std::string known_hosts;  // ssh: the host keys to trust; required for ssh
  bool Empty() const { return username.empty() && password.empty() && bearer_token.empty() && identity.empty(); }
};

struct RemoteRef {
  std::string name;  // "refs/heads/main", "refs/tags/v1.0.0"
  std::string oid;   // for an annotated tag: the commit it points to (peeled)
};

// spec.ref. Precedence as in Flux: commit > name > semver > tag > branch; none = default branch.
using RefSelector = api::GitReference;  // spec.ref of a GitRepository

struct ResolvedRef {
  std::string commit;    // 40 hex
  std::string revision;  // "main@sha1:<hex>", "v1.2.0@sha1:<hex>", "sha1:<hex>"
  std::vector<std::string> refspecs;  // what to fetch to get the commit
};

// Picks the commit `ref` selects from the remote's refs; no ref selects `default_branch`
// (the remote's HEAD, "refs/heads/main"). An exact commit not at any tip still resolves (its
// refspecs fetch the branch, or every branch). Throws GitError kRefNotFound, or
// std::invalid_argument for a semver range that does not parse.
ResolvedRef ResolveRef(const RefSelector& ref, const std::vector<RemoteRef>& refs, const std::string& default_branch);
// The same with main (else master) as the default branch.
ResolvedRef ResolveRef(const RefSelector& ref, const std::vector<RemoteRef>& refs);

struct PollResult {
  std::vector<RemoteRef> refs;
  std::optional<ResolvedRef> resolved;
  bool fetched = false;
  size_t received_bytes = 0;
  size_t received_objects = 0;
};

// Whether `known_hosts` (OpenSSH format, plain or hashed host names) lists `key_blob` (the
// raw SSH public key) for host:port.
bool KnownHostsAccepts(const std::string& known_hosts, const std::string& host, int port, const std::string& key_blob);

class GitClient {
 public:
  GitClient();

  // Connects to `url`, lists its refs, resolves `ref`, and fetches over the same connection
  // only when the bare repository at `repo_dir` (created when missing) lacks the commit:
  // a poll that finds nothing new transfers no pack.
  PollResult Poll(const std::string& repo_dir, const std::string& url, const RefSelector& ref,
                  const GitCredentials& credentials, std::chrono::milliseconds timeout) const;

  // Lists the remote's refs (no repository needed).
  std::vector<RemoteRef> ListRemote(const std::string& url, const GitCredentials& credentials,
                                    std::chrono::milliseconds timeout) const;

  // Writes the tree of `commit` into `dest` (which must not exist; written beside it and
  // renamed into place, so a reader never sees half a tree). Rules from a root
  // `.sourceignore` apply after `rules`. Returns the number of files written.
  size_t Export(const std::string& repo_dir, const std::string& commit, const std::string& dest,
                IgnoreRules rules) const;
};

}  // namespace sluice::gitops
