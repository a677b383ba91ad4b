// Child processes for the end-to-end tests: start a program, wait for a line on its stdout or for
// its exit, signal it, and reap it.
//
// The child's stdout and stderr go to files (never pipes, so a chatty child can never block on a
// pipe nobody drains); the test reads them back to find the "serving" line or an error message.
// Each start() gets its own pair of files, so a restarted node's output does not mix with its
// previous run's. The child gets PR_SET_PDEATHSIG(SIGKILL), so even a test binary that crashes
// leaves no process behind; the destructor SIGKILLs and reaps a child still running.
//
// Waits poll (the child's state and its output file) every few milliseconds up to a deadline:
// they return as soon as the condition holds.
//
// Not thread-safe: one thread drives a Process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace raftkv::e2e {

using Clock = std::chrono::steady_clock;

// How a child ended.
struct ExitStatus {
  bool exited = false;  // exit() or return from main: `code` is valid
  int code = 0;
  int signal = 0;       // killed by this signal (exited == false)

  bool ok() const { return exited && code == 0; }
  std::string describe() const;  // "exit 1", "signal 9"
};

class Process {
 public:
  // `program` is run with `args` (argv[1..]); its output goes to `output_prefix`.<run>.out and
  // .err, where <run> counts the starts of this Process.
  Process(std::string program, std::vector<std::string> args, std::string output_prefix);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts the program (a previous run must have been reaped). Throws std::runtime_error if fork
  // or the output files fail; a program that cannot be executed exits with status 127.
  void start();
  // Replaces the arguments of the next start().
  void set_args(std::vector<std::string> args) { args_ = std::move(args); }
  const std::vector<std::string>& args() const { return args_; }

  // True while the child runs (reaps it, and records its status, if it has exited).
  bool running();
  pid_t pid() const { return pid_; }

  // Waits until the current run's stdout holds a complete first line and returns it; nullopt if
  // the child exits or the deadline passes first (exit_status() tells which).
  std::optional<std::string> wait_for_first_line(Clock::time_point deadline);

  // Sends `sig` to a running child (nothing if it is not running).
  void signal(int sig);
  // Waits for the child to exit; nullopt if it still runs at the deadline.
  std::optional<ExitStatus> wait_exit(Clock::time_point deadline);
  // SIGKILL and reap; returns once the child is gone (no-op if it is not running).
  void kill();

  // The status of the last run that ended (nullopt while running or before the first run).
  const std::optional<ExitStatus>& exit_status() const { return exit_status_; }

  // The current (or last) run's output so far.
  std::string stdout_text() const;
  std::string stderr_text() const;
  std::string stdout_path() const;
  std::string stderr_path() const;

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::string output_prefix_;
  int runs_ = 0;
  pid_t pid_ = -1;
  std::optional<ExitStatus> exit_status_;
};

// Runs `program` with `args` to completion (SIGKILL at the deadline: the result then says
// timed_out), with its output in `output_prefix`.0.out / .err.
struct RunResult {
  bool timed_out = false;
  ExitStatus status;
  std::string out;
  std::string err;
};
RunResult run_to_exit(const std::string& program, const std::vector<std::string>& args,
                      const std::string& output_prefix, Clock::time_point deadline);

// A TCP port on 127.0.0.1 that was free a moment ago: bound with port 0, read, closed. Another
// process may take it before the caller binds it, so callers retry on "address in use".
uint16_t pick_free_port();

}  // namespace raftkv::e2e
