#include "tests/sandbox/test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstring>
#include <stdexcept>

namespace sluice::sandbox::testing {

using Clock = std::chrono::steady_clock;

class Connection {
 public:
  Connection(uint16_t port, const std::optional<TlsCredentials>& tls) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (tls) StartTls(*tls);
  }
  ~Connection() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (ctx_) SSL_CTX_free(ctx_);
    ::close(fd_);
  }

  void Send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ssl_ ? SSL_write(ssl_, data.data() + off, static_cast<int>(data.size() - off))
                       : ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      off += static_cast<size_t>(n);
    }
  }

  // Appends what arrives to buf; false on EOF, throws on timeout.
  bool Read(std::string& buf, Clock::time_point deadline) {
    if (!ssl_ || SSL_pending(ssl_) == 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) throw std::runtime_error("read timed out");
      pollfd p{fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left));
      if (r == 0) throw std::runtime_error("read timed out");
    }
    char tmp[16384];
    ssize_t n = ssl_ ? SSL_read(ssl_, tmp, sizeof tmp) : ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
    return true;
  }

  std::string buffer;  // bytes read but not consumed

 private:
  void StartTls(const TlsCredentials& tls) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    BIO* bio = BIO_new_mem_buf(tls.ca_pem.data(), static_cast<int>(tls.ca_pem.size()));
    X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    if (!ca) throw std::runtime_error("bad CA PEM");
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (!tls.cert_pem.empty()) {
      BIO* cb = BIO_new_mem_buf(tls.cert_pem.data(), static_cast<int>(tls.cert_pem.size()));
      X509* cert = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
      BIO_free(cb);
      BIO* kb = BIO_new_mem_buf(tls.key_pem.data(), static_cast<int>(tls.key_pem.size()));
      EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
      BIO_free(kb);
      if (!cert || !key) throw std::runtime_error("bad client certificate or key PEM");
      SSL_CTX_use_certificate(ctx_, cert);
      SSL_CTX_use_PrivateKey(ctx_, key);
      X509_free(cert);
      EVP_PKEY_free(key);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "127.0.0.1");
    SSL_set_tlsext_host_name(ssl_, "localhost");
    if (SSL_connect(ssl_) != 1) {
      char err[256] = {0};
      ERR_error_string_n(ERR_get_error(), err, sizeof err);
      throw std::runtime_error(std::string("TLS handshake failed: ") + err);
    }
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads until "\r\n\r\n" and parses the status line and headers.
TestResponse ReadHead(Connection& c, Clock::time_point deadline) {
  size_t end;
  while ((end = c.buffer.find("\r\n\r\n")) == std::string::npos)
    if (!c.Read(c.buffer, deadline)) throw std::runtime_error("connection closed before the response head");
  std::string head = c.buffer.substr(0, end);
  c.buffer.erase(0, end + 4);
  TestResponse r;
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  auto sp = status_line.find(' ');
  r.status = std::stoi(status_line.substr(sp + 1, 3));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      r.headers.emplace(Lower(line.substr(0, colon)), v);
    }
    pos = e + 2;
  }
  return r;
}

// One chunk of a chunked body into out; false at the last chunk.
bool ReadOneChunk(Connection& c, std::string& out, Clock::time_point deadline) {
  size_t eol;
  while ((eol = c.buffer.find("\r\n")) == std::string::npos)
    if (!c.Read(c.buffer, deadline)) throw std::runtime_error("connection closed inside a chunked body");
  size_t size = std::stoul(c.buffer.substr(0, eol), nullptr, 16);
  while (c.buffer.size() < eol + 2 + size + 2)
    if (!c.Read(c.buffer, deadline)) throw std::runtime_error("connection closed inside a chunk");
  out.append(c.buffer, eol + 2, size);
  c.buffer.erase(0, eol + 2 + size + 2);
  return size != 0;
}

void ReadBody(Connection& c, TestResponse& r, Clock::time_point deadline) {
  if (Lower(r.Header("transfer-encoding")) == "chunked") {
    while (ReadOneChunk(c, r.body, deadline)) {
    }
    return;
  }
  std::string cl = r.Header("content-length");
  if (cl.empty()) {
    while (c.Read(c.buffer, deadline)) {
    }
    r.body = std::move(c.buffer);
    c.buffer.clear();
    return;
  }
  size_t n = std::stoul(cl);
  while (c.buffer.size() < n)
    if (!c.Read(c.buffer, deadline)) throw std::runtime_error("connection closed inside the body");
  r.body = c.buffer.substr(0, n);
  c.buffer.erase(0, n);
}

}  // namespace

