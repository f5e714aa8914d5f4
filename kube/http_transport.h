// The transport to one API server: net's HTTP client with what a kubeconfig says (TLS
// material, bearer/basic/exec credentials that refresh), so the API client speaks plain
// requests and never sees Beast.
#pragma once

#include "kube/config.h"
#include "net/http_client.h"

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <memory>

namespace sluice::kube {

struct TransportOptions {
  net::ClientOptions client;
  std::chrono::milliseconds exec_timeout{60000};  // an exec credential plugin's deadline
};

// Throws ConfigError when the TLS material in `config` is unusable (bad PEM, unreadable file).
std::shared_ptr<net::HttpClient> MakeHttpTransport(boost::asio::any_io_executor executor, const RestConfig& config,
                                                   TransportOptions options = {});

}  // namespace sluice::kube
