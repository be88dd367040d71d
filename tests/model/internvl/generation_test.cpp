// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/generation.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "tests/model/internvl/fixture.h"

namespace ivs::model {
namespace {

const std::vector<int64_t> kPrompt{1, 7, 9};

TEST(GenerationTest, respects_min_and_max_new_tokens) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(11);
  for (int64_t beams : {1, 3, 5}) {
    for (auto [min_new, max_new] : {std::pair<int64_t, int64_t>{0, 4}, {3, 6}, {6, 6}}) {
      GenerationConfig config;
      config.num_beams = beams;
      config.min_new_tokens = min_new;
      config.max_new_tokens = max_new;
      const auto captions =
          generate_captions(*model, test::random_small_vision(2, 3), kPrompt, config);
      ASSERT_EQ(captions.size(), 2u);
      for (const auto& c : captions) {
        ASSERT_FALSE(c.token_ids.empty());
        EXPECT_LE(static_cast<int64_t>(c.token_ids.size()), max_new);
        const auto eos = std::find(c.token_ids.begin(), c.token_ids.end(), 2);
        EXPECT_GE(eos - c.token_ids.begin(), min_new) << "EOS before min_new_tokens";
        if (eos != c.token_ids.end()) {
          EXPECT_EQ(eos + 1, c.token_ids.end()) << "tokens after EOS";
        }
        for (int64_t id : c.token_ids) EXPECT_TRUE(id >= 0 && id < 50);
      }
    }
  }
}

TEST(GenerationTest, batched_images_decode_as_if_alone) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(12);
  const auto vision = test::random_small_vision(3, 4);
  for (int64_t beams : {1, 4}) {
    GenerationConfig config;
    config.num_beams = beams;
    config.min_new_tokens = 2;
    config.max_new_tokens = 7;
    const auto together = generate_captions(*model, vision, kPrompt, config);
    for (int64_t i = 0; i < 3; ++i) {
      const auto alone = generate_captions(*model, vision.narrow(0, i, 1), kPrompt, config);
      EXPECT_EQ(together[i].token_ids, alone[0].token_ids) << "beams " << beams << " image " << i;
      EXPECT_NEAR(together[i].score, alone[0].score, 1e-4);
    }
  }
}

TEST(GenerationTest, beam_search_scores_at_least_as_well_as_greedy) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(13);
  GenerationConfig greedy;
  greedy.num_beams = 1;
  greedy.min_new_tokens = 5;
  greedy.max_new_tokens = 5;  // fixed length: both scores are plain log-probability sums / 6
  GenerationConfig beams = greedy;
  beams.num_beams = 6;
  const auto vision = test::random_small_vision(1, 5);
  const auto g = generate_captions(*model, vision, kPrompt, greedy)[0];
  const auto b = generate_captions(*model, vision, kPrompt, beams)[0];
  EXPECT_GE(b.score, g.score / 6.0 - 1e-5);
}

// Fusing QLLaMA's projections (one product for q/k/v, cross k/v, gate/up) keeps every
// parameter's name and value, makes them views of the fused matrices, and changes nothing but
// summation order.
TEST(GenerationTest, fused_projections_share_the_weights_and_give_the_same_captions) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(15);
  const auto vision = test::random_small_vision(2, 9);
  GenerationConfig config;
  config.num_beams = 3;
  config.min_new_tokens = 1;
  config.max_new_tokens = 6;
  const auto hidden_before = model->image_query_hidden(vision);
  const auto before = generate_captions(*model, vision, kPrompt, config);
  const auto k_before = model->qllama->model->layer_ptrs[0]->self_attn->k_proj->weight.clone();
  const auto parameters_before = model->named_parameters().size();

  model->qllama->model->fuse_projections();
  const auto& attn = model->qllama->model->layer_ptrs[0]->self_attn;
  ASSERT_TRUE(attn->qkv_weight.defined());
  EXPECT_TRUE(at::equal(attn->k_proj->weight, k_before));
  const auto registered =
      model->named_parameters()["qllama.model.layers.0.self_attn.k_proj.weight"];
  EXPECT_EQ(registered.data_ptr(), attn->qkv_weight[attn->qkv_weight.size(0) / 3].data_ptr())
      << "the registered parameter must be the view, not a stale copy";
  EXPECT_EQ(model->named_parameters().size(), parameters_before);

  EXPECT_TRUE(at::allclose(model->image_query_hidden(vision), hidden_before, 1e-5, 1e-6));
  const auto after = generate_captions(*model, vision, kPrompt, config);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].token_ids, before[i].token_ids);
    EXPECT_NEAR(after[i].score, before[i].score, 1e-5);
  }
}

// Decoding over a BeamKVCache (the prefix once per request, a suffix per beam row) computes what
// a forward pass over the whole cache, the prefix copied into every row, computes.
TEST(GenerationTest, beam_cache_decode_equals_a_forward_over_the_whole_cache) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(16);
  const auto& qllama = *model->qllama->model;
  const int64_t requests = 2, beams = 3, rows = requests * beams, prefix_length = 5;
  const auto width = qllama.config.hidden_size;
  at::manual_seed(17);
  QLlamaInputs prefill;
  prefill.inputs_embeds = at::randn({requests, prefix_length, width});
  prefill.position_ids = at::arange(prefix_length).unsqueeze(0).expand({requests, prefix_length});
  BeamKVCache shared;
  shared.beams = beams;
  qllama.forward(prefill, &shared.prefix);
  KVCache whole = shared.prefix;  // the reference: the prefix in every beam row
  whole.select_rows(at::arange(requests).repeat_interleave(beams));
  for (int64_t step = 0; step < 3; ++step) {
    QLlamaDecodeInputs decode;
    decode.inputs_embeds = at::randn({rows, 1, width});
    decode.position_ids = at::full({rows, 1}, prefix_length + step, at::kLong);
    QLlamaInputs forward;
    forward.inputs_embeds = decode.inputs_embeds;
    forward.position_ids = decode.position_ids;
    const auto expected = qllama.forward(forward, &whole);
    const auto got = qllama.decode(decode, shared);
    EXPECT_TRUE(at::allclose(got, expected, 1e-5, 1e-6)) << "step " << step;
  }
  EXPECT_EQ(shared.prefix.keys[0].size(0), requests) << "the prefix is kept once per request";
  EXPECT_EQ(shared.suffix.length(), 3);
}

TEST(GenerationTest, invalid_settings_are_rejected) {
  auto model = test::random_small_model(14);
  GenerationConfig bad;
  bad.min_new_tokens = 30;
  EXPECT_THROW(generate_captions(*model, test::random_small_vision(1, 1), kPrompt, bad),
               InputError);
  bad = GenerationConfig{};
  bad.num_beams = 0;
  EXPECT_THROW(generate_captions(*model, test::random_small_vision(1, 1), kPrompt, bad),
               InputError);
  bad = GenerationConfig{};
  bad.max_new_tokens = 5000;  // beyond max_position_embeddings
  EXPECT_THROW(generate_captions(*model, test::random_small_vision(1, 1), kPrompt, bad),
               InputError);
}

}  // namespace
}  // namespace ivs::model
