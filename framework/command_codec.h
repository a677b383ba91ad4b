// What the framework adds to the log's payloads so that an outcome finds its way back to the
// request that caused it, on whichever node the request was made.
//
// A command entry's data is
//
//     u8 kind = 1 | u64 origin node | u64 request id | the application's command
//
// (little-endian); an entry with empty data is the core's own (a new leader's empty entry). A
// membership change's context is
//
//     u8 kind = 2 | u64 origin node | u64 request id | u32 count | count × member address
//     member address = u64 id | u16 port | u16 host length | host bytes
//
// giving every member the address of each node the change adds. The core hands a forwarded
// change that the leader refused back as an empty normal entry carrying the same context, which
// is how the origin learns of the refusal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "net/transport.h"

namespace framework {

// Where a request came from: the node it was made on and its id there. Request ids are unique
// per node incarnation (they start from a random-ish base at each start), so a replayed entry of
// an earlier run never resolves a request of this one.
struct RequestTag {
  uint64_t origin = 0;
  uint64_t request = 0;
  bool operator==(const RequestTag&) const = default;
};

struct DecodedCommand {
  RequestTag tag;
  std::string_view command;  // points into the entry's data
};

inline constexpr size_t kCommandHeaderBytes = 17;

std::string encode_command(RequestTag tag, std::string_view command);
// nullopt for data that is not a framework command (empty, or a foreign format).
std::optional<DecodedCommand> decode_command(std::string_view data);

struct ConfContext {
  RequestTag tag;
  std::map<uint64_t, net::PeerAddress> addresses;
};

std::string encode_conf_context(const ConfContext& context);
std::optional<ConfContext> decode_conf_context(std::string_view data);

// The ReadIndex context of a read request: origin and request id (16 bytes). The leader tracks
// pending reads from every node by context, so it must be unique across the cluster.
std::string encode_read_context(RequestTag tag);
std::optional<RequestTag> decode_read_context(std::string_view data);

}  // namespace framework