std::string TestResponse::Header(const std::string& name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

nlohmann::json TestResponse::Json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw std::runtime_error("response is not JSON: " + body.substr(0, 300));
  return j;
}

WatchReader::WatchReader(std::unique_ptr<Connection> conn, TestResponse head)
    : conn_(std::move(conn)), head_(std::move(head)) {}
WatchReader::~WatchReader() = default;

bool WatchReader::ReadChunk(Clock::time_point deadline) {
  if (Lower(head_.Header("transfer-encoding")) != "chunked") {
    ReadBody(*conn_, head_, deadline);
    pending_ += head_.body;
    ended_ = true;
    return false;
  }
  if (!ReadOneChunk(*conn_, pending_, deadline)) ended_ = true;
  return !ended_;
}

std::optional<nlohmann::json> WatchReader::Next(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line.empty()) continue;
      return nlohmann::json::parse(line);
    }
    if (ended_) return std::nullopt;
    try {
      ReadChunk(deadline);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "read timed out") return std::nullopt;
      throw;
    }
  }
}

TestClient::TestClient(uint16_t port, std::optional<TlsCredentials> tls, std::string token)
    : port_(port), tls_(std::move(tls)), token_(std::move(token)) {}
TestClient::~TestClient() = default;

std::unique_ptr<Connection> TestClient::Connect() { return std::make_unique<Connection>(port_, tls_); }

TestResponse TestClient::Request(const std::string& method, const std::string& target, const std::string& body,
                                 const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port_) +
                    "\r\nUser-Agent: sandbox-tests/1.0\r\n";
  if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!conn_) conn_ = Connect();
    try {
      conn_->Send(req);
      auto deadline = Clock::now() + std::chrono::seconds(20);
      TestResponse r = ReadHead(*conn_, deadline);
      ReadBody(*conn_, r, deadline);
      if (Lower(r.Header("connection")) == "close") conn_.reset();
      return r;
    } catch (const std::runtime_error& e) {
      conn_.reset();
      // A kept-alive connection the server closed meanwhile: retry once on a fresh one.
      if (attempt == 1 || std::string(e.what()) == "read timed out") throw;
    }
  }
  throw std::runtime_error("unreachable");
}

TestResponse TestClient::Get(const std::string& target, const std::string& accept) {
  std::map<std::string, std::string> h;
  if (!accept.empty()) h["Accept"] = accept;
  return Request("GET", target, "", h);
}

TestResponse TestClient::Post(const std::string& target, const nlohmann::json& body) {
  return Request("POST", target, body.dump(), {{"Content-Type", "application/json"}});
}

TestResponse TestClient::Put(const std::string& target, const nlohmann::json& body) {
  return Request("PUT", target, body.dump(), {{"Content-Type", "application/json"}});
}

TestResponse TestClient::Patch(const std::string& target, const std::string& content_type, const std::string& body) {
  return Request("PATCH", target, body, {{"Content-Type", content_type}});
}

TestResponse TestClient::Delete(const std::string& target, const std::string& body) {
  return Request("DELETE", target, body, body.empty() ? std::map<std::string, std::string>{}
                                                      : std::map<std::string, std::string>{{"Content-Type", "application/json"}});
}

std::unique_ptr<WatchReader> TestClient::Watch(const std::string& target, const std::string& accept) {
  auto conn = Connect();
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sandbox-tests/1.0\r\n";
  if (!token_.empty()) req += "Authorization: Bearer " + token_ + "\r\n";
  if (!accept.empty()) req += "Accept: " + accept + "\r\n";
  req += "\r\n";
  conn->Send(req);
  TestResponse head = ReadHead(*conn, Clock::now() + std::chrono::seconds(10));
  return std::make_unique<WatchReader>(std::move(conn), std::move(head));
}

std::string TestClient::Raw(const std::string& bytes, std::chrono::milliseconds timeout) {
  auto conn = Connect();
  conn->Send(bytes);
  std::string out;
  auto deadline = Clock::now() + timeout;
  try {
    while (conn->Read(out, deadline)) {
    }
  } catch (const std::runtime_error&) {
  }
  return out;
}

}  // namespace sluice::sandbox::testing
