// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/tokenizer.h"

#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

class TokenizerTest : public ::testing::Test {
 protected:
  void SetUp() override { INTERNVL_REQUIRE_PATH(test::qllama_tokenizer_path()); }
  Tokenizer tokenizer() const { return Tokenizer(test::qllama_tokenizer_path().string()); }
};

// The reference ids of model/README.md, "Tokenizer" (sp.encode of the shipped model).
TEST_F(TokenizerTest, reproduces_the_reference_ids) {
  const auto t = tokenizer();
  EXPECT_EQ(t.vocab_size(), 49954);
  EXPECT_EQ(t.encode("summarize:", false, false), (std::vector<int64_t>{19138, 675, 29901}));
  EXPECT_EQ(t.encode("summarize:a photo of a red panda", false, false),
            (std::vector<int64_t>{19138, 675, 29901, 29874, 15373, 310, 263, 2654, 282, 5863}));
  EXPECT_EQ(t.encode("summarize:一张熊猫的照片", false, false),
            (std::vector<int64_t>{19138, 675, 29901, 33823, 40351, 36580}));
  EXPECT_EQ(t.encode("summarize:二匹の猫の写真", false, false),
            (std::vector<int64_t>{19138, 675, 29901, 30685, 37015, 30199, 33155, 30199, 41971}));
  EXPECT_EQ(t.encode("summarize:a photo of a dog.", false, false),
            (std::vector<int64_t>{19138, 675, 29901, 29874, 15373, 310, 263, 11203, 29889}));
  EXPECT_EQ(t.encode_prompt("English caption:"), (std::vector<int64_t>{1, 4223, 5777, 683, 29901}));
}

TEST_F(TokenizerTest, retrieval_batch_has_prefix_bos_eos_and_right_padding) {
  const auto batch =
      tokenizer().encode_for_retrieval({"a photo of a red panda", "a photo of a dog."});
  ASSERT_EQ(batch.batch, 2);
  ASSERT_EQ(batch.length, 80);
  const std::vector<int64_t> first(batch.ids.begin(), batch.ids.begin() + 13);
  EXPECT_EQ(first, (std::vector<int64_t>{1, 19138, 675, 29901, 29874, 15373, 310, 263, 2654, 282,
                                         5863, 2, 0}));
  EXPECT_TRUE(std::all_of(batch.ids.begin() + 12, batch.ids.begin() + 80,
                          [](int64_t id) { return id == 0; }));
  EXPECT_EQ(batch.ids[80 + 10], 2);  // second row: BOS + 9 content tokens, then EOS
}

TEST_F(TokenizerTest, truncation_keeps_bos_and_eos) {
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += "panda ";
  const auto batch = tokenizer().encode_for_retrieval({long_text, "dog"});
  EXPECT_EQ(batch.length, 80);
  EXPECT_EQ(batch.ids.front(), Tokenizer::kBos);
  EXPECT_EQ(batch.ids[79], Tokenizer::kEos);
  EXPECT_NE(batch.ids[78], Tokenizer::kPad);
  const auto shortest = tokenizer().encode_for_retrieval({"dog", "a cat"}, 80, false);
  EXPECT_LT(shortest.length, 80);  // padded to the longest text only
}

TEST_F(TokenizerTest, decode_skips_special_tokens_and_strips) {
  const auto t = tokenizer();
  EXPECT_EQ(t.decode({1, 29874, 15373, 310, 263, 2654, 282, 5863, 2, 0, 0}),
            "a photo of a red panda");
  EXPECT_EQ(t.decode({}), "");
  const auto ids = t.encode("二匹の猫の写真", true, true);
  EXPECT_EQ(t.decode(ids), "二匹の猫の写真");
}

TEST(TokenizerErrorTest, missing_model_file_names_it) {
  try {
    Tokenizer t("/nonexistent/tokenizer.model");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model"), std::string::npos);
  }
}

}  // namespace
}  // namespace ivs::model
