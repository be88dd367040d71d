// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/config.h"

#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

constexpr const char* kMinimal = R"({
  "model_type": "internvl", "num_query_token": 96, "clip_embed_dim": 48, "attn_pool_num_heads": 8,
  "vision_config": {"hidden_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                    "intermediate_size": 128},
  "qllama_config": {"vocab_size": 100, "hidden_size": 24, "num_hidden_layers": 2,
                    "num_attention_heads": 4, "intermediate_size": 128}
})";

TEST(InternVLConfigTest, reads_the_fixture_config) {
  const auto path = test::internvl_tiny_dir() / "config.json";
  INTERNVL_REQUIRE_PATH(path);
  const auto c = InternVLConfig::from_json_file(path.string());
  EXPECT_EQ(c.kind, CheckpointKind::kInternVL);
  EXPECT_EQ(c.vision_config.hidden_size, 64);
  EXPECT_EQ(c.vision_config.num_positions(), 257);
  EXPECT_EQ(c.qllama_config.hidden_size, 24);
  EXPECT_EQ(c.qllama_config.vocab_size, 49954);
  EXPECT_EQ(c.num_query_token, 96);
  EXPECT_EQ(c.clip_embed_dim, 48);
  EXPECT_EQ(c.attn_pool_num_heads, 8);
  EXPECT_FALSE(c.force_image_size.has_value());
  EXPECT_TRUE(c.qllama_config.has_cross_attention(0));
  EXPECT_FALSE(c.qllama_config.has_cross_attention(1));
}

TEST(InternVLConfigTest, reads_a_vision_only_config) {
  const auto path = test::internvl_tiny_dir() / "internvit-tiny" / "config.json";
  INTERNVL_REQUIRE_PATH(path);
  const auto c = InternVLConfig::from_json_file(path.string());
  EXPECT_EQ(c.kind, CheckpointKind::kVisionOnly);
  EXPECT_EQ(c.vision_config.num_hidden_layers, 2);
}

TEST(InternVLConfigTest, defaults_fill_optional_keys) {
  const auto c = InternVLConfig::from_json_text(kMinimal, "inline");
  EXPECT_EQ(c.vision_config.patch_size, 14);
  EXPECT_TRUE(c.vision_config.qk_normalization);
  EXPECT_EQ(c.qllama_config.cross_attention_frequency, 2);
  EXPECT_EQ(c.qllama_config.eos_token_id, 2);
}

TEST(InternVLConfigTest, errors_name_the_file_and_key) {
  auto expect_error = [](const std::string& text, const std::string& needle) {
    try {
      InternVLConfig::from_json_text(text, "my/config.json");
      ADD_FAILURE() << "no error for " << text;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("my/config.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error("{not json", "not valid JSON");
  expect_error("[]", "JSON object");
  expect_error(R"({"model_type": "llama"})", "llama");
  std::string missing = kMinimal;
  missing.replace(missing.find("\"hidden_size\": 64, "), 19, "");
  expect_error(missing, "vision_config.hidden_size");
  std::string wrong_type = kMinimal;
  wrong_type.replace(wrong_type.find("\"vocab_size\": 100"), 17, "\"vocab_size\": \"big\"");
  expect_error(wrong_type, "qllama_config.vocab_size");
  std::string bad_heads = kMinimal;
  bad_heads.replace(bad_heads.find("\"num_attention_heads\": 4"), 24, "\"num_attention_heads\": 5");
  expect_error(bad_heads, "num_attention_heads");
  EXPECT_THROW(InternVLConfig::from_json_file("/nonexistent/config.json"), ConfigError);
}

// Sizes no InternVL checkpoint has are refused before anything is allocated for them
// (num_hidden_layers: 1e8 once made `internvl inspect` allocate 7.3 GB).
TEST(InternVLConfigTest, refuses_sizes_far_beyond_any_checkpoint) {
  struct Case {
    const char* from;
    const char* to;
    const char* needle;
  };
  for (const Case& c : {
           Case{"\"num_hidden_layers\": 2,\n", "\"num_hidden_layers\": 100000000,\n",
                "vision num_hidden_layers is 100000000, more than 1024"},
           Case{"\"vocab_size\": 100", "\"vocab_size\": 4000000000", "qllama vocab_size"},
           Case{"\"intermediate_size\": 128}\n}", "\"intermediate_size\": 1000000000}\n}",
                "qllama intermediate_size"},
           Case{"\"num_query_token\": 96", "\"num_query_token\": 10000000", "num_query_token"},
       }) {
    std::string text = kMinimal;
    const auto at = text.find(c.from);
    ASSERT_NE(at, std::string::npos) << c.from;
    text.replace(at, std::string(c.from).size(), c.to);
    try {
      InternVLConfig::from_json_text(text, "my/config.json");
      ADD_FAILURE() << "no error for " << c.to;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(c.needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("damaged"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ivs::model
