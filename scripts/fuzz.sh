#!/usr/bin/env bash
# Fuzzes every parser that reads input from outside (tests/fuzz/, one libFuzzer binary per
# target) under ASan and UBSan. Opt-in: neither scripts/test.sh nor ctest runs it.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default 600 s, every target
#
# Configures build-fuzz/ with clang (CC=clang CXX=clang++, -DSLUICE_FUZZ=ON), builds the
# targets, and runs them one after another, each seeded from the project's own test data
# (examples/, crds/, tests/e2e/testdata, deploy/, the third-party CRD fixtures when present,
# and tests/fuzz/seeds/<target>/). What each run adds stays in build-fuzz/fuzz/corpus/<target>
# for the next run; a crash, leak, UB report or slow input is saved under
# build-fuzz/fuzz/crashes/<target>/ and the libFuzzer log under build-fuzz/fuzz/logs/.
# Prints per target: seconds, executions, exec/s, cov and ft (libFuzzer's final stats line),
# and the finding. Exits 1 when any target found something.
#
# Environment: FUZZ_MAX_LEN (largest input, default 65536), FUZZ_TIMEOUT (seconds one input
# may take before it counts as a finding, default 25), FUZZ_JOBS (build parallelism, default
# nproc). Run it under `nice` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-600}
shift || true
build=build-fuzz
max_len=${FUZZ_MAX_LEN:-65536}
timeout=${FUZZ_TIMEOUT:-25}

CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_FUZZ=ON \
  -DSLUICE_TESTS=OFF -DSLUICE_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target sluice_fuzzers -j "${FUZZ_JOBS:-$(nproc)}"

out=$root/$build/fuzz
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for bin in "$out"/fuzz_*; do targets+=("$(basename "$bin" | sed 's/^fuzz_//')"); done
fi

# The project's YAML: the sample app, the CRDs, the install manifests, the test data, and the
# Gateway API / Istio / other CRD fixtures when they are there (docs/testing.md).
crd_fixtures=${SLUICE_CRD_DIR:-$root/../shared/fixtures/crds}
mapfile -t yaml_files < <(find examples crds deploy tests/e2e/testdata -name '*.yaml' -o -name '*.yml' | sort)
if [ -d "$crd_fixtures" ]; then
  mapfile -t -O "${#yaml_files[@]}" yaml_files < <(find "$crd_fixtures" -name '*.yaml' | sort)
fi

# Fills $2 with the seeds of target $1.
seed() {
  local target=$1 dir=$2 tool=$out/sluice_fuzz_seeds
  rm -rf "$dir"
  mkdir -p "$dir"
  if [ -d "tests/fuzz/seeds/$target" ]; then cp "tests/fuzz/seeds/$target"/* "$dir"/; fi
  case $target in
    http_server) cp tests/fuzz/seeds/http_request/* "$dir"/ ;;
    yaml_json) "$tool" yaml "$dir" "${yaml_files[@]}" && "$tool" json "$dir" "${yaml_files[@]}" ;;
    manifests | substitute) "$tool" yaml "$dir" "${yaml_files[@]}" ;;
    canary_spec) "$tool" json "$dir" --kind Canary "${yaml_files[@]}" ;;
    api_specs)
      "$tool" json "$dir" --kind Canary --kind GitRepository --kind Kustomization --kind Receiver \
        --kind AlertProvider --kind MetricTemplate "${yaml_files[@]}" ;;
    duration) "$tool" strings "$dir" --key interval --key timeout --key retryInterval "${yaml_files[@]}" ;;
    semver) "$tool" strings "$dir" --key semver "${yaml_files[@]}" ;;
    sourceignore) "$tool" strings "$dir" --key ignore "${yaml_files[@]}" ;;
    query_template) "$tool" strings "$dir" --key query "${yaml_files[@]}" ;;
    jsonpath) "$tool" strings "$dir" --key jsonPath "${yaml_files[@]}" ;;
    patch) "$tool" pairs "$dir" "${yaml_files[@]}" ;;
    schema) "$tool" schemas "$dir" "${yaml_files[@]}" ;;
  esac >/dev/null
}

# A number from libFuzzer's last stats line ("#N DONE cov: C ft: F ... exec/s: E ..."), by name.
stat() { grep -aE '^#[0-9]+' "$1" | tail -1 | grep -oE "$2: [0-9]+" | grep -oE '[0-9]+' || echo '-'; }

printf '%-16s %8s %12s %8s %7s %7s  %s\n' target seconds executions exec/s cov ft finding
failed=0
for target in "${targets[@]}"; do
  bin=$out/fuzz_$target
  [ -x "$bin" ] || { echo "no fuzz target $target (build-fuzz/fuzz/fuzz_*)" >&2; exit 2; }
  corpus=$out/corpus/$target seeds=$out/seeds/$target crashes=$out/crashes/$target/ log=$out/logs/$target.log
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  seed "$target" "$seeds"
  before=$(find "$crashes" -type f | wc -l)
  start=$(date +%s)
  status=0
  # -timeout: an input slower than this is a finding (a repository or request can hold it).
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout="$timeout" -print_final_stats=1 \
    -artifact_prefix="$crashes" "$corpus" "$seeds" >"$log" 2>&1 || status=$?
  took=$(($(date +%s) - start))
  runs=$(grep -aoE '^Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' || true)
  [ -n "$runs" ] || runs=$(grep -aoE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || echo 0)
  finding=none
  if [ "$status" -ne 0 ] || [ "$(find "$crashes" -type f | wc -l)" -gt "$before" ]; then
    failed=1
    artifact=$(grep -aoE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    kind=$(grep -aoE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-z-]+|runtime error: .*|fuzz check failed: .*|terminate called .*' \
      "$log" | head -1 || true)
    finding="FOUND (exit $status): ${kind:-see $log} ${artifact:+-> $artifact}"
  fi
  printf '%-16s %8s %12s %8s %7s %7s  %s\n' "$target" "$took" "$runs" "$(stat "$log" exec/s)" \
    "$(stat "$log" cov)" "$(stat "$log" ft)" "$finding"
done
exit $failed
