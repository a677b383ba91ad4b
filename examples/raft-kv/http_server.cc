#include "http_server.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>
#include <system_error>

#include "json.h"

namespace raftkv {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// After a response that closes the connection early (400, 413), the input still unread is
// drained for at most this long and this many bytes before the socket is closed: closing with
// unread input makes the kernel send a reset, which can destroy the response before the client
// reads it.
// Bytes the read buffer may hold beyond the largest header: room for one read of body or chunk
// lines.
constexpr size_t kReadSlack = 64 << 10;
// A buffer above this is released between requests.
constexpr size_t kRetainedBuffer = 64 << 10;
constexpr auto kDrainTime = 2s;
constexpr size_t kDrainBytes = 4 << 20;

// Coroutines of the server never throw for bad input or I/O errors (they use as_tuple); an
// exception reaching here is a bug, so it is not swallowed.
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

struct Session {
  explicit Session(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;  // used on its own strand only (the socket's executor)
};

// An error the server answers itself. `may_have_executed` is false for a request that never
// reached the handler (it cannot have taken effect).
Response error_response(http::status status, std::string_view message,
                        bool may_have_executed = false) {
  Response res{status, 11};
  res.set(http::field::content_type, "application/json");
  res.keep_alive(false);
  res.body() = json::error_body(message, may_have_executed, 0);
  res.prepare_payload();
  return res;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::any_io_executor ex, HttpServerOptions opts, Handler h)
      : executor(std::move(ex)),
        options(std::move(opts)),
        handler(std::move(h)),
        acceptor(asio::make_strand(executor)) {}

  void start();
  void stop();
  asio::awaitable<void> accept_loop();
  void admit(tcp::socket socket);
  asio::awaitable<void> serve(std::shared_ptr<Session> session, uint64_t id);
  asio::awaitable<void> drain_input(Session& session);

  const asio::any_io_executor executor;
  const HttpServerOptions options;
  const Handler handler;
  tcp::acceptor acceptor;  // on a strand of its own
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stopped{false};

  std::mutex mutex;  // guards the fields below
  bool started = false;
  uint64_t next_id = 0;
  std::map<uint64_t, std::shared_ptr<Session>> sessions;
};

void HttpServer::Impl::start() {
  {
    std::lock_guard lock(mutex);
    if (started || stopped) return;
    started = true;
  }
  const std::string where = options.host + ":" + std::to_string(options.port);
  error_code ec;
  tcp::endpoint endpoint;
  const asio::ip::address address = asio::ip::make_address(options.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, options.port);
  } else {
    // A host name: take its first address (blocking, but only once, at start).
    tcp::resolver resolver(executor);
    auto results = resolver.resolve(options.host, std::to_string(options.port), ec);
    if (ec || results.empty()) {
      // std::system_error: its what() is "HTTP address H:P: <reason>", where Boost's would add
      // its source location.
      throw std::system_error(std::error_code(ec ? ec : asio::error::host_not_found),
                              "HTTP address " + where);
    }
    endpoint = results.begin()->endpoint();
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    throw std::system_error(std::error_code(ec), "HTTP listen on " + where);
  }
  port = acceptor.local_endpoint().port();
  asio::co_spawn(acceptor.get_executor(), accept_loop(), rethrow);
}

void HttpServer::Impl::stop() {
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(mutex);
    if (stopped) return;
    stopped = true;
    for (auto& [id, session] : sessions) open.push_back(session);
  }
  // Each socket is touched on its own strand only: closing it from here could race with the
  // coroutine that is reading it.
  asio::dispatch(acceptor.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor.close(ignored);
  });
  for (auto& session : open) {
    asio::dispatch(session->stream.get_executor(), [session] {
      error_code ignored;
      session->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      session->stream.close();
    });
  }
}

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  auto self = shared_from_this();
  for (;;) {
    // Every connection gets a strand of its own: the io_context may run on several threads.
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::any_io_executor(asio::make_strand(executor)), kTuple);
    if (stopped || ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec == asio::error::connection_aborted) continue;
    if (ec) {
      // Out of descriptors or memory: accepting again at once would spin; wait a little.
      asio::steady_timer backoff(acceptor.get_executor(), 10ms);
      co_await backoff.async_wait(kTuple);
      continue;
    }
    admit(std::move(socket));
  }
}

void HttpServer::Impl::admit(tcp::socket socket) {
  std::shared_ptr<Session> session;
  uint64_t id = 0;
  {
    std::lock_guard lock(mutex);
    if (!stopped && sessions.size() < options.max_connections) {
      id = next_id++;
      session = std::make_shared<Session>(std::move(socket));
      sessions.emplace(id, session);
    }
  }
  if (!session) {
    error_code ignored;
    socket.close(ignored);
    return;
  }
  const auto strand = session->stream.get_executor();
  asio::co_spawn(strand, serve(std::move(session), id), rethrow);
}

