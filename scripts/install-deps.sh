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
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

# The real kubectl is used by the end-to-end tests. A machine image may already have a newer
# one on PATH; otherwise Debian's kubernetes-client (1.20) is the fallback.
if ! command -v kubectl >/dev/null 2>&1; then
  as_root apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null
fi
