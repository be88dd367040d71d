// SPDX-License-Identifier: Apache-2.0
#include "pipeline/alerts/disk_budget.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ivs::pipeline {
namespace {

using Paths = std::vector<std::string>;

TEST(DiskBudgetTest, deletes_the_oldest_files_first_to_stay_within_the_cap) {
  DiskBudget budget(1000);
  EXPECT_EQ(budget.add("a", 400), Paths{});
  EXPECT_EQ(budget.add("b", 400), Paths{});
  EXPECT_EQ(budget.add("c", 400), Paths{"a"});
  EXPECT_EQ(budget.total_bytes(), 800u);
  EXPECT_EQ(budget.add("d", 900), (Paths{"b", "c"}));
  EXPECT_EQ(budget.total_bytes(), 900u);
}

TEST(DiskBudgetTest, keeps_the_newest_file_even_when_it_alone_is_over_the_cap) {
  DiskBudget budget(100);
  EXPECT_EQ(budget.add("a", 50), Paths{});
  EXPECT_EQ(budget.add("b", 500), Paths{"a"});
  EXPECT_EQ(budget.files(), 1u);
  EXPECT_EQ(budget.add("c", 10), Paths{"b"});
}

TEST(DiskBudgetTest, zero_means_no_cap) {
  DiskBudget budget(0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(budget.add(std::to_string(i), 1u << 30), Paths{});
  EXPECT_EQ(budget.files(), 10u);
}

}  // namespace
}  // namespace ivs::pipeline
