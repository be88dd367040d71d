// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "pipeline/alerts/alert_rules_yaml.h"

namespace ivs::pipeline {
namespace {

namespace fs = std::filesystem;

class AlertRulesYamlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("alert_rules_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  // The message load_alert_rules_file throws for `yaml`, "" when it loads.
  std::string error_of(const std::string& yaml) {
    try {
      load_alert_rules_file(write("rules.yaml", yaml));
    } catch (const config::ConfigError& e) {
      return e.what();
    }
    return "";
  }
  fs::path dir_;
};

TEST_F(AlertRulesYamlTest, a_list_of_rules_with_either_spelling_of_the_keys) {
  write("negatives.txt", "# the fence on its own\nan empty fence\na fence at night\n");
  const auto rules = load_alert_rules_file(write("rules.yaml", R"(
- name: fence
  prompt: a person climbing a fence
  negatives-file: negatives.txt
  on-threshold: 0.7
  off-threshold: 0.3
  min-on: 0.5
  min-off: 1.5
  cooldown: 10
  smoothing: 3
- name: car
  prompt: a car in the driveway
  negatives: "an empty driveway; a bicycle"
  on_threshold: 0.8
)"));
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].name, "fence");
  EXPECT_EQ(rules[0].negatives, (std::vector<std::string>{"an empty fence", "a fence at night"}));
  EXPECT_DOUBLE_EQ(rules[0].on_threshold, 0.7);
  EXPECT_DOUBLE_EQ(rules[0].off_threshold, 0.3);
  EXPECT_DOUBLE_EQ(rules[0].min_on_seconds, 0.5);
  EXPECT_DOUBLE_EQ(rules[0].min_off_seconds, 1.5);
  EXPECT_DOUBLE_EQ(rules[0].cooldown_seconds, 10);
  EXPECT_EQ(rules[0].smoothing, 3u);
  EXPECT_EQ(rules[1].negatives, (std::vector<std::string>{"an empty driveway", "a bicycle"}));
  EXPECT_DOUBLE_EQ(rules[1].on_threshold, 0.8);
  EXPECT_DOUBLE_EQ(rules[1].off_threshold, AlertRule().off_threshold);
}

TEST_F(AlertRulesYamlTest, a_mapping_with_a_rules_list_is_accepted_too) {
  EXPECT_EQ(error_of("rules:\n  - name: a\n    prompt: b\n"), "");
}

TEST_F(AlertRulesYamlTest, bad_rules_are_errors_naming_the_file_the_rule_and_the_field) {
  std::string e = error_of("- name: a\n  prompt: b\n  on_treshold: 0.5\n");
  EXPECT_NE(e.find("rules[0].on_treshold"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
  e = error_of("- name: a\n  prompt: b\n  on-threshold: 0.3\n  off-threshold: 0.5\n");
  EXPECT_NE(e.find("off-threshold"), std::string::npos) << e;
  EXPECT_NE(e.find("rules.yaml"), std::string::npos) << e;
  e = error_of("- name: a\n  prompt: ''\n");
  EXPECT_NE(e.find("prompt"), std::string::npos) << e;
  e = error_of("- name: a\n  prompt: b\n  min-on: -1\n");
  EXPECT_NE(e.find("min-on"), std::string::npos) << e;
  e = error_of("- name: a\n  prompt: b\n- name: a\n  prompt: c\n");
  EXPECT_NE(e.find("used twice"), std::string::npos) << e;
  e = error_of("- name: a\n  prompt: b\n  negatives_file: missing.txt\n");
  EXPECT_NE(e.find("missing.txt"), std::string::npos) << e;
  e = error_of("name: a\n");
  EXPECT_NE(e.find("rules"), std::string::npos) << e;
  e = error_of("- [unclosed\n");
  EXPECT_NE(e.find("not valid YAML"), std::string::npos) << e;
}

TEST_F(AlertRulesYamlTest, an_untrusted_source_may_not_name_files) {
  const std::string origin = "REST body";
  const YAML::Node node = YAML::Load("name: a\nprompt: b\nnegatives_file: /etc/passwd\n");
  try {
    read_alert_rule(node, config::Place{&origin, "alerts[0]", -1, /*trusted=*/false}, "");
    FAIL() << "accepted a file over REST";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("REST"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ivs::pipeline
