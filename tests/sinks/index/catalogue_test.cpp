// SPDX-License-Identifier: Apache-2.0
#include "sinks/index/catalogue.h"

#include <gtest/gtest.h>

namespace ivs::search {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

/// Rows 10..29: streams a and b alternating, wall time = id seconds, thumbnails on ids % 3 == 0.
Catalogue make_catalogue() {
  Catalogue catalogue;
  for (int64_t id = 10; id < 30; ++id) {
    catalogue.append(
        {id, id * 1'000'000'000, id, id, catalogue.stream_index(id % 2 ? "a" : "b"), id % 3 == 0});
  }
  return catalogue;
}

TEST(CatalogueTest, select_admits_exactly_the_filtered_rows) {
  const Catalogue catalogue = make_catalogue();
  EXPECT_FALSE(catalogue.select({}));  // no filter: no selector
  SearchFilter filter;
  filter.streams = {"a"};
  filter.from = system_clock::time_point(seconds(15));
  filter.to = system_clock::time_point(seconds(21));
  const auto selection = catalogue.select(filter);
  ASSERT_TRUE(selection);
  EXPECT_EQ(selection->count(), 4u);  // 15, 17, 19, 21: bounds inclusive
  for (int64_t id = 0; id < 40; ++id) {
    const bool expected = id >= 15 && id <= 21 && id % 2 == 1;
    EXPECT_EQ(selection->is_member(id), expected) << id;
  }
  filter.streams = {"nope"};
  EXPECT_EQ(catalogue.select(filter)->count(), 0u);
}

TEST(CatalogueTest, erase_keeps_lookups_and_latest_thumbnails_right) {
  Catalogue catalogue = make_catalogue();
  EXPECT_EQ(catalogue.latest_thumbnail_id("a"), 27);
  EXPECT_EQ(catalogue.latest_thumbnail_id("b"), 24);
  EXPECT_FALSE(catalogue.latest_thumbnail_id("c"));
  EXPECT_EQ(catalogue.erase_through(24), 15u);
  EXPECT_EQ(catalogue.size(), 5u);
  EXPECT_FALSE(catalogue.contains(24));
  ASSERT_NE(catalogue.find(25), nullptr);
  EXPECT_EQ(catalogue.find(25)->frame_id, 25);
  EXPECT_EQ(catalogue.latest_thumbnail_id("a"), 27);
  EXPECT_FALSE(catalogue.latest_thumbnail_id("b"));  // its only thumbnails were deleted
  catalogue.append({30, 30'000'000'000, 30, 30, *catalogue.find_stream("b"), true});
  EXPECT_EQ(catalogue.latest_thumbnail_id("b"), 30);
}

}  // namespace
}  // namespace ivs::search
