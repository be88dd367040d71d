// SPDX-License-Identifier: Apache-2.0
// A moment as JSON: the one spelling the CLI (`internvl search --json`) and the REST search
// share; each adds only how its user reaches the thumbnail (a URL, a saved file).
#pragma once

#include <nlohmann/json.hpp>

#include "sinks/index/search_index.h"

namespace ivs::search {

/// {stream, start_seconds, end_seconds, start_time, end_time, score, frame_id, id, frames}:
/// stream times in seconds, wall-clock times as the wire format writes them, `id` the index's
/// id of the best frame (it names the thumbnail).
nlohmann::json moment_json(const Moment& moment);

}  // namespace ivs::search
