#!/usr/bin/env bash
# Proves the layer check fails where it must: a tree with one include of each kind of
# violation must be refused, every violation named with its file, line and rule; a clean
# tree must pass.
set -euo pipefail
checker="$1/scripts/check_includes.py"
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree"/{core,routing,controller/canary,controller/gitops,analysis,kube}
printf '#include "core/clock.h"\n' >"$tree/routing/fine.cc"
python3 "$checker" "$tree" >/dev/null || { echo "a clean tree was refused"; exit 1; }

printf '// up\n#include "kube/client.h"\n' >"$tree/routing/up.cc"
printf '#include <boost/asio/awaitable.hpp>\n' >"$tree/core/io.h"
printf '#include "controller/gitops/applier.h"\n' >"$tree/controller/canary/sideways.cc"
printf '#include "sandbox/emulator/emulator.h"\n' >"$tree/analysis/sandbox.cc"
printf '#include "controller/canary/facts.h"\n' >"$tree/kube/upward.h"
if out=$(python3 "$checker" "$tree"); then echo "violations passed the check"; exit 1; fi
for want in 'routing/up.cc:2: #include "kube/client.h": routing/ may include only api, core' \
            'core/io.h:1: #include <boost/asio/awaitable.hpp>: core/ stays free of network and Asio headers' \
            'controller/canary/sideways.cc:1: #include "controller/gitops/applier.h": controller/canary/ may include only' \
            'analysis/sandbox.cc:1: #include "sandbox/emulator/emulator.h": analysis/ may include only api, core, kube, net (only cmd/ and tests include sandbox/)' \
            'kube/upward.h:1: #include "controller/canary/facts.h": kube/ may include only core, net' \
            '5 include(s) cross the layer direction'; do
  grep -qF "$want" <<<"$out" || { echo "missing from the report: $want"; echo "$out"; exit 1; }
done
echo "the check refused all 5 violations, each with its file, line and rule"
