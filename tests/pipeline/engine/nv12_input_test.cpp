// SPDX-License-Identifier: Apache-2.0
// NV12 pictures handed to the Engine (the zero-copy path of NVDEC frames) against the same
// pictures preprocessed by the caller: on a CPU engine the engine runs the CPU twin of the
// kernels, so results must match the twin's pixels submitted as floats.
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "model/cuda/nv12_plan.h"
#include "pipeline/engine/engine.h"
#include "pipeline/engine/nv12_stager.h"
#include "tests/model/internvl/fixture.h"
#include "tests/pipeline/engine/engine_test_support.h"
#include "tests/pipeline/engine/host_nv12.h"

namespace ivs::pipeline {
namespace {

using test_support::completes;
using test_support::HostNv12;
using test_support::max_abs_diff;
using test_support::small_options;
using test_support::tiny_engine_key;

TEST(Nv12InputTest, embeddings_of_host_nv12_pictures_equal_those_of_their_twin_pixels) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = Engine::create(tiny_engine_key(), small_options());
  EXPECT_FALSE(engine->takes_cuda_memory());
  EXPECT_EQ(engine->cuda_device(), -1);
  // Two frame sizes (two plans), wide and tall, each submitted as NV12 and as the twin's pixels,
  // all four in one batch.
  const HostNv12 wide(96, 54, 1), tall(40, 70, 2);
  for (auto mode : {EmbeddingMode::kC, EmbeddingMode::kG}) {
    engine->pause();
    std::vector<std::future<EmbeddingResult>> futures;
    for (const auto* frame : {&wide, &tall}) {
      futures.push_back(*engine->submit_embedding(frame->picture(), mode, Admission::kWait));
      futures.push_back(*engine->submit_embedding(
          frame->twin_pixels(*engine, model::ResizeMode::kShortestEdgeCrop), mode,
          Admission::kWait));
    }
    engine->resume();
    std::vector<EmbeddingResult> results;
    for (auto& future : futures) {
      ASSERT_TRUE(completes(future));
      results.push_back(future.get());
    }
    EXPECT_EQ(results[0].timing.batch_size, 4);
    EXPECT_LT(max_abs_diff(results[0].embedding, results[1].embedding), 1e-6f);
    EXPECT_LT(max_abs_diff(results[2].embedding, results[3].embedding), 1e-6f);
    EXPECT_GT(max_abs_diff(results[0].embedding, results[2].embedding),
              1e-3f);  // different pictures
  }
}

TEST(Nv12InputTest, captions_squash_nv12_pictures_as_the_caption_element_does) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = Engine::create(tiny_engine_key(), small_options());
  CaptionSettings settings;
  settings.num_beams = 2;
  settings.min_new_tokens = 3;
  settings.max_new_tokens = 6;
  const HostNv12 frame(120, 40, 3);  // 3:1: squash and crop see different pixels
  auto from_picture = *engine->submit_caption(frame.picture(), settings, Admission::kWait);
  auto squashed = *engine->submit_caption(frame.twin_pixels(*engine, model::ResizeMode::kSquash),
                                          settings, Admission::kWait);
  ASSERT_TRUE(completes(from_picture) && completes(squashed));
  const auto a = from_picture.get(), b = squashed.get();
  EXPECT_EQ(a.token_ids, b.token_ids);
  EXPECT_NEAR(a.score, b.score, 1e-5);
  EXPECT_NE(frame.twin_pixels(*engine, model::ResizeMode::kSquash),
            frame.twin_pixels(*engine, model::ResizeMode::kShortestEdgeCrop));
}

TEST(Nv12InputTest, a_picture_is_released_once_preprocessed_before_its_caption_is_done) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = Engine::create(tiny_engine_key(), small_options());
  CaptionSettings settings;
  settings.min_new_tokens = settings.max_new_tokens = 8;  // several decode steps after the prefill
  const HostNv12 frame(64, 48, 4);
  // The keepalive's deleter runs on the worker thread; it notes how many captions had completed
  // by then. Released with the job instead, it would see 1.
  std::atomic<int64_t> completed_at_release{-1};
  Engine* raw = engine.get();
  std::shared_ptr<void> keepalive(new int(0), [&completed_at_release, raw](void* p) {
    completed_at_release = static_cast<int64_t>(raw->stats().caption.completed);
    delete static_cast<int*>(p);
  });
  std::weak_ptr<void> watch = keepalive;
  auto future =
      *engine->submit_caption(frame.picture(std::move(keepalive)), settings, Admission::kWait);
  ASSERT_TRUE(completes(future));
  EXPECT_EQ(future.get().token_ids.size(), 8u);
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(completed_at_release.load(), 0);
}

TEST(Nv12InputTest, unusable_pictures_are_refused_at_submit_with_the_reason) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = Engine::create(tiny_engine_key(), small_options());
  const HostNv12 frame(64, 48, 5);
  auto expect_refused = [&](Nv12Picture picture, const std::string& fragment) {
    try {
      engine->submit_embedding(picture, EmbeddingMode::kC, Admission::kWait);
      ADD_FAILURE() << "accepted; expected an error with '" << fragment << "'";
    } catch (const model::InputError& error) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
    }
  };
  auto cuda = frame.picture();
  cuda.cuda_memory = true;
  expect_refused(cuda, "cudadownload");
  auto odd = frame.picture();
  odd.planes.width = 63;
  expect_refused(odd, "63x48");
  auto missing = frame.picture();
  missing.planes.uv = nullptr;
  expect_refused(missing, "without its planes");
  auto narrow = frame.picture();
  narrow.planes.y_pitch = 32;
  expect_refused(narrow, "narrower than its width");
  EXPECT_EQ(engine->stats().embedding.accepted, 0u);
}

// A shared engine may see streams of many frame sizes: the stager keeps a bounded number of
// plans and still preprocesses every size exactly.
TEST(Nv12InputTest, the_stager_keeps_a_bounded_number_of_frame_sizes) {
  model::ImageProcessorConfig config;  // 224 x 224, CLIP normalisation
  Nv12Stager stager(config, model::ResizeMode::kShortestEdgeCrop, -1);
  std::vector<float> out(3 * 224 * 224);
  for (int size = 0; size < 20; ++size) {
    const HostNv12 frame(64 + 2 * size, 48, static_cast<uint32_t>(10 + size));
    stager.to_host(frame.picture(), out.data());
    const model::cuda::Nv12Plan plan(frame.width, frame.height, config,
                                     model::ResizeMode::kShortestEdgeCrop);
    EXPECT_EQ(out, model::cuda::preprocess_nv12_on_host(frame.view(), frame.picture().matrix, plan))
        << size;
    EXPECT_LE(stager.sizes_kept(), Nv12Stager::kMaxSizes);
  }
  EXPECT_GE(stager.sizes_kept(), 1u);
}

}  // namespace
}  // namespace ivs::pipeline
