// SPDX-License-Identifier: Apache-2.0
// The one parser of search request parameters, shared by `internvl search` and the service's
// REST search (GET /api/v1/search?q=&k=&stream=&from=&to=), so both accept the same texts and
// reject bad ones with the same messages. Plain C++: no SQLite, FAISS or HTTP.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sinks/index/search_index.h"

namespace ivs::search {

inline constexpr size_t kDefaultSearchK = 10;  // moments returned when k is not given
inline constexpr size_t kMaxSearchK = 1000;

/// The parameters as text, as a command line or a query string gives them; absent ones empty.
struct SearchParams {
  std::string q;                     // the query text
  std::string k;                     // "" or "1".."1000"
  std::vector<std::string> streams;  // each "cam01" or "cam01,cam02" (repeated and/or listed)
  std::string from;                  // "" or a time (parse_search_time)
  std::string to;
};

/// A parsed, valid request: what SearchIndex::search takes, plus the query to embed.
struct SearchRequest {
  std::string query;  // as given (not trimmed): the text the model embeds
  size_t k = kDefaultSearchK;
  SearchFilter filter;
};

/// A bad parameter. parameter() is its name ("q", "k", "stream", "from", "to"), so REST answers
/// 400 naming it; what() says what was wrong and which forms are accepted.
class SearchParamError : public std::invalid_argument {
 public:
  SearchParamError(std::string parameter, const std::string& message);
  const std::string& parameter() const { return parameter_; }

 private:
  std::string parameter_;
};

/// Parses and checks every parameter: q not blank; k an integer in 1..kMaxSearchK (default
/// kDefaultSearchK); streams split at commas, blanks dropped, duplicates removed (order kept);
/// from/to by parse_search_time against `now`; from after to is an error naming both. Throws
/// SearchParamError. Thread-safe.
SearchRequest parse_search_params(const SearchParams& params,
                                  std::chrono::system_clock::time_point now);

/// One time parameter named `parameter` ("from", "to"): ISO 8601 UTC such as
/// "2026-12-07T08:00:00Z" (fractional seconds and a "+01:00" offset allowed), unix seconds such
/// as "1796630400" or "1796630400.5", "now", or a time before `now` such as "-90s", "-15m",
/// "-2h", "-1d". Throws SearchParamError naming the parameter and these forms.
std::chrono::system_clock::time_point parse_search_time(const std::string& parameter,
                                                        const std::string& text,
                                                        std::chrono::system_clock::time_point now);

}  // namespace ivs::search
