// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/query_params.h"

#include <cstdint>
#include <ctime>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "sinks/result_json.h"

namespace ivs::search {
namespace {

using std::chrono::system_clock;

constexpr const char* kTimeForms =
    "ISO 8601 UTC (2026-12-07T08:00:00Z), unix seconds (1796630400), now, or a time before now "
    "(-90s, -15m, -2h, -1d)";

// Up to the year 9999: beyond it a time is a typo.
constexpr int64_t kLatestUnixSeconds = 253402300799;
constexpr int64_t kCenturySeconds = 100LL * 365 * 86400;

[[noreturn]] void bad_time(const std::string& parameter, const std::string& text) {
  throw SearchParamError(parameter, parameter + " '" + text + "' is not a time: use " + kTimeForms);
}

// The fraction ".25" (or "") as nanoseconds, exactly: doubles near 1.8e9 seconds lose them.
std::chrono::nanoseconds fraction(const std::string& dot_digits) {
  if (dot_digits.empty()) return std::chrono::nanoseconds(0);
  std::string digits = dot_digits.substr(1, 9);
  digits.resize(9, '0');
  return std::chrono::nanoseconds(std::stoll(digits));
}

system_clock::time_point at_unix(int64_t seconds, std::chrono::nanoseconds fraction) {
  return system_clock::time_point(
      std::chrono::duration_cast<system_clock::duration>(std::chrono::seconds(seconds) + fraction));
}

// "2026-12-07T08:00:00Z", "2026-12-07T08:00:00.250+01:00"; nullopt when the text is not of
// that shape or names no real date (Feb 30).
std::optional<system_clock::time_point> parse_iso8601(const std::string& text) {
  static const std::regex shape(
      R"((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2})))");
  std::smatch m;
  if (!std::regex_match(text, m, shape)) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(m[1]) - 1900;
  tm.tm_mon = std::stoi(m[2]) - 1;
  tm.tm_mday = std::stoi(m[3]);
  tm.tm_hour = std::stoi(m[4]);
  tm.tm_min = std::stoi(m[5]);
  tm.tm_sec = std::stoi(m[6]);
  const std::optional<std::time_t> t = sinks::checked_timegm(tm);
  if (!t) return std::nullopt;
  int64_t seconds = *t;
  if (m[9].matched) {  // local time = UTC + offset
    const int offset_minutes = std::stoi(m[10]) * 60 + std::stoi(m[11]);
    if (std::stoi(m[11]) > 59 || offset_minutes > 18 * 60) return std::nullopt;
    seconds -= (m[9] == "+" ? 1 : -1) * 60 * offset_minutes;
  }
  return at_unix(seconds, fraction(m[7]));
}

size_t parse_k(const std::string& text) {
  if (text.empty()) return kDefaultSearchK;
  const std::string bad = "k must be an integer from 1 to " + std::to_string(kMaxSearchK) +
                          " (the number of moments to return), got '" + text + "'";
  if (text.size() > 7 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw SearchParamError("k", bad);
  }
  const auto k = std::stoul(text);
  if (k < 1 || k > kMaxSearchK) throw SearchParamError("k", bad);
  return k;
}

// Repeated and comma-separated forms both work: ?stream=a&stream=b, ?stream=a,b, --stream a,b.
std::vector<std::string> parse_streams(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& value : values) {
    std::stringstream in(value);
    for (std::string item; std::getline(in, item, ',');) {
      const auto first = item.find_first_not_of(" \t");
      if (first == std::string::npos) continue;
      item = item.substr(first, item.find_last_not_of(" \t") - first + 1);
      if (seen.insert(item).second) out.push_back(item);
    }
  }
  return out;
}

}  // namespace

SearchParamError::SearchParamError(std::string parameter, const std::string& message)
    : std::invalid_argument(message), parameter_(std::move(parameter)) {}

system_clock::time_point parse_search_time(const std::string& parameter, const std::string& text,
                                           system_clock::time_point now) {
  if (text == "now") return now;
  if (auto iso = parse_iso8601(text)) return *iso;
  static const std::regex unix_seconds(R"((\d{1,12})(\.\d{1,9})?)");
  static const std::regex relative(R"(-(\d{1,9})(\.\d{1,9})?([smhd]))");
  std::smatch m;
  if (std::regex_match(text, m, unix_seconds)) {
    const int64_t seconds = std::stoll(m[1]);
    if (seconds > kLatestUnixSeconds) bad_time(parameter, text);
    return at_unix(seconds, fraction(m[2]));
  }
  if (std::regex_match(text, m, relative)) {
    const int64_t unit = m[3] == "s" ? 1 : m[3] == "m" ? 60 : m[3] == "h" ? 3600 : 86400;
    const int64_t whole = std::stoll(m[1]);
    if (whole * unit > kCenturySeconds) bad_time(parameter, text);  // a century back: a typo
    const auto back = std::chrono::seconds(whole * unit) + fraction(m[2]) * unit;
    return now - std::chrono::duration_cast<system_clock::duration>(back);
  }
  bad_time(parameter, text);
}

SearchRequest parse_search_params(const SearchParams& params, system_clock::time_point now) {
  SearchRequest request;
  if (params.q.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw SearchParamError("q", "the query q is empty: give the text to search for");
  }
  request.query = params.q;
  request.k = parse_k(params.k);
  request.filter.streams = parse_streams(params.streams);
  if (!params.from.empty()) request.filter.from = parse_search_time("from", params.from, now);
  if (!params.to.empty()) request.filter.to = parse_search_time("to", params.to, now);
  if (request.filter.from && request.filter.to && *request.filter.from > *request.filter.to) {
    throw SearchParamError("from", "from (" + sinks::format_timestamp(*request.filter.from) +
                                       ") is after to (" +
                                       sinks::format_timestamp(*request.filter.to) +
                                       "): give a from that is not later than to");
  }
  return request;
}

}  // namespace ivs::search
