// SPDX-License-Identifier: Apache-2.0
// One start or end of an alert: what internvlalert emits for a rule of a stream, and what
// internvlrecord, internvlpublish (wire kind `event`) and the service read.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/engine/result_records.h"

namespace ivs::pipeline {

/// The event is the meta's EventRecord (pipeline/engine/result_records.h): one type from the
/// alert element through the meta and the channel to the sinks.
using AlertEvent = EventRecord;
const char* alert_state_name(AlertState state);  // "start", "end"

}  // namespace ivs::pipeline
