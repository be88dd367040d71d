// SPDX-License-Identifier: Apache-2.0
// IEEE 754 half precision for stored embeddings: halves the database per frame, and a cosine
// similarity loses about 1e-3 at most, far below what separates a match from a miss.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ivs::search {

/// Rounds to nearest even; values beyond the half range become infinity.
std::vector<uint16_t> to_float16(const std::vector<float>& values);

/// `count` halves at `halves` to float, appended to `out`.
void append_from_float16(const uint16_t* halves, size_t count, std::vector<float>& out);

}  // namespace ivs::search
