// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/text_query.h"

#include <cmath>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "model/internvl/zero_shot.h"
#include "tests/common/test_paths.h"
#include "tests/model/internvl/fixture.h"
#include "tests/model/internvl/tensor_compare.h"

namespace ivs::model {
namespace {

at::Tensor as_row(const std::vector<float>& values) {
  return at::tensor(values).view({1, static_cast<int64_t>(values.size())});
}

// A query is the label path with no template: the query "red square" is the class embedding of
// the label "red square" under "{}", whatever other labels share the set.
TEST(TextQueryTest, a_query_equals_the_class_embedding_of_the_same_label) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  c10::InferenceMode guard;
  const auto& loaded = test::tiny_model();
  const auto& m = loaded.full_model();
  const ZeroShotClassifier classifier(m, loaded.text_tokenizer(),
                                      {{"gradient", "red square", "a checkerboard"}, {"{}"}});
  for (int64_t i = 0; i < 3; ++i) {
    const auto query = embed_text_query(m, loaded.text_tokenizer(), classifier.labels().labels[i]);
    ASSERT_EQ(static_cast<int64_t>(query.size()), classifier.class_embeddings().size(1));
    EXPECT_TRUE(test::tensors_close(as_row(query), classifier.class_embeddings().slice(0, i, i + 1),
                                    1e-5, "query"));
    EXPECT_NEAR(as_row(query).norm().item<double>(), 1.0, 1e-5);
  }
}

// Both image modes are scored against the same text embedding (the official logits do so).
TEST(TextQueryTest, the_query_scores_images_as_the_model_logits_do) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  c10::InferenceMode guard;
  const auto& loaded = test::tiny_model();
  const auto& m = loaded.full_model();
  const auto query = as_row(embed_text_query(m, loaded.text_tokenizer(), "a red square"));
  const auto pixels = loaded.pixel_values(test::tiny_images());
  for (const auto mode : {EmbeddingMode::kC, EmbeddingMode::kG}) {
    const auto images = m.encode_image(pixels, mode);
    const auto batch = loaded.text_tokenizer().encode_for_retrieval({"a red square"});
    const auto ids = at::tensor(batch.ids, at::kLong).view({batch.batch, batch.length});
    const auto logits = m.logits_per_image(images, m.encode_text(ids));
    const auto cosine = at::matmul(l2_normalize(images), query.t());
    EXPECT_TRUE(test::tensors_close(m.logit_scale_exp() * cosine, logits, 1e-5, "logits"));
  }
}

TEST(TextQueryTest, a_blank_query_is_an_error_that_says_so) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  const auto& loaded = test::tiny_model();
  for (const char* text : {"", "  \t"}) {
    try {
      embed_text_query(loaded.full_model(), loaded.text_tokenizer(), text);
      FAIL() << "no error for '" << text << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("query is empty"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ivs::model
