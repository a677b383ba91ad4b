// A small synchronous HTTP/1.1 client for the end-to-end tests: one request per connection, with
// a deadline on the whole exchange (connect, write, read).
//
// A failure to connect or a connection closed before a full response is not an HTTP status: the
// response then has status 0 and `error` says what happened (a killed node, a refused port).
//
// With retry_unavailable, a 503 whose body says the request was certainly not executed
// ("executed": false: no leader known yet, the node busy) is sent again until the timeout, so
// that a test of a cluster whose leader is changing (a loaded machine, a killed node) sees the
// outcome the request has once the cluster serves. Nothing else is retried.
// Thread-safe: every request runs on an io_context of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace raftkv::e2e {

struct HttpResponse {
  int status = 0;     // 0: no response; see error
  std::string error;  // why there is no response
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case

  // The header's value, or "" if absent (name in any case).
  std::string header(const std::string& name) const;
  // "200 <body>" or "no response: <error>", for test failure messages.
  std::string describe() const;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(15000),
             bool retry_unavailable = false);

  HttpResponse request(const std::string& method, const std::string& target,
                       const std::string& body = "",
                       const std::string& content_type = "application/octet-stream") const;
  HttpResponse get(const std::string& target) const { return request("GET", target); }
  HttpResponse put(const std::string& target, const std::string& body) const {
    return request("PUT", target, body);
  }
  HttpResponse del(const std::string& target) const { return request("DELETE", target); }
  HttpResponse post_json(const std::string& target, const std::string& json) const {
    return request("POST", target, json, "application/json");
  }

  uint16_t port() const { return port_; }

 private:
  HttpResponse request_once(const std::string& method, const std::string& target,
                            const std::string& body, const std::string& content_type,
                            std::chrono::milliseconds timeout) const;

  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  bool retry_unavailable_;
};

}  // namespace raftkv::e2e
