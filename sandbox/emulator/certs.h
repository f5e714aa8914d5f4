// In-memory TLS material for the emulator: a CA, a server certificate for loopback names,
// and a client certificate (CN=sluice-admin, O=system:masters) for cert authentication.
#pragma once

#include <string>

namespace sluice::sandbox {

struct GeneratedCerts {
  std::string ca_pem;
  std::string ca_key_pem;
  std::string server_cert_pem;
  std::string server_key_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
};

// Throws std::runtime_error naming the OpenSSL step that failed.
GeneratedCerts GenerateCerts();

}  // namespace sluice::sandbox
