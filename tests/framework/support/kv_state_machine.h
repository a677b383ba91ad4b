// A small replicated map for the framework's tests: the command "key=value" sets key and returns
// its previous value. Safe to read from the test thread while the apply thread writes.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "framework/state_machine.h"

namespace framework::testing {

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

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> data_;
  std::vector<uint64_t> applied_;
  uint64_t last_applied_ = 0;
  uint64_t leader_changes_ = 0;
  uint64_t membership_changes_ = 0;
};

}  // namespace framework::testing
