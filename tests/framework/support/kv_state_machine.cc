#include "tests/framework/support/kv_state_machine.h"

#include <sstream>
#include <stdexcept>

namespace framework::testing {
namespace {

class MapSnapshot final : public StateSnapshot {
 public:
  explicit MapSnapshot(std::map<std::string, std::string> data) : data_(std::move(data)) {}
  void write(std::ostream& out) override {
    for (const auto& [k, v] : data_) out << k.size() << ' ' << k << v.size() << ' ' << v;
  }

 private:
  std::map<std::string, std::string> data_;
};

}  // namespace

std::vector<std::string> KvStateMachine::apply(std::span<const Command> commands) {
  pass_gate();
  std::lock_guard lock(mu_);
  std::vector<std::string> results;
  results.reserve(commands.size());
  for (const Command& c : commands) {
    if (c.index <= last_applied_) {
      throw std::logic_error("command " + std::to_string(c.index) + " applied twice");
    }
    last_applied_ = c.index;
    applied_.push_back(c.index);
    const size_t eq = c.data.find('=');
    if (eq == std::string_view::npos) {
      results.emplace_back("bad command");
      continue;
    }
    std::string key(c.data.substr(0, eq));
    std::string& slot = data_[key];
    results.push_back(std::exchange(slot, std::string(c.data.substr(eq + 1))));
  }
  return results;
}

std::unique_ptr<StateSnapshot> KvStateMachine::snapshot() {
  std::lock_guard lock(mu_);
  return std::make_unique<MapSnapshot>(data_);
}

void KvStateMachine::restore(std::istream& in) {
  pass_gate();
  std::map<std::string, std::string> data;
  auto read = [&](std::string& s) {
    size_t n = 0;
    if (!(in >> n) || in.get() != ' ') return false;
    s.resize(n);
    return static_cast<bool>(in.read(s.data(), static_cast<std::streamsize>(n)));
  };
  std::string k, v;
  while (in.peek() != std::char_traits<char>::eof()) {
    if (!read(k) || !read(v)) throw std::runtime_error("bad snapshot");
    data[k] = v;
  }
  std::lock_guard lock(mu_);
  data_ = std::move(data);
}

void KvStateMachine::on_leader_change(uint64_t, uint64_t) {
  std::lock_guard lock(mu_);
  ++leader_changes_;
}

void KvStateMachine::on_membership_change(uint64_t, const raft::ConfState&) {
  std::lock_guard lock(mu_);
  ++membership_changes_;
}

std::optional<std::string> KvStateMachine::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, std::string> KvStateMachine::contents() const {
  std::lock_guard lock(mu_);
  return data_;
}

uint64_t KvStateMachine::last_applied() const {
  std::lock_guard lock(mu_);
  return last_applied_;
}

std::vector<uint64_t> KvStateMachine::applied_indexes() const {
  std::lock_guard lock(mu_);
  return applied_;
}

uint64_t KvStateMachine::leader_changes() const {
  std::lock_guard lock(mu_);
  return leader_changes_;
}

uint64_t KvStateMachine::membership_changes() const {
  std::lock_guard lock(mu_);
  return membership_changes_;
}

void KvStateMachine::hold() {
  std::lock_guard lock(gate_mu_);
  held_ = true;
}

void KvStateMachine::release() {
  {
    std::lock_guard lock(gate_mu_);
    held_ = false;
  }
  gate_cv_.notify_all();
}

bool KvStateMachine::blocked() const {
  std::lock_guard lock(gate_mu_);
  return blocked_;
}

bool KvStateMachine::gate_expired() const {
  std::lock_guard lock(gate_mu_);
  return expired_;
}

void KvStateMachine::pass_gate() {
  std::unique_lock lock(gate_mu_);
  if (!held_) return;
  blocked_ = true;
  if (!gate_cv_.wait_for(lock, kGateLimit, [&] { return !held_; })) {
    expired_ = true;
    held_ = false;
  }
  blocked_ = false;
}

}  // namespace framework::testing
