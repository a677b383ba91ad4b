// A small replicated map for the framework's tests: the command "key=value" sets key and returns
// its previous value. Safe to read from the test thread while the apply thread writes.
//
// A gate makes it a slow state machine on demand: after hold(), the next apply() or restore()
// blocks before changing anything until release(), so a test can check that the node keeps
// working while its apply thread is stuck. The gate has its own lock, so the readers below never wait on it. A
// gate held for kGateLimit opens by itself (gate_expired() then says so): if apply() ever ran
// on the thread that runs the test's io_context, the test would otherwise hang instead of fail.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "framework/state_machine.h"

namespace framework::testing {

inline constexpr std::chrono::seconds kGateLimit{30};

class KvStateMachine final : public StateMachine {
 public:
  std::vector<std::string> apply(std::span<const Command> commands) override;
  std::unique_ptr<StateSnapshot> snapshot() override;
  void restore(std::istream& in) override;
  void on_leader_change(uint64_t leader, uint64_t term) override;
  void on_membership_change(uint64_t index, const raft::ConfState& conf) override;

  std::optional<std::string> get(const std::string& key) const;
  std::map<std::string, std::string> contents() const;
  uint64_t last_applied() const;
  // Indexes of every command applied, in order (each exactly once, rising).
  std::vector<uint64_t> applied_indexes() const;
  uint64_t leader_changes() const;
  uint64_t membership_changes() const;

  // Closes the gate: apply() calls from now on block until release().
  void hold();
  // Opens the gate and wakes a blocked apply(). Idempotent.
  void release();
  // Whether an apply() is blocked at the gate right now.
  bool blocked() const;
  // Whether the gate ever opened by itself after kGateLimit.
  bool gate_expired() const;

 private:
  // Blocks while the gate is closed.
  void pass_gate();

  mutable std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool held_ = false;
  bool blocked_ = false;
  bool expired_ = false;

  mutable std::mutex mu_;
  std::map<std::string, std::string> data_;
  std::vector<uint64_t> applied_;
  uint64_t last_applied_ = 0;
  uint64_t leader_changes_ = 0;
  uint64_t membership_changes_ = 0;
};

}  // namespace framework::testing
