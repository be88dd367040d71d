// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/zero_shot.h"

#include <fstream>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "tests/common/test_paths.h"
#include "tests/model/internvl/fixture.h"
#include "tests/model/internvl/tensor_compare.h"

namespace ivs::model {
namespace {

TEST(ZeroShotTest, parses_labels_and_formats_templates) {
  EXPECT_EQ(parse_label_list(" cat ; dog;;a red panda "),
            (std::vector<std::string>{"cat", "dog", "a red panda"}));
  EXPECT_TRUE(parse_label_list(" ; ").empty());
  EXPECT_EQ(format_template("a photo of a {}.", "dog"), "a photo of a dog.");
  EXPECT_EQ(format_template("itap of a {c}.", "cat"), "itap of a cat.");
  EXPECT_EQ(format_template("{} and {}", "x"), "x and x");
}

TEST(ZeroShotTest, label_files_skip_comments_and_report_problems) {
  const auto dir = test::scratch_dir("zero_shot_files");
  std::ofstream(dir / "labels.txt") << "# kinetics subset\nplaying guitar\n\n  surfing  \n";
  EXPECT_EQ(read_lines_file((dir / "labels.txt").string(), "labels"),
            (std::vector<std::string>{"playing guitar", "surfing"}));
  std::ofstream(dir / "empty.txt") << "# nothing\n\n";
  EXPECT_THROW(read_lines_file((dir / "empty.txt").string(), "labels"), InputError);
  try {
    read_lines_file((dir / "missing.txt").string(), "labels");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos);
  }
  EXPECT_THROW((LabelSet{{}, {"{}"}}.validate()), InputError);
  EXPECT_THROW((LabelSet{{"a", "a"}, {"{}"}}.validate()), InputError);
  EXPECT_THROW((LabelSet{{"a"}, {"no placeholder"}}.validate()), InputError);
}

// The class embedding is the renormalised mean of the per-template normalised text embeddings,
// and probabilities are softmax(exp(logit_scale) * cosine) — computed here by hand.
TEST(ZeroShotTest, template_ensemble_and_scores_match_a_manual_computation) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  c10::InferenceMode guard;
  const auto& loaded = test::tiny_model();
  const auto& m = loaded.full_model();
  const LabelSet labels{{"red panda", "dog", "checkerboard"},
                        {"a photo of a {}.", "a drawing of a {}."}};
  const ZeroShotClassifier classifier(m, loaded.text_tokenizer(), labels);
  std::vector<at::Tensor> manual;
  for (const auto& label : labels.labels) {
    std::vector<std::string> texts;
    for (const auto& t : labels.templates) texts.push_back(format_template(t, label));
    const auto batch = loaded.text_tokenizer().encode_for_retrieval(texts);
    const auto ids = at::tensor(batch.ids, at::kLong).view({batch.batch, batch.length});
    manual.push_back(l2_normalize(l2_normalize(m.encode_text(ids)).mean(0, true)));
  }
  EXPECT_TRUE(
      test::tensors_close(classifier.class_embeddings(), at::cat(manual, 0), 1e-5, "classes"));
  const auto images = m.encode_image(loaded.pixel_values(test::tiny_images()), EmbeddingMode::kC);
  const auto probs = classifier.probabilities(images);
  const auto expected = at::softmax(
      m.logit_scale_exp() * at::matmul(l2_normalize(images), at::cat(manual, 0).t()), -1);
  EXPECT_TRUE(test::tensors_close(probs, expected, 1e-5, "probabilities"));
  const auto top = classifier.top_k(probs, 2);
  ASSERT_EQ(top.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    ASSERT_EQ(top[i].size(), 2u);
    EXPECT_EQ(top[i][0].label_id, probs[i].argmax().item<int64_t>());
    EXPECT_EQ(top[i][0].label, labels.labels[top[i][0].label_id]);
    EXPECT_GE(top[i][0].confidence, top[i][1].confidence);
  }
  EXPECT_TRUE(classifier.top_k(probs, 3, /*threshold=*/1.1)[0].empty());
}

TEST(ZeroShotTest, clip_embedding_is_the_renormalised_mean_of_unit_frames) {
  const auto frames = at::tensor({3.0f, 4.0f, 0.0f, 2.0f}).view({2, 2});  // units: (.6,.8), (0,1)
  const auto clip = ZeroShotClassifier::clip_embedding(frames);
  const double x = 0.3, y = 0.9, n = std::sqrt(x * x + y * y);
  EXPECT_TRUE(test::tensors_close(clip, at::tensor({x / n, y / n}).view({1, 2}), 1e-6, "clip"));
}

}  // namespace
}  // namespace ivs::model
