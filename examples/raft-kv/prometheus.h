// Renders a node's metrics (framework/metrics.h) in the Prometheus text exposition format 0.0.4.
// Every metric is prefixed raft_ and documented with # HELP and # TYPE lines.
#pragma once

#include <string>

#include "framework/metrics.h"

namespace raftkv {

std::string render_prometheus(const framework::NodeMetrics& metrics);

}  // namespace raftkv
