// A byte-for-byte TCP relay on a free loopback port in front of the API server that notes
// every write request passing through it (method, target, when its head arrived). One relay
// per `sluice controller` process tells which process made which write: every replica uses
// the same field manager, so the API's own records (managedFields) cannot tell them apart.
//
// Requests are read as HTTP/1.1 with Content-Length bodies, as the Sluice client sends them;
// a chunked request body cannot be followed and is counted in unparsed() instead of guessed.
// Responses (watch streams included) are passed on untouched.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sluice::testing {

struct RecordedWrite {
  std::chrono::system_clock::time_point at;  // when the relay had read the request's head
  std::string method;                        // POST, PUT, PATCH or DELETE
  std::string target;                        // path and query
};

class WriteRecorder {
 public:
  // Listens on 127.0.0.1:0 and relays each connection to 127.0.0.1:upstream_port.
  explicit WriteRecorder(uint16_t upstream_port);
  ~WriteRecorder();
  WriteRecorder(const WriteRecorder&) = delete;
  WriteRecorder& operator=(const WriteRecorder&) = delete;

  uint16_t port() const;
  // The writes seen so far, in arrival order; safe from any thread.
  std::vector<RecordedWrite> Writes() const;
  // Connections whose requests could not be followed (a chunked body, a head over 1 MiB).
  int unparsed() const;
  // Closes the listener and every relayed connection, and joins the threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::testing
