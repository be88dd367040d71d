// SPDX-License-Identifier: Apache-2.0
// The analytic counts against the figures of model/README.md, "Parameters and FLOPs" (full size;
// "section_10_1" and "section_10_2" in the test names are its parameter table and its FLOP
// figures), and against the parameters the real module tree creates (tiny sizes), so the FLOP
// formulas and the model cannot drift apart.
#include "model/internvl/flops.h"

#include <gtest/gtest.h>

#include "model/internvl/internvl.h"
#include "tests/common/test_paths.h"
#include "tests/model/internvl/fixture.h"

namespace ivs::model {
namespace {

constexpr double kTera = 1e12, kGiga = 1e9;

// |actual / expected - 1| <= tolerance: the FLOP figures are quoted to three significant digits
// (two for a few sub-terms, which get 2 %).
void expect_close(double actual, double expected, const char* what, double tolerance = 0.01) {
  EXPECT_NEAR(actual / expected, 1.0, tolerance) << what << ": " << actual << " vs " << expected;
}

int64_t module_parameters(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(true)) n += p.numel();
  return n;
}

TEST(FlopsTest, full_size_parameters_match_section_10_1_exactly) {
  const auto n = count_parameters(internvl_14b_224px_config());
  EXPECT_EQ(n.vision_model, 5'902'793'600);
  EXPECT_EQ(n.clip_projector, 33'207'168);
  EXPECT_EQ(n.clip_projector2, 53'515'008);
  EXPECT_EQ(n.qllama(), 7'841'912'832);
  EXPECT_EQ(n.qllama_layers, 6'476'267'520);
  EXPECT_EQ(n.cross_attention, 956'418'048);
  EXPECT_EQ(n.embed_tokens, 204'611'584);
  EXPECT_EQ(n.lm_head, 204'611'584);
  EXPECT_EQ(n.query_tokens, 393'216);
  EXPECT_EQ(n.text_projection, 3'145'728);
  EXPECT_EQ(n.itm_head, 8'194);
  EXPECT_EQ(n.total(), 13'834'975'747);
  EXPECT_EQ(n.image_c(), 5'936'000'768);
  EXPECT_EQ(n.text(), 6'684'028'928);
  EXPECT_EQ(n.image_g(), 13'422'598'656);
}

TEST(FlopsTest, full_size_image_paths_match_section_10_2) {
  const auto c = internvl_14b_224px_config();
  expect_close(vision_tower_flops(c), 3.07 * kTera, "InternViT-6B");
  expect_close(vision_tower_flops(c), 2 * 1.537 * kTera, "InternViT-6B (MACs)");
  expect_close(attention_pool_flops(c, 3200, 257), 2 * 5.28 * kGiga, "clip_projector");
  expect_close(attention_pool_flops(c, 4096, 96), 2 * 3.2 * kGiga, "clip_projector2", 0.02);
  expect_close(image_c_flops(c), 3.08 * kTera, "InternVL-C image");
  expect_close(image_g_flops(c), 4.66 * kTera, "InternVL-G image");
  // The parts (0.622 + 0.163 T MAC + pooling, model/README.md) sum to 1.59 TF; 1.57 leaves out the
  // pools, hence 2 %.
  expect_close(image_g_flops(c) - vision_tower_flops(c), 1.57 * kTera,
               "InternVL-G QLLaMA + pooling", 0.02);
  // The shortcut 2 x ViT parameters x 257 tokens = 3.03 TFLOPs (model/README.md); ours adds the
  // attention scores, so it lands between the two.
  const double shortcut = 2.0 * static_cast<double>(count_parameters(c).vision_model) * 257;
  expect_close(shortcut, 3.03 * kTera, "2 x params x tokens");
  EXPECT_GT(vision_tower_flops(c), shortcut);
}

TEST(FlopsTest, full_size_text_and_captioning_match_section_10_2) {
  const auto c = internvl_14b_224px_config();
  // 2 x 6.476 B per token; at one token the T^2 term and the projection are negligible.
  expect_close(text_flops(c, 1), 12.95 * kGiga, "text per token");
  EXPECT_GT(text_flops(c, 15), 0.15 * kTera);
  EXPECT_LT(text_flops(c, 15), 0.2 * kTera);
  expect_close(text_flops(c, 80), 1.04 * kTera, "text padded to 80");
  // Step 1: ViT + QLLaMA over 96 + 5 positions (~1.6 TF with cross-attention) + lm_head.
  const double prefill = caption_prefill_flops(c, 5);
  EXPECT_GT(prefill - vision_tower_flops(c), 1.55 * kTera);
  EXPECT_LT(prefill - vision_tower_flops(c), 1.7 * kTera);
  // Later steps: ~13 GFLOPs + 0.41 GFLOPs (lm_head) per beam.
  expect_close(caption_decode_step_flops(c, 102), 13.41 * kGiga, "decode step");
  const double caption = caption_flops(c, 5, 19, 5);
  EXPECT_NEAR(caption - prefill, 19 * 5 * 13.4 * kGiga, 19 * 5 * 0.2 * kGiga);
}

TEST(FlopsTest, tiny_preset_matches_the_fixture_config) {
  const auto path = test::internvl_tiny_dir() / "config.json";
  INTERNVL_REQUIRE_PATH(path);
  const auto fixture = InternVLConfig::from_json_file(path.string());
  const auto preset = internvl_tiny_config();
  EXPECT_EQ(count_parameters(preset).total(), count_parameters(fixture).total());
  EXPECT_EQ(preset.vision_config.num_attention_heads, fixture.vision_config.num_attention_heads);
  EXPECT_EQ(preset.qllama_config.num_attention_heads, fixture.qllama_config.num_attention_heads);
  EXPECT_EQ(preset.attn_pool_num_heads, fixture.attn_pool_num_heads);
  EXPECT_EQ(image_g_flops(preset), image_g_flops(fixture));
}

TEST(FlopsTest, parameter_counts_equal_the_built_module) {
  for (const auto& config : {internvl_tiny_config(), test::small_config()}) {
    InternVLModel model(config, at::TensorOptions().dtype(at::kFloat));
    EXPECT_EQ(count_parameters(config).built(), module_parameters(*model));
    EXPECT_EQ(count_parameters(config).vision_model, module_parameters(*model->vision_model));
    EXPECT_EQ(count_parameters(config).clip_projector, module_parameters(*model->clip_projector));
    EXPECT_EQ(count_parameters(config).clip_projector2, module_parameters(*model->clip_projector2));
    EXPECT_EQ(count_parameters(config).qllama(), module_parameters(*model->qllama));
  }
}

TEST(FlopsTest, tiny_config_gives_small_ordered_positive_counts) {
  const auto c = internvl_tiny_config();
  const double vit = vision_tower_flops(c);
  EXPECT_GT(vit, 0.0);
  EXPECT_LT(vit, 1e9);
  EXPECT_GT(image_c_flops(c), vit);
  EXPECT_GT(image_g_flops(c), image_c_flops(c));
  EXPECT_LT(image_g_flops(c), 1e9);
  EXPECT_GT(text_flops(c, 12), text_flops(c, 11));
  EXPECT_GT(caption_prefill_flops(c, 5), vit);
  EXPECT_GT(caption_decode_step_flops(c, 103), caption_decode_step_flops(c, 102));
  EXPECT_DOUBLE_EQ(caption_flops(c, 5, 0, 5), caption_prefill_flops(c, 5));
  EXPECT_DOUBLE_EQ(caption_flops(c, 5, 2, 3) - caption_flops(c, 5, 1, 3),
                   3 * caption_decode_step_flops(c, 96 + 5 + 2));
}

}  // namespace
}  // namespace ivs::model
