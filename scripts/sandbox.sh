#!/usr/bin/env bash
# Sluice's whole job on one machine: installs what it needs (Debian packages, Prometheus
# included), builds the sluice binary, then runs `sluice sandbox`: the API emulator, a local
# Git repository the GitOps sync follows, Prometheus, a traffic simulator and the
# controller, all on loopback, showing a canary promotion and then a rollback live.
# Arguments go to `sluice sandbox` (default here: --keep, so it stays up to explore;
# e.g. `scripts/sandbox.sh --scenario abort`). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh   # Prometheus included
# The third-party CRDs (Gateway API, Istio): the workspace copy, else downloaded once.
crd_dir="${SLUICE_CRD_DIR:-$PWD/../shared/fixtures/crds}"
if [ ! -d "$crd_dir" ]; then
  crd_dir="$HOME/.cache/sluice/crds"
  [ -f "$crd_dir/gateway-api-v1.6.1-httproutes.yaml" ] || scripts/fetch-crds.sh "$crd_dir" >/dev/null
fi
export SLUICE_CRD_DIR="$crd_dir"
# Only the binary: the test suite is scripts/test.sh's job.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)" --target sluice
if [ "$#" -eq 0 ]; then set -- --keep; fi
exec build/sluice sandbox "$@"
