// The canary e2e cluster harness (tests/e2e) compiled into analysis_tests too, so the live
// Prometheus rollouts here run on the same emulator + controller + kubectl setup.
// Only this file may pull these sources into this binary.
#include "tests/e2e/canary_harness.cc"  // NOLINT(bugprone-suspicious-include)
#include "tests/e2e/kubectl_harness.cc"  // NOLINT(bugprone-suspicious-include)