asio::awaitable<void> HttpServer::Impl::serve(std::shared_ptr<Session> session, uint64_t id) {
  auto self = shared_from_this();
  beast::tcp_stream& stream = session->stream;
  // Capped: the parser bounds the header (header_limit) and moves body bytes out as it parses
  // them, but it keeps a chunk-size line or a trailer in the buffer until its CRLF arrives, so
  // without a cap a client could grow the buffer without end. Over the cap the read fails with
  // buffer_overflow, answered with 400.
  beast::flat_buffer buffer(options.max_header_bytes + kReadSlack);
  bool drain = false;
  while (!stopped) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(
        std::min<size_t>(options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser.body_limit(options.max_body_bytes);

    // One idle timeout covers reading the whole request, so a client that trickles bytes is
    // closed as surely as a silent one.
    stream.expires_after(options.idle_timeout);
    error_code ec;
    std::tie(ec, std::ignore) = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (!ec && parser.get().version() >= 11 &&
        beast::iequals(parser.get()[http::field::expect], "100-continue")) {
      // The body's size was checked with the header (body_limit), so the client may send it.
      http::response<http::empty_body> go_on{http::status::continue_, parser.get().version()};
      std::tie(ec, std::ignore) = co_await http::async_write(stream, go_on, kTuple);
    }
    if (!ec && !parser.is_done()) {
      std::tie(ec, std::ignore) = co_await http::async_read(stream, buffer, parser, kTuple);
    }
    if (ec) {
      // The client closed between requests, went idle or away, or the server is stopping: there
      // is no one to answer. Otherwise the request was bad: answer, then close, since the rest
      // of the stream cannot be trusted to start at a request.
      const bool bad_http =
          ec.category() == http::make_error_code(http::error::end_of_stream).category();
      if (!bad_http || ec == http::error::end_of_stream || stopped) break;
      Response res;
      if (ec == http::error::body_limit) {
        res = error_response(http::status::payload_too_large,
                             "request body larger than " + std::to_string(options.max_body_bytes) +
                                 " bytes");
      } else if (ec == http::error::header_limit) {
        res = error_response(http::status::bad_request,
                             "request header larger than " +
                                 std::to_string(options.max_header_bytes) + " bytes");
      } else {
        res = error_response(http::status::bad_request, "malformed HTTP request: " + ec.message());
      }
      stream.expires_after(options.idle_timeout);
      std::tie(ec, std::ignore) = co_await http::async_write(stream, res, kTuple);
      drain = !ec;
      break;
    }

    Request request = parser.release();
    // The handler bounds its own time (the node's request timeout); the idle clock stops.
    stream.expires_never();
    Response res;
    try {
      res = co_await handler(request);
    } catch (const std::exception& e) {
      // The handler may have got as far as proposing: the outcome is unknown.
      res = error_response(http::status::internal_server_error,
                           std::string("internal error: ") + e.what(), true);
      res.version(request.version());
      res.keep_alive(request.keep_alive());
    }
    if (stopped) break;  // stop(): the response is not written
    res.prepare_payload();
    stream.expires_after(options.idle_timeout);
    if (request.method() == http::verb::head) {
      // The response's header without its body (a client reads none after a HEAD, so a body
      // would be taken for the start of the next response).
      http::response_serializer<http::string_body> header_only(res);
      std::tie(ec, std::ignore) = co_await http::async_write_header(stream, header_only, kTuple);
    } else {
      std::tie(ec, std::ignore) = co_await http::async_write(stream, res, kTuple);
    }
    if (ec) break;
    if (res.need_eof()) {
      // Closing with unread input (pipelined requests after this one) would reset the
      // connection and could destroy the response before the client reads it.
      drain = true;
      break;
    }
    // A large request grew the buffer; an idle keep-alive connection does not keep that memory.
    if (buffer.size() == 0 && buffer.capacity() > kRetainedBuffer) buffer.shrink_to_fit();
  }
  if (drain && !stopped) co_await drain_input(*session);
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream.close();
  std::lock_guard lock(mutex);
  sessions.erase(id);
}

asio::awaitable<void> HttpServer::Impl::drain_input(Session& session) {
  error_code ec;
  session.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  session.stream.expires_after(kDrainTime);
  std::array<char, 16 << 10> discard;
  size_t drained = 0;
  while (!ec && drained < kDrainBytes) {
    size_t n = 0;
    std::tie(ec, n) = co_await session.stream.async_read_some(asio::buffer(discard), kTuple);
    drained += n;
  }
}

HttpServer::HttpServer(boost::asio::any_io_executor executor, HttpServerOptions options,
                       Handler handler)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(handler))) {}

HttpServer::~HttpServer() { impl_->stop(); }

void HttpServer::start() { impl_->start(); }

uint16_t HttpServer::port() const { return impl_->port; }

void HttpServer::stop() { impl_->stop(); }

}  // namespace raftkv
