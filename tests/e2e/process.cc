#include "tests/e2e/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace raftkv::e2e {
namespace {

using namespace std::chrono_literals;

// How often waits look again; short next to every deadline, long enough not to spin a core.
constexpr auto kPollInterval = 5ms;

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ExitStatus decode(int wstatus) {
  ExitStatus s;
  if (WIFEXITED(wstatus)) {
    s.exited = true;
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  }
  return s;
}

int open_output(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open " + path);
  return fd;
}

}  // namespace

std::string ExitStatus::describe() const {
  return exited ? "exit " + std::to_string(code) : "signal " + std::to_string(signal);
}

Process::Process(std::string program, std::vector<std::string> args, std::string output_prefix)
    : program_(std::move(program)), args_(std::move(args)),
      output_prefix_(std::move(output_prefix)) {}

Process::~Process() { kill(); }

std::string Process::stdout_path() const {
  return output_prefix_ + "." + std::to_string(runs_ > 0 ? runs_ - 1 : 0) + ".out";
}

std::string Process::stderr_path() const {
  return output_prefix_ + "." + std::to_string(runs_ > 0 ? runs_ - 1 : 0) + ".err";
}

std::string Process::stdout_text() const { return read_whole(stdout_path()); }
std::string Process::stderr_text() const { return read_whole(stderr_path()); }

void Process::start() {
  if (pid_ > 0) throw std::logic_error("Process::start: " + program_ + " still runs");
  ++runs_;
  exit_status_.reset();
  int out = open_output(stdout_path());
  int err = open_output(stderr_path());

  // Everything the child needs is built before fork: between fork and exec it may only make
  // async-signal-safe calls (the test binary has other threads, whose locks may be held).
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program_.c_str()));
  for (auto& a : args_) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    ::close(err);
    fail("fork");
  }
  if (pid == 0) {
    // Dies with the test binary, even if it crashes; the getppid check covers a parent that
    // died before prctl took effect.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execv(program_.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out);
  ::close(err);
  pid_ = pid;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int wstatus = 0;
  pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_status_ = decode(wstatus);
  } else {
    exit_status_ = ExitStatus{};  // not our child any more (cannot happen): treat it as gone
  }
  pid_ = -1;
  return false;
}

std::optional<std::string> Process::wait_for_first_line(Clock::time_point deadline) {
  for (;;) {
    // The output is read before the liveness check so that a line written just before a quick
    // exit is still found.
    std::string out = stdout_text();
    auto nl = out.find('\n');
    if (nl != std::string::npos) return out.substr(0, nl);
    if (!running()) {
      out = stdout_text();
      nl = out.find('\n');
      if (nl != std::string::npos) return out.substr(0, nl);
      return std::nullopt;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

void Process::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<ExitStatus> Process::wait_exit(Clock::time_point deadline) {
  for (;;) {
    if (!running()) return exit_status_;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
}

void Process::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &wstatus, 0);
  } while (r < 0 && errno == EINTR);
  exit_status_ = r == pid_ ? decode(wstatus) : ExitStatus{};
  pid_ = -1;
}

RunResult run_to_exit(const std::string& program, const std::vector<std::string>& args,
                      const std::string& output_prefix, Clock::time_point deadline) {
  Process p(program, args, output_prefix);
  p.start();
  RunResult r;
  auto status = p.wait_exit(deadline);
  if (!status) {
    r.timed_out = true;
    p.kill();
    status = p.exit_status();
  }
  r.status = status.value_or(ExitStatus{});
  r.out = p.stdout_text();
  r.err = p.stderr_text();
  return r;
}

uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    fail("bind 127.0.0.1:0");
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    fail("getsockname");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace raftkv::e2e
