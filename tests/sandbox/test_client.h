// A small synchronous HTTP/1.1 client for the emulator tests: POSIX sockets and OpenSSL,
// keep-alive, chunked bodies, and incremental reading of watch streams. Every read has a
// deadline so a broken server fails a test instead of hanging it.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::sandbox::testing {

struct TestResponse {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;

  std::string Header(const std::string& name) const;
  nlohmann::json Json() const;
};

struct TlsCredentials {
  std::string ca_pem;
  std::string cert_pem;  // client certificate (optional)
  std::string key_pem;
};

class Connection;

// A watch response being read line by line.
class WatchReader {
 public:
  explicit WatchReader(std::unique_ptr<Connection> conn, TestResponse head);
  ~WatchReader();
  const TestResponse& head() const { return head_; }
  // The next event, or nullopt when the stream ended or nothing came within the timeout.
  std::optional<nlohmann::json> Next(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  bool ended() const { return ended_; }

 private:
  bool ReadChunk(std::chrono::steady_clock::time_point deadline);
  std::unique_ptr<Connection> conn_;
  TestResponse head_;
  std::string pending_;  // body bytes decoded from chunks, not yet split into lines
  bool ended_ = false;
};

class TestClient {
 public:
  explicit TestClient(uint16_t port, std::optional<TlsCredentials> tls = std::nullopt, std::string token = "");
  ~TestClient();

  TestResponse Request(const std::string& method, const std::string& target, const std::string& body = "",
                       const std::map<std::string, std::string>& headers = {});
  TestResponse Get(const std::string& target, const std::string& accept = "");
  TestResponse Post(const std::string& target, const nlohmann::json& body);
  TestResponse Put(const std::string& target, const nlohmann::json& body);
  TestResponse Patch(const std::string& target, const std::string& content_type, const std::string& body);
  TestResponse Delete(const std::string& target, const std::string& body = "");
  // Sends the request on a new connection and returns once the response head arrived.
  std::unique_ptr<WatchReader> Watch(const std::string& target, const std::string& accept = "");
  // Writes raw bytes on a fresh connection and returns what comes back until close or timeout.
  std::string Raw(const std::string& bytes, std::chrono::milliseconds timeout = std::chrono::seconds(3));

 private:
  std::unique_ptr<Connection> Connect();
  uint16_t port_;
  std::optional<TlsCredentials> tls_;
  std::string token_;
  std::unique_ptr<Connection> conn_;  // kept alive between requests
};

}  // namespace sluice::sandbox::testing
