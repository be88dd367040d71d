// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/caption_batch.h"

#include <map>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "tests/model/internvl/fixture.h"

namespace ivs::model {
namespace {

const std::vector<int64_t> kPrompt{1, 7, 9};

GenerationConfig config_with(int64_t beams) {
  GenerationConfig config;
  config.num_beams = beams;
  config.min_new_tokens = 1;
  config.max_new_tokens = 9;
  return config;
}

// Collects finished captions by id.
void collect(CaptionBatch& batch, std::map<int64_t, GeneratedCaption>& out) {
  for (auto& [id, caption] : batch.take_finished()) {
    EXPECT_TRUE(out.emplace(id, std::move(caption)).second)
        << "request " << id << " finished twice";
  }
}

// Requests admitted while others are several steps in (so their caches are left-padded and
// they decode at other positions) get the captions they would get alone.
TEST(CaptionBatchTest, requests_joining_mid_decode_decode_as_if_alone) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(21);
  const auto vision = test::random_small_vision(5, 6);
  for (int64_t beams : {1, 4}) {
    const auto config = config_with(beams);
    CaptionBatch batch(*model, kPrompt, config);
    std::map<int64_t, GeneratedCaption> got;
    EXPECT_EQ(batch.admit(vision.narrow(0, 0, 2)), (std::vector<int64_t>{0, 1}));
    for (int i = 0; i < 3; ++i) batch.step();
    collect(batch, got);
    ASSERT_GT(batch.live(), 0) << "the first requests must still decode when the next join";
    EXPECT_EQ(batch.admit(vision.narrow(0, 2, 1)), (std::vector<int64_t>{2}));
    batch.step();
    EXPECT_EQ(batch.admit(vision.narrow(0, 3, 2)), (std::vector<int64_t>{3, 4}));
    EXPECT_GE(batch.live(), 2);
    for (int guard_steps = 0; batch.live() > 0 && guard_steps < 50; ++guard_steps) batch.step();
    collect(batch, got);
    ASSERT_EQ(batch.live(), 0);
    ASSERT_EQ(got.size(), 5u);
    for (int64_t i = 0; i < 5; ++i) {
      const auto alone = generate_captions(*model, vision.narrow(0, i, 1), kPrompt, config)[0];
      EXPECT_EQ(got[i].token_ids, alone.token_ids) << "beams " << beams << " request " << i;
      EXPECT_NEAR(got[i].score, alone.score, 1e-4) << "beams " << beams << " request " << i;
    }
  }
}

// An idle batch takes new requests; ids keep counting.
TEST(CaptionBatchTest, an_idle_batch_admits_again) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(22);
  CaptionBatch batch(*model, kPrompt, config_with(3));
  batch.step();  // idle: nothing happens
  EXPECT_TRUE(batch.take_finished().empty());
  const auto vision = test::random_small_vision(2, 7);
  for (int64_t round = 0; round < 2; ++round) {
    EXPECT_EQ(batch.admit(vision.narrow(0, round, 1)), std::vector<int64_t>{round});
    std::map<int64_t, GeneratedCaption> got;
    while (batch.live() > 0) batch.step();
    collect(batch, got);
    const auto alone =
        generate_captions(*model, vision.narrow(0, round, 1), kPrompt, config_with(3));
    EXPECT_EQ(got.at(round).token_ids, alone[0].token_ids);
  }
}

// A group that fails to prefill (wrong vision width) is not added; the live requests go on.
TEST(CaptionBatchTest, a_failed_admit_leaves_the_live_requests_alone) {
  c10::InferenceMode guard;
  auto model = test::random_small_model(23);
  const auto config = config_with(2);
  const auto vision = test::random_small_vision(1, 8);
  CaptionBatch batch(*model, kPrompt, config);
  batch.admit(vision);
  batch.step();
  EXPECT_ANY_THROW(batch.admit(at::randn({1, 5, 17})));
  EXPECT_EQ(batch.live(), 1);
  std::map<int64_t, GeneratedCaption> got;
  while (batch.live() > 0) batch.step();
  collect(batch, got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at(0).token_ids, generate_captions(*model, vision, kPrompt, config)[0].token_ids);
}

TEST(CaptionBatchTest, a_prompt_that_does_not_fit_is_refused) {
  auto model = test::random_small_model(24);
  GenerationConfig config;
  config.max_new_tokens = 5000;
  EXPECT_THROW(CaptionBatch(*model, kPrompt, config), InputError);
}

}  // namespace
}  // namespace ivs::model
