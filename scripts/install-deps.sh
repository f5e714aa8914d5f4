#!/usr/bin/env bash
# Installs everything Sluice needs to build, test and run the sandbox, from Debian 12's
# own packages only. Safe to run again: apt-get skips what is already there.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache pkg-config git ca-certificates
  libboost1.81-dev libssl-dev nlohmann-json3-dev libyaml-cpp-dev libgit2-dev
  prometheus-cpp-dev libspdlog-dev libcli11-dev catch2 libbenchmark-dev
  # Real parts the tests and the sandbox start: Prometheus (with promtool), curl for the
  # webhook gates, sshd and ssh-keygen for Git over ssh.
  prometheus curl openssh-server openssh-client
  # A second real client of the API emulator: Debian's official Python client.
  python3 python3-kubernetes
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# The real kubectl is used by the end-to-end tests. A machine image may already have a newer
# one on PATH; otherwise Debian's kubernetes-client (1.20) is the fallback. The suite is known
# to pass with both, and where a newer one is on PATH, Debian's is unpacked beside it (not
# installed over it) so the kubectl version test runs both (tests/e2e/kubectl_test.cc).
if ! command -v kubectl >/dev/null 2>&1; then
  as_root apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
elif ! dpkg -s kubernetes-client >/dev/null 2>&1; then
  debian_kubectl=${HOME:-/root}/.cache/sluice/kubectl-debian
  if [ ! -x "$debian_kubectl/usr/bin/kubectl" ]; then
    work=$(mktemp -d)
    (cd "$work" && apt-get download -qq kubernetes-client 2>/dev/null) &&
      mkdir -p "$debian_kubectl" && dpkg-deb -x "$work"/kubernetes-client_*.deb "$debian_kubectl"
    rm -rf "$work"
  fi
fi
