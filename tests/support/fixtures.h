// Where tests find the third-party CRDs (Gateway API v1.6.1, Istio 1.30.3): $SLUICE_CRD_DIR,
// else ../shared/fixtures/crds beside the checkout. Users who cloned elsewhere run
// scripts/fetch-crds.sh, which downloads the official release files into that layout.
#pragma once

#include <optional>
#include <string>

namespace sluice::testing {

std::optional<std::string> CrdFixtureDir();
// The path of one fixture file, e.g. "gateway-api-v1.6.1-httproutes.yaml"; nullopt if absent.
std::optional<std::string> CrdFixture(const std::string& file_name);

}  // namespace sluice::testing
