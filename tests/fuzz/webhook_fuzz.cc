// What a webhook request to a Receiver brings for each receiver type (github, gitlab,
// generic-hmac): a signature or token header and a body, checked by
// controller/gitops/receiver.h. The first line is the header's value, the rest the body.
#include <cctype>
#include <string>

#include "controller/gitops/receiver.h"
#include "tests/fuzz/fuzz_support.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string kToken = "s3cr3t-token";
  auto [header_view, body_view] = fuzz::SplitOnce(fuzz::Text(data, size), '\n');
  const std::string header(header_view), body(body_view);
  const std::string good = "sha256=" + gitops::HmacSha256Hex(kToken, body);

  // github (X-Hub-Signature-256) and generic-hmac (X-Signature): only the body's HMAC under
  // the token passes, in either case of hex.
  std::string lowered = header;
  for (size_t i = 7; i < lowered.size(); ++i)
    lowered[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(lowered[i])));
  SLUICE_FUZZ_CHECK(gitops::VerifySha256Signature(kToken, body, header) == (lowered == good));
  SLUICE_FUZZ_CHECK(gitops::VerifySha256Signature(kToken, body, good));
  std::string upper = good;
  for (size_t i = 7; i < upper.size(); ++i) upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  SLUICE_FUZZ_CHECK(gitops::VerifySha256Signature(kToken, body, upper));
  // No token, no request passes, whatever the header says.
  SLUICE_FUZZ_CHECK(!gitops::VerifySha256Signature("", body, header));
  // gitlab (X-Gitlab-Token): the token itself, compared in constant time.
  SLUICE_FUZZ_CHECK(gitops::SafeEqual(header, kToken) == (header == kToken));
  // The endpoint path is derived from the token and the Receiver's name and namespace.
  SLUICE_FUZZ_CHECK(gitops::WebhookPath(kToken, header, body).size() == 6 + 64);
  return 0;
}
