#!/usr/bin/env bash
# Configures and builds Sluice into build/. Extra arguments go to cmake (e.g. -DSLUICE_SANITIZE=ON).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_WERROR=ON "$@" >/dev/null
cmake --build build -j "$(nproc)"
