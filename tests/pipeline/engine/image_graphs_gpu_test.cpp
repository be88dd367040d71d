// SPDX-License-Identifier: Apache-2.0
// On a GPU with a CUDA LibTorch (label gpu; skips elsewhere): image embeddings replayed from CUDA
// graphs equal the eager forward, in fp32 and bf16, both modes, for batches that fill a graph and
// one that runs in a larger graph, also when replayed on new pixels (the input is copied in, not
// captured); and an engine with EngineOptions::cuda_graphs captures them at start and gives what
// one without gives.
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

// Skips unless graphs can be captured here; the tests use the tiny fixture on CUDA.
#define REQUIRE_CUDA_GRAPHS()                                                                \
  do {                                                                                       \
    INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");                        \
    if (!model::cuda_graphs_supported()) GTEST_SKIP() << "this LibTorch has no CUDA graphs"; \
    if (!model::cuda_usable()) GTEST_SKIP() << "no CUDA device";                             \
  } while (0)

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got.to(at::kDouble) - want.to(at::kDouble)).norm().item<double>() /
         want.to(at::kDouble).norm().item<double>();
}

TEST(ImageGraphsGpuTest, replays_equal_the_eager_forward_on_new_pixels) {
  REQUIRE_CUDA_GRAPHS();
  for (const auto& [dtype, limit] :
       {std::pair<std::string, double>{"fp32", 1e-5}, {"bf16", 1e-2}}) {
    const auto loaded = model::load_model(test::internvl_tiny_dir().string(),
                                          model::Placement::resolve("cuda", dtype));
    c10::InferenceMode guard;
    const auto& internvl = *loaded.internvl;
    model::ImageEmbeddingGraphs graphs(
        internvl, {model::EmbeddingMode::kC, model::EmbeddingMode::kG}, {1, 4});
    ASSERT_EQ(graphs.size(), 4u);
    const auto size = loaded.config.image_size();
    const auto options = internvl.query_tokens.options();
    for (auto mode : {model::EmbeddingMode::kC, model::EmbeddingMode::kG}) {
      for (int64_t batch : {1, 4, 3}) {
        for (int round = 0; round < 2; ++round) {
          at::manual_seed(100 * batch + round);
          // Batch 3 runs in the graph of 4: compare with an eager batch of 4 that starts with the
          // same 3 images (the same kernels; rows do not mix).
          const auto filled = at::randn({batch == 3 ? 4 : batch, 3, size, size}, options);
          const auto pixels = filled.narrow(0, 0, batch);
          const auto eager = internvl.encode_image(filled, mode).narrow(0, 0, batch);
          const auto replayed = graphs.encode_image(pixels, mode);
          ASSERT_TRUE(replayed.has_value());
          ASSERT_EQ(replayed->sizes(), eager.sizes());
          EXPECT_TRUE(at::isfinite(*replayed).all().item<bool>());
          EXPECT_LT(relative_error(*replayed, eager), limit)
              << dtype << " batch " << batch << " round " << round;
        }
      }
      EXPECT_FALSE(graphs.encode_image(at::zeros({5, 3, size, size}, options), mode).has_value())
          << "no graph holds 5 images";
    }
  }
}

TEST(ImageGraphsGpuTest, an_engine_with_cuda_graphs_embeds_as_one_without) {
  REQUIRE_CUDA_GRAPHS();
  auto options = small_options();  // batches of up to 4: graphs of 1, 2 and 4
  options.cuda_graphs = true;
  test_support::LogCollector log;
  options.log = log.sink();
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
      futures.push_back(
          *engine.submit_embedding({t.data_ptr<float>(), t.data_ptr<float>() + t.numel()},
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
  for (int count : {4, 3, 1}) {  // a full graph, one run in a larger graph, the smallest
    const auto want = batch_of(*eager, count);
    const auto got = batch_of(*graphed, count);
    ASSERT_EQ(got.size(), want.size());
    // Batch 3 runs in the graph of 4: its products have other shapes than the eager batch of 3,
    // and cuDNN may pick another (TF32) convolution for them. That the padded replay is exact is
    // the test above's; here it must only be the same embedding.
    const double limit = count == 3 ? 1e-3 : 1e-5;
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_LT(max_abs_diff(got[i], want[i]), limit) << count << " " << i;
  }
  graphed->shutdown();
  const auto warnings = log.at_least(EngineLogLevel::kWarning);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  bool captured = false;
  for (const auto& message : log.at_least(EngineLogLevel::kInfo)) {
    captured =
        captured || message.find("replay CUDA graphs of InternVL-C and -G for batches of 1,2,4") !=
                        std::string::npos;
  }
  EXPECT_TRUE(captured) << "the engine did not say it captured its graphs";
}

}  // namespace
}  // namespace ivs::pipeline
