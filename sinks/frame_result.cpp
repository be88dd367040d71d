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
  }
  return "event";
}

}  // namespace ivs::sinks
