// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "pipeline/alerts/alert_rule.h"

namespace ivs::pipeline {
namespace {

AlertRule valid() {
  AlertRule r;
  r.name = "fence";
  r.prompt = "a person climbing a fence";
  return r;
}

// The message of the error validate() throws for `r`, "" when it is valid.
std::string error_of(const AlertRule& r) {
  try {
    r.validate();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(AlertRuleTest, the_defaults_are_valid_and_use_the_default_negatives) {
  EXPECT_EQ(error_of(valid()), "");
  EXPECT_EQ(valid().effective_negatives(), default_alert_negatives());
  AlertRule r = valid();
  r.negatives = {"an empty fence", r.prompt};
  EXPECT_EQ(r.effective_negatives(), std::vector<std::string>{"an empty fence"})
      << "the prompt is left out of its own negatives";
}

TEST(AlertRuleTest, each_bad_value_names_its_field) {
  AlertRule r = valid();
  r.prompt = "";
  EXPECT_NE(error_of(r).find("prompt"), std::string::npos);
  r = valid();
  r.name = "";
  EXPECT_NE(error_of(r).find("name"), std::string::npos);
  r = valid();
  r.on_threshold = 0.3;
  r.off_threshold = 0.5;
  EXPECT_NE(error_of(r).find("off-threshold"), std::string::npos) << error_of(r);
  r = valid();
  r.on_threshold = 1.5;
  EXPECT_NE(error_of(r).find("on-threshold"), std::string::npos);
  r = valid();
  r.min_on_seconds = -1;
  EXPECT_NE(error_of(r).find("min-on"), std::string::npos);
  r = valid();
  r.min_off_seconds = -0.5;
  EXPECT_NE(error_of(r).find("min-off"), std::string::npos);
  r = valid();
  r.cooldown_seconds = -2;
  EXPECT_NE(error_of(r).find("cooldown"), std::string::npos);
  r = valid();
  r.smoothing = 0;
  EXPECT_NE(error_of(r).find("smoothing"), std::string::npos);
  r = valid();
  r.negatives = {r.prompt};
  EXPECT_NE(error_of(r).find("negatives"), std::string::npos) << "nothing left to compete with";
  r = valid();
  r.prompt = "a;b";
  EXPECT_NE(error_of(r).find("';'"), std::string::npos);
}

}  // namespace
}  // namespace ivs::pipeline
