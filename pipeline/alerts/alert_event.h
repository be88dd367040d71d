// SPDX-License-Identifier: Apache-2.0
// One start or end of an alert: what internvlalert emits for a rule of a stream, and what
// internvlrecord, internvlpublish (wire kind `event`) and the service read.
#pragma once

#include <cstdint>
#include <string>

#include "pipeline/engine/result_records.h"

namespace ivs::pipeline {

enum class AlertState { kStart, kEnd };
const char* alert_state_name(AlertState state);  // "start", "end"

struct AlertEvent {
  std::string id;         // unique in the process: "<stream>-<rule>-<n>"; names its files
  std::string stream_id;  // the stream the rule watches
  std::string rule;       // rule name
  std::string prompt;
  AlertState state = AlertState::kStart;
  uint64_t start_pts = kNoClockTime;  // stream time (ns) the event started
  uint64_t end_pts = kNoClockTime;    // on kEnd: stream time it ended
  double probability = 0.0;           // of the sample that caused this start or end
  double peak_probability = 0.0;      // highest since the start
  uint64_t start_frame = 0;           // frame numbers of the element's stream
  uint64_t frame = 0;                 // the frame that caused this start or end
  std::string snapshot_path;          // JPEG of the starting frame; empty when none is written
  std::string clip_path;              // on kEnd: the clip internvlrecord will write; may be empty
};

}  // namespace ivs::pipeline
