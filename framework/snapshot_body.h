// What a snapshot file's body holds: a short framework section, then the state machine's bytes.
//
//     u32 section length | section | StateSnapshot::write's bytes
//
// The section is a membership context (command_codec.h, with an empty request tag) giving the
// address of every member that joined through a membership change: once the log that carried
// those changes is compacted, a node restarting from the snapshot learns them from here.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <ostream>

#include "framework/state_machine.h"
#include "net/transport.h"

namespace framework {

using AddressMap = std::map<uint64_t, net::PeerAddress>;

// Writes the section, then the state machine's bytes. Throws what the view throws, or
// std::runtime_error when the stream fails.
void write_snapshot_body(std::ostream& out, const AddressMap& addresses, StateSnapshot& view);

// Reads the section and leaves `in` at the state machine's bytes. Throws std::runtime_error on a
// short or malformed section.
AddressMap read_snapshot_section(std::istream& in);

}  // namespace framework
