// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/moment_json.h"

#include "sinks/result_json.h"

namespace ivs::search {

nlohmann::json moment_json(const Moment& moment) {
  return {{"stream", moment.stream},
          {"start_seconds", moment.start_seconds},
          {"end_seconds", moment.end_seconds},
          {"start_time", sinks::format_timestamp(moment.start_wall)},
          {"end_time", sinks::format_timestamp(moment.end_wall)},
          {"score", moment.score},
          {"frame_id", moment.best_frame_id},
          {"id", moment.best_id},
          {"frames", moment.frames}};
}

}  // namespace ivs::search
