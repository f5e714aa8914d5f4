#!/usr/bin/env bash
# Sluice's main job on one machine: install, build, then run the sandbox. Until the full
# sandbox lands, this serves the Kubernetes API emulator on localhost and tells you how to
# point kubectl at it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
kubeconfig="${SLUICE_KUBECONFIG:-$PWD/build/sandbox.kubeconfig}"
exec build/sluice emulator --listen 127.0.0.1:0 --kubeconfig "$kubeconfig" \
  --crds "${SLUICE_CRD_DIR:-$PWD/../shared/fixtures/crds}" "$@"
