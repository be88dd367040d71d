// SPDX-License-Identifier: Apache-2.0
// The wire JSON (sinks/result_json.h): result_from_json on hostile messages. The only accepted
// failure is the documented std::invalid_argument. A message it accepts must survive a round
// trip: written again by result_to_json, it parses again (what a relay of results does).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "sinks/result_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ivs::sinks::FrameResult result;
  try {
    result = ivs::sinks::result_from_json(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const std::invalid_argument&) {
    return 0;
  }
  ivs::sinks::result_from_json(ivs::sinks::result_to_json(result));  // throws: a finding
  return 0;
}
