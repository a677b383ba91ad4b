#include "raft/types.h"

#include <sstream>

namespace raft {

const char* to_string(StateRole role) noexcept {
  switch (role) {
    case StateRole::kFollower: return "Follower";
    case StateRole::kCandidate: return "Candidate";
    case StateRole::kLeader: return "Leader";
    case StateRole::kPreCandidate: return "PreCandidate";
  }
  return "?";
}

bool is_local_msg(MessageType t) noexcept {
  return t == eraftpb::MsgHup || t == eraftpb::MsgBeat || t == eraftpb::MsgUnreachable ||
         t == eraftpb::MsgSnapStatus || t == eraftpb::MsgCheckQuorum;
}

bool is_response_msg(MessageType t) noexcept {
  return t == eraftpb::MsgAppendResponse || t == eraftpb::MsgRequestVoteResponse ||
         t == eraftpb::MsgHeartbeatResponse || t == eraftpb::MsgUnreachable ||
         t == eraftpb::MsgRequestPreVoteResponse;
}

MessageType vote_resp_msg_type(MessageType t) noexcept {
  return t == eraftpb::MsgRequestPreVote ? eraftpb::MsgRequestPreVoteResponse
                                         : eraftpb::MsgRequestVoteResponse;
}

uint64_t entry_size(const Entry& e) noexcept { return e.ByteSizeLong(); }

uint64_t payload_size(const Entry& e) noexcept { return e.data().size(); }

void limit_size(EntryVec& entries, uint64_t max_size) {
  if (entries.empty() || max_size == kNoLimit) return;
  uint64_t size = 0;
  size_t keep = 0;
  for (; keep < entries.size(); ++keep) {
    size += entry_size(entries[keep]);
    if (keep > 0 && size > max_size) break;
  }
  entries.resize(keep);
}

std::string describe(const Message& m) {
  std::ostringstream os;
  os << eraftpb::MessageType_Name(m.msg_type()) << ' ' << m.from() << "->" << m.to()
     << " term=" << m.term() << " log=" << m.log_term() << '/' << m.index()
     << " commit=" << m.commit();
  if (m.entries_size() > 0) {
    os << " entries=[";
    for (int i = 0; i < m.entries_size(); ++i) {
      if (i > 0) os << ' ';
      os << describe(m.entries(i));
    }
    os << ']';
  }
  if (m.reject()) os << " rejected hint=" << m.reject_hint();
  if (m.has_snapshot() && !is_empty_snapshot(m.snapshot())) {
    os << " snapshot=" << m.snapshot().metadata().index() << '/'
       << m.snapshot().metadata().term();
  }
  if (!m.context().empty()) os << " ctx=" << m.context();
  return os.str();
}

std::string describe(const Entry& e) {
  std::ostringstream os;
  os << e.term() << '/' << e.index();
  switch (e.entry_type()) {
    case eraftpb::EntryNormal:
      os << (e.data().empty() ? " empty" : " normal");
      break;
    case eraftpb::EntryConfChange: os << " confchange"; break;
    case eraftpb::EntryConfChangeV2: os << " confchangev2"; break;
    default: os << " type?"; break;
  }
  if (!e.data().empty() && e.entry_type() == eraftpb::EntryNormal && e.data().size() <= 32) {
    os << " \"" << e.data() << '"';
  }
  return os.str();
}

std::string describe(const HardState& hs) {
  std::ostringstream os;
  os << "term=" << hs.term() << " vote=" << hs.vote() << " commit=" << hs.commit();
  return os.str();
}

std::string describe(const ConfState& cs) {
  std::ostringstream os;
  auto list = [&os](const char* name, const auto& ids) {
    os << name << "=[";
    bool first = true;
    for (uint64_t id : ids) {
      os << (first ? "" : " ") << id;
      first = false;
    }
    os << ']';
  };
  list("voters", cs.voters());
  if (cs.voters_outgoing_size() > 0) list(" outgoing", cs.voters_outgoing());
  if (cs.learners_size() > 0) list(" learners", cs.learners());
  if (cs.learners_next_size() > 0) list(" learners_next", cs.learners_next());
  if (cs.auto_leave()) os << " autoleave";
  return os.str();
}

bool is_conf_change_entry(const Entry& e) noexcept {
  return e.entry_type() == eraftpb::EntryConfChange ||
         e.entry_type() == eraftpb::EntryConfChangeV2;
}

bool is_empty_snapshot(const Snapshot& s) noexcept { return s.metadata().index() == 0; }

}  // namespace raft
