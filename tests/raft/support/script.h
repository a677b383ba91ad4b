// Text scripts that drive a Cluster and record what it did, in the style of etcd raft's
// interaction tests (cockroachdb/datadriven). A script is documentation of Raft behaviour that
// is also a test: tests/raft/script_test.cc runs every tests/raft/testdata/*.txt and compares.
//
// File format:
//
//   # a comment (kept verbatim, like blank lines between blocks)
//   command arg1 arg2 key=value
//   optional body lines (unused by the current commands)
//   ----
//   expected output, one or more lines
//   (a blank line or the end of the file ends the block)
//
// Output never contains blank lines; a command with nothing to say prints "ok". With the
// environment variable RAFT_REWRITE=1 the test writes every file back with the actual outputs
// (comments and command lines kept): write the commands, generate, then READ the output.
//
// Arguments are whitespace-separated; "double quotes" keep spaces (\" and \\ escape). A token
// key=value is a keyed argument; anything else is positional. IDs are node ids. Unknown
// commands, unknown keys and missing arguments are errors that fail the test.
//
// Commands (ID... means one or more ids):
//
//   cluster [voters=1,2,3] [learners=4,5] [pre_vote=true] [check_quorum=true]
//           [read_only=safe|lease] [election=10] [heartbeat=1] [min_election=N]
//           [max_election=N] [max_inflight=256] [max_inflight_bytes=N] [max_size_per_msg=N]
//           [max_committed_size_per_ready=N] [max_uncommitted=N] [disable_forwarding=true]
//           [async=true] [auto_apply=false] [seed=1] [log=debug|info|warn|error]
//           [logs=inline|buffer]
//       Starts a new cluster (replacing any). Defaults as listed (voters=1,2,3, log=warn,
//       sync persistence, auto apply). logs=inline (default) prints log lines in the output of
//       the command that caused them; logs=buffer keeps them for `logs`.
//   add-node ID                    a fresh node (then add it with propose-conf-change)
//   crash ID / restart ID          lose what was not persisted / rebuild from storage
//
//   tick ID [N]                    N ticks (default 1); nothing is delivered
//   tick-election ID...            ticks until the node's election timer fires (a follower's
//                                  randomized timeout; a leader's election_tick: CheckQuorum)
//   tick-heartbeat ID...           heartbeat_tick ticks
//   tick-all [N]                   N times: tick every live node, then stabilize
//   campaign ID
//   propose ID DATA
//   propose-conf-change ID [v1=true] [transition=auto|implicit|explicit] [ctx=C] CHANGE...
//       CHANGE is vN (add voter N), lN (add learner N) or rN (remove N); none at all is the
//       empty change that leaves a joint configuration. v1=true encodes a single change as
//       the old ConfChange (EntryConfChange) instead of ConfChangeV2.
//   read-index ID CTX
//   transfer-leader ID TO          asks node ID (the leader, or a follower that forwards)
//   request-snapshot ID
//   report-unreachable ID PEER
//   report-snapshot ID PEER ok|fail
//   raw-step ID type=MsgX [from=N] [to=ID] [term=N] [log_term=N] [index=N] [commit=N]
//            [reject=true] [reject_hint=N] [request_snapshot=N] [ctx=C]
//            [entries=TERM/INDEX[:DATA],...] [snapshot=INDEX/TERM] [snap_voters=1,2,3]
//            [snap_learners=4]
//       Steps a hand-made message into node ID (bypassing the network) and prints the
//       returned error. Use it for malformed, stale and forged messages.
//
//   process-ready ID...            handles one Ready of each node (prints it)
//   persist ID [N]                 async: completes N (default all) queued writes
//   apply ID [N]                   auto_apply=false: applies N (default all) pending batches
//   deliver-msgs ID... [n=N] [type=MsgX]
//       delivers the in-flight messages to each node, oldest first (at most N per node, only
//       of that type), printing each
//   drop-msgs ID... [type=MsgX]    drops in-flight messages to the nodes
//   stabilize [ID...]              Readies, writes and deliveries until nothing moves
//                                  (restricted to the given nodes if any)
//   compact ID [INDEX]             the node snapshots at INDEX (default: its applied index)
//                                  and compacts its log there
//
//   isolate ID...                  cut from everyone
//   partition 1,2 3,4,5            only nodes of the same group talk; unlisted nodes are alone
//   cut A B                        both directions
//   drop FROM TO P                 one direction, probability P (seeded)
//   drop-only [MsgX...]            drop rules apply to these types only (none: to all)
//   reorder on|off                 shuffle in-flight messages before each stabilize round
//   heal                           remove every drop rule
//
//   status ID...                   Status::describe(), or "ID: crashed"
//   raft-log ID                    the node's log: "snapshot I/T" if compacted, then one entry
//                                  per line, "(unstable)" if not yet durable
//   applied ID                     what the node's state machine applied
//   read-states ID                 the read states it received (then clears them)
//   in-flight                      the messages in flight
//   log-level LEVEL
//   logs                           log lines captured with logs=buffer
//
// Transcript lines (the output of commands that make things happen):
//   1: became Leader term=2                    a soft state change seen in a Ready
//   1: Ready #3 HardState term=2 vote=1 commit=5
//     snapshot: I/T voters=[...]               the Ready's fields, when set
//     entries: 2/6 normal "x", ...
//     committed: ...
//     read state: index=5 ctx=c
//     send: MsgAppend 1->2 ...                 messages that leave at once
//     send after write: MsgAppendResponse ...  persisted_messages, after a synchronous write
//     held until persisted: ...                the same with async persistence
//     applied conf change v4: voters=[1 2 3 4]
//   1: persisted Ready #3                      async: the write is durable; then its sends
//   1: no Ready                                process-ready on a node with nothing to do
//   1: applying ...                            auto_apply=false: a batch applied
//   deliver: MsgAppend 1->2 ...                deliver-msgs only (stabilize delivers silently
//                                              what the Readies listed as sent)
//   dropped (network|down|no such node|by test): MsgHeartbeat 1->3 ...
//   2: error stepping MsgX ...: <error>        a delivered message the node refused
//   WARN 1 term=2: ...                          log lines (logs=inline)
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/raft/support/cluster.h"

