// SPDX-License-Identifier: Apache-2.0
// On a GPU with a CUDA LibTorch (label gpu; skips elsewhere): image embeddings replayed from CUDA
// graphs equal the eager forward, for both modes and two batch sizes, also when the graph is
// replayed on new pixels (its input is copied in, not captured); and an engine with
// EngineOptions::cuda_graphs gives what one without gives.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "model/internvl/image_graphs.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/placement.h"
#include "pipeline/engine/engine.h"
#include "tests/model/internvl/fixture.h"
#include "tests/pipeline/engine/engine_test_support.h"

namespace ivs::pipeline {
namespace {

using test_support::completes;
using test_support::max_abs_diff;
using test_support::small_options;

// Skips unless graphs can be captured here; then the tiny fixture on cuda/fp32.
#define REQUIRE_CUDA_GRAPHS()                                                                  \
  do {                                                                                         \
    INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");                          \
    if (!model::cuda_graphs_supported()) GTEST_SKIP() << "this LibTorch has no CUDA graphs";  \
    if (!model::cuda_usable()) GTEST_SKIP() << "no CUDA device";                               \
  } while (0)

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got.to(at::kDouble) - want.to(at::kDouble)).norm().item<double>() /
         want.to(at::kDouble).norm().item<double>();
}

TEST(ImageGraphsGpuTest, replays_equal_the_eager_forward_on_new_pixels) {
  REQUIRE_CUDA_GRAPHS();
  const auto loaded = model::load_model(test::internvl_tiny_dir().string(), model::Placement::resolve("cuda", "fp32"));
  c10::InferenceMode guard;
  model::ImageEmbeddingGraphs graphs(*loaded.internvl);
  const auto size = loaded.config.image_size();
  for (auto mode : {model::EmbeddingMode::kC, model::EmbeddingMode::kG}) {
    for (int64_t batch : {1, 3}) {
      for (int round = 0; round < 2; ++round) {  // the first call captures, the second replays
        at::manual_seed(100 * batch + round);
        const auto pixels = at::randn({batch, 3, size, size}, at::TensorOptions().device(at::kCUDA));
        const auto eager = loaded.internvl->encode_image(pixels, mode);
        const auto replayed = graphs.encode_image(pixels, mode);
        ASSERT_EQ(replayed.sizes(), eager.sizes());
        EXPECT_TRUE(at::isfinite(replayed).all().item<bool>());
        EXPECT_LT(relative_error(replayed, eager), 1e-5) << "batch " << batch << " round " << round;
      }
    }
  }
  EXPECT_EQ(graphs.size(), 4u);
}

TEST(ImageGraphsGpuTest, an_engine_with_cuda_graphs_embeds_as_one_without) {
  REQUIRE_CUDA_GRAPHS();
  auto options = small_options();
  options.cuda_graphs = true;
  test_support::WarningLog log;
  options.log = log.log();
  const EngineKey key{test::internvl_tiny_dir().string(), "cuda", "fp32"};
  auto graphed = Engine::create(key, options);
  auto eager = Engine::create(key, small_options());
  const auto size = graphed->input_height();
  auto batch_of = [&](Engine& engine, int count) {
    engine.pause();
    std::vector<std::future<EmbeddingResult>> futures;
    for (int i = 0; i < count; ++i) {
      at::manual_seed(i);
      const auto t = at::randn({3, size, size});
      futures.push_back(*engine.submit_embedding({t.data_ptr<float>(), t.data_ptr<float>() + t.numel()},
                                                 EmbeddingMode::kG, Admission::kWait));
    }
    engine.resume();
    std::vector<std::vector<float>> out;
    for (auto& f : futures) {
      EXPECT_TRUE(completes(f));
      out.push_back(f.get().embedding);
    }
    return out;
  };
  for (int round = 0; round < 2; ++round) {
    const auto want = batch_of(*eager, 3);
    const auto got = batch_of(*graphed, 3);
    for (size_t i = 0; i < want.size(); ++i) EXPECT_LT(max_abs_diff(got[i], want[i]), 1e-5) << i;
  }
  graphed->shutdown();
  const auto warnings = log.messages();
  EXPECT_TRUE(warnings.empty()) << warnings.front();
}

}  // namespace
}  // namespace ivs::pipeline
