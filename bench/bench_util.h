// Small pieces the cluster and snapshot benchmarks share: a scratch directory, whole reads and
// writes on a file descriptor, a connected pair of loopback TCP sockets, and a median.
// Failures throw std::system_error (naming the call and errno) or std::runtime_error.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace bench {

// Where a benchmark puts its data by default: $<env_var>, else $TMPDIR, else /tmp.
inline std::string default_data_dir(const char* env_var) {
  for (const char* name : {env_var, "TMPDIR"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return v;
  }
  return "/tmp";
}

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

// A fresh directory <base>/<name>.XXXXXX, removed with everything in it when this goes out of
// scope.
class ScratchDir {
 public:
  ScratchDir(const std::string& base, const std::string& name) {
    std::string templ = base + "/" + name + ".XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw_errno("mkdtemp " + templ);
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  // <path>/<name>, created if missing.
  std::string sub(const std::string& name) const {
    const std::string p = path_ + "/" + name;
    std::filesystem::create_directories(p);
    return p;
  }

 private:
  std::string path_;
};

inline void write_full(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw_errno("write");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// False on a clean end of stream before the first byte; throws on one in the middle.
inline bool read_full(int fd, char* p, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw_errno("read");
    if (r == 0) {
      if (got == 0) return false;
      throw std::runtime_error("read: connection closed mid-message");
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

// A connected pair of loopback TCP sockets (client, server side), with TCP_NODELAY as the
// transport sets it.
inline std::pair<int, int> tcp_pair() {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) throw_errno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) throw_errno("bind");
  if (::listen(lfd, 1) != 0) throw_errno("listen");
  if (::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw_errno("getsockname");
  }
  const int cfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cfd < 0) throw_errno("socket");
  if (::connect(cfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    throw_errno("connect");
  }
  const int sfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  if (sfd < 0) throw_errno("accept");
  ::close(lfd);
  const int one = 1;
  ::setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return {cfd, sfd};
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0 : n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace bench
