#!/usr/bin/env bash
# For a clone outside the Sluice workspace: downloads the official third-party CRDs the tests
# enforce (Gateway API v1.6.1, Istio 1.30.3) into a folder, then point SLUICE_CRD_DIR at it.
#   scripts/fetch-crds.sh ~/sluice-crds && export SLUICE_CRD_DIR=~/sluice-crds
# The tests themselves never download anything.
set -euo pipefail
dest="${1:?usage: fetch-crds.sh DIR}"
mkdir -p "$dest"
gw=https://raw.githubusercontent.com/kubernetes-sigs/gateway-api/v1.6.1/config/crd/standard
for kind in gatewayclasses gateways grpcroutes httproutes referencegrants; do
  curl -fsSL "$gw/gateway.networking.k8s.io_${kind}.yaml" -o "$dest/gateway-api-v1.6.1-${kind}.yaml"
done
istio=https://raw.githubusercontent.com/istio/istio/1.30.3/manifests/charts/base/files/crd-all.gen.yaml
# Istio ships all CRDs in one file; keep the two Sluice routes through, one file each.
curl -fsSL "$istio" | awk -v dest="$dest" '
  /^---/ { if (doc != "") flush(); doc = ""; next }
  { doc = doc $0 "\n" }
  END { if (doc != "") flush() }
  function flush(   m) {
    if (match(doc, /name: (virtualservices|destinationrules)\.networking\.istio\.io/)) {
      m = substr(doc, RSTART + 6, RLENGTH - 6); sub(/\..*/, "", m)
      printf "%s", doc > (dest "/istio-1.30.3-" m ".yaml")
    }
  }'

echo "CRDs in $dest; export SLUICE_CRD_DIR=$dest"
