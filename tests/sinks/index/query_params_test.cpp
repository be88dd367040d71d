// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/query_params.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ivs::search {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::system_clock;

// 2026-12-07T08:00:00Z
const system_clock::time_point kNow = system_clock::time_point(seconds(1796630400));

SearchParams query(const std::string& q) {
  SearchParams p;
  p.q = q;
  return p;
}

// The message of the SearchParamError `params` raise, after checking the parameter it names.
std::string error_of(const SearchParams& params, const std::string& parameter) {
  try {
    parse_search_params(params, kNow);
  } catch (const SearchParamError& e) {
    EXPECT_EQ(e.parameter(), parameter) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error; expected one naming " << parameter;
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(QueryParamsTest, defaults_leave_every_filter_open) {
  const auto r = parse_search_params(query("a red van"), kNow);
  EXPECT_EQ(r.query, "a red van");
  EXPECT_EQ(r.k, kDefaultSearchK);
  EXPECT_EQ(r.k, 10u);
  EXPECT_TRUE(r.filter.streams.empty());
  EXPECT_FALSE(r.filter.from.has_value());
  EXPECT_FALSE(r.filter.to.has_value());
}

TEST(QueryParamsTest, a_blank_query_names_q) {
  for (const char* q : {"", "   ", "\t\n"}) {
    EXPECT_TRUE(contains(error_of(query(q), "q"), "q is empty")) << "'" << q << "'";
  }
}

TEST(QueryParamsTest, k_is_an_integer_from_1_to_1000) {
  struct Case {
    const char* text;
    bool valid;
  };
  for (const auto& c : std::vector<Case>{{"1", true},
                                         {"1000", true},
                                         {"25", true},
                                         {"0", false},
                                         {"1001", false},
                                         {"-3", false},
                                         {"2.5", false},
                                         {"ten", false},
                                         {"99999999999999999999", false},
                                         {" 5", false}}) {
    auto p = query("x");
    p.k = c.text;
    if (c.valid) {
      EXPECT_EQ(parse_search_params(p, kNow).k, std::stoul(c.text));
    } else {
      const auto message = error_of(p, "k");
      EXPECT_TRUE(contains(message, "from 1 to 1000")) << message;
      EXPECT_TRUE(contains(message, c.text)) << message;
    }
  }
}

TEST(QueryParamsTest, streams_are_repeated_or_listed_trimmed_and_unique) {
  auto p = query("x");
  p.streams = {"cam01", " cam02 , cam03,,", "cam01", " "};
  EXPECT_EQ(parse_search_params(p, kNow).filter.streams,
            (std::vector<std::string>{"cam01", "cam02", "cam03"}));
}

TEST(QueryParamsTest, times_in_every_accepted_form) {
  struct Case {
    const char* text;
    system_clock::time_point want;
  };
  const auto t = kNow;
  for (const auto& c : std::vector<Case>{
           {"2026-12-07T08:00:00Z", t},
           {"2026-12-07T09:30:00+01:30", t},
           {"2026-12-07T07:00:00-01:00", t},
           {"2026-12-07T08:00:00.250Z", t + std::chrono::milliseconds(250)},
           {"1796630400", t},
           {"1796630400.5", t + std::chrono::milliseconds(500)},
           {"now", t},
           {"-90s", t - seconds(90)},
           {"-15m", t - minutes(15)},
           {"-2h", t - hours(2)},
           {"-1d", t - hours(24)},
           {"-1.5h", t - minutes(90)},
           {"2024-02-29T00:00:00Z", system_clock::time_point(seconds(1709164800))},
       }) {
    EXPECT_EQ(parse_search_time("from", c.text, kNow), c.want) << c.text;
  }
}

TEST(QueryParamsTest, bad_times_name_the_parameter_and_the_accepted_forms) {
  for (const char* text : {"yesterday", "2026-12-07", "2026-12-07T08:00:00", "2026-02-30T00:00:00Z",
                           "2026-12-07T25:00:00Z", "-15", "-15w", "15m", "+2h", "1e9",
                           "2026-12-07T08:00:00+25:00", "99999999999999"}) {
    for (const char* parameter : {"from", "to"}) {
      auto p = query("x");
      (std::string(parameter) == "from" ? p.from : p.to) = text;
      const auto message = error_of(p, parameter);
      EXPECT_TRUE(contains(message, std::string(parameter) + " '" + text + "'")) << message;
      EXPECT_TRUE(contains(message, "2026-12-07T08:00:00Z")) << message;
      EXPECT_TRUE(contains(message, "-15m")) << message;
    }
  }
}

TEST(QueryParamsTest, from_and_to_bound_the_window_and_from_after_to_is_an_error) {
  auto p = query("x");
  p.from = "-2h";
  p.to = "-1h";
  const auto r = parse_search_params(p, kNow);
  EXPECT_EQ(r.filter.from, kNow - hours(2));
  EXPECT_EQ(r.filter.to, kNow - hours(1));
  p.from = "-1h";
  p.to = "-1h";  // one instant: allowed (both ends are inclusive)
  EXPECT_NO_THROW(parse_search_params(p, kNow));
  p.from = "now";
  p.to = "2026-12-07T07:00:00Z";
  const auto message = error_of(p, "from");
  EXPECT_TRUE(contains(message, "is after to")) << message;
  EXPECT_TRUE(contains(message, "from (2026-12-07T08:00:00.000Z)")) << message;
  EXPECT_TRUE(contains(message, "to (2026-12-07T07:00:00.000Z)")) << message;
}

}  // namespace
}  // namespace ivs::search
