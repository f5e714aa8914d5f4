#!/usr/bin/env bash
# Sluice's main job on one machine: install, build, then run the sandbox. Until the full
# sandbox lands, this serves the Kubernetes API emulator on localhost, with the Gateway API
# and Istio CRDs loaded, and tells you how to point kubectl at it. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
kubeconfig="${SLUICE_KUBECONFIG:-$PWD/build/sandbox.kubeconfig}"
crd_dir="${SLUICE_CRD_DIR:-$PWD/../shared/fixtures/crds}"
args=(--listen 127.0.0.1:0 --kubeconfig "$kubeconfig")
if [ -d "$crd_dir" ]; then
  args+=(--crds "$crd_dir")
else
  echo "note: no third-party CRDs at $crd_dir (see docs/testing.md); serving without them" >&2
fi
exec build/sluice emulator "${args[@]}" "$@"
