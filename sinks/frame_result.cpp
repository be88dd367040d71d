// SPDX-License-Identifier: Apache-2.0
#include "sinks/frame_result.h"

namespace ivs::sinks {

const char* result_kind_name(ResultKind kind) {
  switch (kind) {
    case ResultKind::kClassification:
      return "classification";
    case ResultKind::kCaption:
      return "caption";
    case ResultKind::kEvent:
      return "event";
    case ResultKind::kEmbedding:
      return "embedding";
  }
  return "event";
}

const char* event_state_name(EventState state) {
  return state == EventState::kStart ? "start" : "end";
}

}  // namespace ivs::sinks