namespace raft::testing {

struct ScriptBlock {
  int line = 0;                   // 1-based line of the command in its file
  std::string command;            // the command line as written
  std::vector<std::string> body;  // lines between the command and "----"
  std::string expected;           // each line followed by '\n'
};

// A parsed file: the verbatim text before each block (comments, blank lines) and the blocks,
// so a rewrite changes nothing but outputs.
struct Script {
  struct Part {
    std::string verbatim;  // lines that precede the block, each followed by '\n'
    std::optional<ScriptBlock> block;
  };
  std::vector<Part> parts;
};

// Throws std::runtime_error naming file:line on a block without "----".
Script parse_script(std::string_view text, const std::string& file);
// The file text with outputs[i] as the output of the i-th block (in order).
std::string render_script(const Script& script, const std::vector<std::string>& outputs);

// A malformed command (unknown command or key, missing argument, bad number, node down).
struct ScriptError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ScriptRunner {
 public:
  ScriptRunner();
  ~ScriptRunner();
  // Runs one block; returns its output (each line followed by '\n'; "ok\n" if nothing else).
  // Throws ScriptError for a malformed command; InvariantViolation and other exceptions of the
  // cluster pass through.
  std::string run(const ScriptBlock& block);
  // The current cluster (ScriptError if no `cluster` command ran yet).
  Cluster& cluster();

 private:
  std::unique_ptr<Cluster> cluster_;
};

struct ScriptMismatch {
  int line = 0;
  std::string command;
  std::string expected;
  std::string actual;
};

struct ScriptFileResult {
  std::vector<ScriptMismatch> mismatches;
  // A command that threw (an error in the script, or an invariant violation): the file stops
  // there. "file:line: command: what".
  std::optional<std::string> error;
};

// Runs every block of the file with one ScriptRunner. With rewrite, writes the file back with
// the actual outputs (up to an error, after which expected outputs are kept).
ScriptFileResult run_script_file(const std::string& path, bool rewrite);

}  // namespace raft::testing
