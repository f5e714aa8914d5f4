// HTTP/1.1 requests as every Sluice server reads them (net/http_server.cc: the emulator, the
// controller's port with the receivers, the loadtester): Beast's request parser configured as
// the server configures it, the same body and header limits, fed the raw bytes a client sends
// on one keep-alive connection, a few at a time.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <string>

#include "net/http_server.h"
#include "tests/fuzz/fuzz_support.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// The client's bytes, in pieces of `piece` bytes, then the end of the stream (the client
// closed). A SyncReadStream, so http::read runs the same parsing loop async_read does.
class ClientBytes {
 public:
  ClientBytes(std::string_view bytes, size_t piece) : rest_(bytes), piece_(piece) {}

  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
    if (rest_.empty()) {
      ec = asio::error::eof;
      return 0;
    }
    ec = {};
    size_t n = asio::buffer_copy(buffers, asio::buffer(rest_.data(), std::min(piece_, rest_.size())));
    rest_.remove_prefix(n);
    return n;
  }
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view rest_;
  size_t piece_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const size_t kBodyLimit = sluice::net::HttpServerOptions{}.max_body_bytes;
  constexpr size_t kHeaderLimit = 256 * 1024;  // HttpServer::Impl::Serve's header_limit
  ClientBytes stream(sluice::fuzz::Text(data, size), 1 + size % 61);
  beast::flat_buffer buffer;
  // The server's loop: read a header, then the body; answer; go on while the client keeps
  // the connection alive. A body over the limit is answered 413 and the connection closed.
  for (int served = 0; served < 64; ++served) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    parser.header_limit(kHeaderLimit);
    boost::system::error_code ec;
    http::read_header(stream, buffer, parser, ec);
    if (ec && ec != http::error::body_limit) return 0;
    if (!ec) http::read(stream, buffer, parser, ec);
    if (ec) return 0;
    auto& msg = parser.get();
    // What the server copies out of the message into an HttpRequest.
    std::string method(msg.method_string()), target(msg.target());
    size_t header_bytes = 0;
    for (const auto& f : msg) header_bytes += f.name_string().size() + f.value().size();
    SLUICE_FUZZ_CHECK(msg.body().size() <= kBodyLimit);
    SLUICE_FUZZ_CHECK(method.size() + target.size() + header_bytes <= size);
    if (!msg.keep_alive()) return 0;
  }
  return 0;
}
