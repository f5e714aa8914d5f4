// The emulator uses the client's base64 (kube/base64.h): one implementation for Secret data
// and kubeconfig alike.
#pragma once

#include "kube/base64.h"

namespace sluice::sandbox {
using kube::Base64Decode;
using kube::Base64Encode;
}  // namespace sluice::sandbox
