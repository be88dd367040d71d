// SPDX-License-Identifier: Apache-2.0
// Small helpers both benchmarks share (internvl bench and tests/bench/engine_streams.cpp): their
// comma-separated size lists, percentiles and fixed-point text. Header-only and free of LibTorch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "model/common/errors.h"

namespace ivs::cli {

/// "1,8,64" -> {1, 8, 64}; empty items are skipped. Throws model::InputError "<flag> takes
/// positive integers such as <example>" for an item that is not one, "<flag> is empty" for none.
inline std::vector<int64_t> parse_positive_list(const std::string& text, const std::string& flag,
                                                const std::string& example) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    size_t used = 0;
    long long value = 0;
    try {
      value = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || value < 1) {
      throw model::InputError(flag + " takes positive integers such as " + example + " (got '" +
                              item + "')");
    }
    out.push_back(value);
  }
  if (out.empty()) throw model::InputError(flag + " is empty");
  return out;
}

/// Nearest-rank percentile of unsorted, non-empty samples (q in [0, 1]).
inline double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

/// `value` with `decimals` digits after the point ("nan" for NaN).
inline std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace ivs::cli
