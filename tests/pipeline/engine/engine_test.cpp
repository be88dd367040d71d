// SPDX-License-Identifier: Apache-2.0
#include "pipeline/engine/engine.h"

#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <gtest/gtest.h>

#include "model/common/clip_image_processor.h"
#include "model/common/errors.h"
#include "model/internvl/generation.h"
#include "model/internvl/loaded_model.h"
#include "model/internvl/zero_shot.h"
#include "tests/model/internvl/fixture.h"
#include "tests/pipeline/engine/engine_test_support.h"

namespace ivs::pipeline {
namespace {

using test_support::completes;
using test_support::max_abs_diff;
using test_support::relative_error;
using test_support::small_options;
using test_support::tiny_engine_key;

std::shared_ptr<Engine> tiny_engine(const EngineOptions& options = small_options()) {
  return Engine::create(tiny_engine_key(), options);
}

std::vector<float> fixture_pixels(const Engine& engine, size_t index) {
  return model::preprocess_image(test::tiny_images().at(index), engine.processor());
}

std::vector<float> random_pixels(const Engine& engine, uint64_t seed) {
  at::manual_seed(seed);
  const auto t = at::randn({3, engine.input_height(), engine.input_width()});
  return {t.data_ptr<float>(), t.data_ptr<float>() + t.numel()};
}

at::Tensor as_batch(const std::vector<float>& pixels, const Engine& engine) {
  return at::tensor(pixels).view({1, 3, engine.input_height(), engine.input_width()});
}

std::vector<float> direct_embedding(const Engine& engine, const std::vector<float>& pixels,
                                    EmbeddingMode mode) {
  c10::InferenceMode guard;
  const auto m = mode == EmbeddingMode::kG ? model::EmbeddingMode::kG : model::EmbeddingMode::kC;
  const auto e =
      model::l2_normalize(test::tiny_model().full_model().encode_image(as_batch(pixels, engine), m))
          .contiguous();
  return {e.data_ptr<float>(), e.data_ptr<float>() + e.numel()};
}

EmbeddingResult embed(Engine& engine, std::vector<float> pixels, EmbeddingMode mode) {
  auto future = engine.submit_embedding(std::move(pixels), mode, Admission::kWait);
  if (!future || !completes(*future)) throw std::runtime_error("embedding did not complete");
  return future->get();
}

TEST(EngineTest, embeddings_equal_direct_model_calls) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  EXPECT_EQ(engine->model_name(), test::internvl_tiny_dir().filename().string());
  EXPECT_FALSE(engine->vision_only());
  for (auto mode : {EmbeddingMode::kC, EmbeddingMode::kG}) {
    for (size_t i = 0; i < 3; ++i) {
      const auto pixels = fixture_pixels(*engine, i);
      const auto result = embed(*engine, pixels, mode);
      EXPECT_LT(max_abs_diff(result.embedding, direct_embedding(*engine, pixels, mode)), 1e-5)
          << "image " << i;
      EXPECT_EQ(result.timing.batch_size, 1);
      EXPECT_GE(result.timing.queue_seconds, 0.0);
      EXPECT_GT(result.timing.inference_seconds, 0.0);
    }
  }
  EXPECT_EQ(engine->stats().embedding.completed, 6u);
}

TEST(EngineTest, concurrent_submits_are_batched_and_each_gets_its_own_result) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto options = small_options();
  options.batch_timeout = std::chrono::seconds(2);  // the bound, not a wait: batches fill first
  auto engine = tiny_engine(options);
  // 8 C + 8 G: whole batches of 4 per mode
  constexpr int kThreads = 4, kPerThread = 4;
  std::vector<std::vector<float>> pixels;
  for (int i = 0; i < kThreads * kPerThread; ++i) pixels.push_back(random_pixels(*engine, 100 + i));
  auto mode_of = [](int i) { return i % 2 == 0 ? EmbeddingMode::kC : EmbeddingMode::kG; };
  std::vector<std::optional<std::future<EmbeddingResult>>> futures(pixels.size());
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (ready.fetch_add(1); ready.load() < kThreads;)
        std::this_thread::yield();  // start together
      for (int k = 0; k < kPerThread; ++k) {
        const int i = t * kPerThread + k;
        futures[i] = engine->submit_embedding(pixels[i], mode_of(i), Admission::kWait);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int64_t largest = 0;
  for (size_t i = 0; i < pixels.size(); ++i) {
    ASSERT_TRUE(futures[i] && completes(*futures[i]));
    const auto result = futures[i]->get();
    largest = std::max(largest, result.timing.batch_size);
    EXPECT_LT(max_abs_diff(result.embedding, direct_embedding(*engine, pixels[i], mode_of(int(i)))),
              1e-5)
        << "request " << i;
  }
  const auto stats = engine->stats().embedding;
  EXPECT_GT(stats.max_batch_size, 1);
  EXPECT_EQ(largest, stats.max_batch_size);
  EXPECT_EQ(stats.completed, pixels.size());
  EXPECT_LT(stats.batches, pixels.size());
}

TEST(EngineTest, a_lone_request_completes_after_the_batch_timeout) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto options = small_options();
  options.batch_size = 8;
  options.batch_timeout = std::chrono::milliseconds(5);
  std::atomic<int> reports{0};
  options.batch_observer = [&](const BatchReport& report) {
    EXPECT_EQ(report.batch_size, 1);
    EXPECT_EQ(report.queue_seconds.size(), 1u);
    reports.fetch_add(1);
  };
  auto engine = tiny_engine(options);
  const auto result = embed(*engine, fixture_pixels(*engine, 0), EmbeddingMode::kC);
  EXPECT_EQ(result.timing.batch_size, 1);
  engine->shutdown();  // joins the worker: the observer has run
  EXPECT_EQ(reports.load(), 1);
  EXPECT_EQ(engine->stats().embedding.batch_size_counts.at(1), 1u);
}

TEST(EngineTest, drop_if_full_refuses_and_counts_when_the_queue_is_full) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto options = small_options();
  options.max_queue = 2;
  auto engine = tiny_engine(options);
  engine->pause();  // nothing leaves the queue: it fills deterministically
  const auto pixels = fixture_pixels(*engine, 1);
  auto first = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kDropIfFull);
  auto second = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kDropIfFull);
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kDropIfFull));
  EXPECT_FALSE(engine->submit_embedding(pixels, EmbeddingMode::kG, Admission::kDropIfFull));
  auto stats = engine->stats().embedding;
  EXPECT_EQ(stats.dropped, 2u);
  EXPECT_EQ(stats.accepted, 2u);
  EXPECT_EQ(stats.queue_depth, 2u);
  engine->resume();
  ASSERT_TRUE(completes(*first) && completes(*second));
  // One input: equal up to float rounding (the two may run in batches of different sizes).
  EXPECT_LT(relative_error(first->get().embedding, second->get().embedding), 1e-5);
  EXPECT_EQ(engine->stats().embedding.queue_depth, 0u);
}

TEST(EngineTest, wait_admission_gets_in_once_there_is_room) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto options = small_options();
  options.max_queue = 1;
  auto engine = tiny_engine(options);
  engine->pause();
  const auto pixels = fixture_pixels(*engine, 2);
  auto queued = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait);
  ASSERT_TRUE(queued);
  std::optional<std::future<EmbeddingResult>> waited;
  std::thread producer(
      [&] { waited = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait); });
  engine->resume();
  producer.join();
  ASSERT_TRUE(waited && completes(*waited) && completes(*queued));
  EXPECT_LT(relative_error(waited->get().embedding, queued->get().embedding), 1e-5);
  EXPECT_EQ(engine->stats().embedding.dropped, 0u);
}

TEST(EngineTest, captions_equal_generate_captions_and_batch_only_equal_settings) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  CaptionSettings a;
  a.num_beams = 2;
  a.min_new_tokens = 2;
  a.max_new_tokens = 6;
  CaptionSettings b = a;
  b.prompt = "a photo of";
  engine->pause();  // queue all three before the worker looks
  const std::vector<std::pair<size_t, CaptionSettings>> requests{{0, a}, {1, a}, {2, b}};
  std::vector<std::future<CaptionResult>> futures;
  for (const auto& [image, settings] : requests) {
    futures.push_back(
        *engine->submit_caption(fixture_pixels(*engine, image), settings, Admission::kWait));
  }
  engine->resume();
  c10::InferenceMode guard;
  const auto& loaded = test::tiny_model();
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(completes(futures[i]));
    const auto result = futures[i].get();
    const auto& settings = requests[i].second;
    model::GenerationConfig config;
    config.num_beams = settings.num_beams;
    config.min_new_tokens = settings.min_new_tokens;
    config.max_new_tokens = settings.max_new_tokens;
    const auto prompt = loaded.text_tokenizer().encode_prompt(settings.prompt);
    const auto vision = loaded.full_model().vision_features(
        as_batch(fixture_pixels(*engine, requests[i].first), *engine));
    const auto expected = model::generate_captions(loaded.full_model(), vision, prompt, config)[0];
    EXPECT_EQ(result.token_ids, expected.token_ids) << "request " << i;
    EXPECT_EQ(result.text, loaded.text_tokenizer().decode(expected.token_ids));
    EXPECT_NEAR(result.score, expected.score, 1e-4);
    EXPECT_EQ(result.num_input_tokens, static_cast<int64_t>(prompt.size()));
    EXPECT_EQ(result.timing.batch_size, i < 2 ? 2 : 1);
  }
  EXPECT_EQ(engine->stats().caption.batches, 2u);
}

TEST(EngineTest, invalid_caption_settings_throw_at_submit) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  CaptionSettings settings;
  settings.num_beams = 0;
  EXPECT_THROW(engine->submit_caption(fixture_pixels(*engine, 0), settings, Admission::kWait),
               model::InputError);
  EXPECT_EQ(engine->stats().caption.accepted, 0u);
}

TEST(EngineTest, label_scorer_is_cached_and_matches_the_zero_shot_classifier) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  const std::vector<std::string> labels{"red square", "gradient", "checkerboard"};
  const std::vector<std::string> templates{"a photo of a {}.", "a drawing of a {}."};
  const auto scorer = engine->label_scorer(labels, templates);
  EXPECT_EQ(engine->label_scorer(labels, templates), scorer);
  EXPECT_NE(engine->label_scorer(labels, {"{}"}), scorer);
  EXPECT_THROW(engine->label_scorer({}, templates), model::InputError);
  c10::InferenceMode guard;
  const auto& loaded = test::tiny_model();
  const model::ZeroShotClassifier classifier(loaded.full_model(), loaded.text_tokenizer(),
                                             {labels, templates});
  std::vector<std::vector<float>> frames;
  for (size_t i = 0; i < 3; ++i) {
    frames.push_back(embed(*engine, fixture_pixels(*engine, i), EmbeddingMode::kC).embedding);
    const auto got = scorer->scores(frames.back(), 2);
    const auto want =
        classifier.top_k(classifier.probabilities(at::tensor(frames.back()).view({1, -1})), 2)[0];
    ASSERT_EQ(got.size(), want.size());
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].label_id, want[k].label_id);
      EXPECT_EQ(got[k].label, want[k].label);
      EXPECT_NEAR(got[k].confidence, want[k].confidence, 1e-6);
    }
  }
  const auto clip = model::ZeroShotClassifier::clip_embedding(
      at::stack({at::tensor(frames[0]), at::tensor(frames[1]), at::tensor(frames[2])}));
  const auto want = classifier.top_k(classifier.probabilities(clip), 3)[0];
  const auto got = scorer->clip_scores(frames, 3);
  ASSERT_EQ(got.size(), 3u);
  for (size_t k = 0; k < 3; ++k) EXPECT_NEAR(got[k].confidence, want[k].confidence, 1e-6);
  EXPECT_TRUE(scorer->scores(frames[0], 3, /*threshold=*/1.1).empty());
  EXPECT_THROW(scorer->scores({1.0f, 2.0f}, 1), model::InputError);
}

// The service's REST search embeds its query through the engine: the label path with no
// template, so it equals the class embedding of the same label.
TEST(EngineTest, a_query_embedding_equals_the_class_embedding_of_the_same_label) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  const std::vector<std::string> labels{"red square", "gradient"};
  c10::InferenceMode guard;
  const auto& loaded = test::tiny_model();
  const model::ZeroShotClassifier classifier(loaded.full_model(), loaded.text_tokenizer(),
                                             {labels, {"{}"}});
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto row = classifier.class_embeddings()[static_cast<int64_t>(i)].contiguous();
    const std::vector<float> want(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
    EXPECT_LT(relative_error(engine->embed_query(labels[i]), want), 1e-5) << labels[i];
  }
  EXPECT_THROW(engine->embed_query(" "), model::InputError);
}

TEST(EngineTest, wrong_sized_pixels_fail_alone_and_the_engine_keeps_working) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  engine->pause();
  const auto pixels = fixture_pixels(*engine, 0);
  auto good = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait);
  auto bad =
      engine->submit_embedding(std::vector<float>(7, 0.0f), EmbeddingMode::kC, Admission::kWait);
  auto also_good = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait);
  engine->resume();
  ASSERT_TRUE(completes(*good) && completes(*bad) && completes(*also_good));
  EXPECT_THROW(bad->get(), model::InputError);
  EXPECT_EQ(good->get().timing.batch_size, 2);
  EXPECT_EQ(also_good->get().timing.batch_size, 2);
  EXPECT_EQ(embed(*engine, pixels, EmbeddingMode::kG).embedding.size(),
            direct_embedding(*engine, pixels, EmbeddingMode::kG).size());
  EXPECT_EQ(engine->stats().embedding.failed, 1u);
}

TEST(EngineTest, model_errors_fail_the_batch_and_the_engine_keeps_working) {
  const auto dir = test::internvl_tiny_dir() / "internvit-tiny";  // vision only: no embeddings
  INTERNVL_REQUIRE_PATH(dir / "config.json");
  auto engine = Engine::create({dir.string(), "cpu", "fp32"}, small_options());
  EXPECT_TRUE(engine->vision_only());
  const std::vector<float> pixels(3 * engine->input_height() * engine->input_width(), 0.0f);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto future = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait);
    ASSERT_TRUE(future && completes(*future));
    EXPECT_THROW(future->get(), model::InputError);
  }
  EXPECT_EQ(engine->stats().embedding.failed, 2u);
  EXPECT_THROW(engine->label_scorer({"cat"}, {"{}"}), model::InputError);
}

TEST(EngineTest, shutdown_drains_queued_work_and_refuses_new_work) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  engine->pause();
  const auto pixels = fixture_pixels(*engine, 1);
  std::vector<std::future<EmbeddingResult>> futures;
  for (int i = 0; i < 5; ++i) {
    futures.push_back(*engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait));
  }
  CaptionSettings settings;
  settings.num_beams = 1;
  settings.min_new_tokens = 1;
  settings.max_new_tokens = 2;
  auto caption = *engine->submit_caption(pixels, settings, Admission::kWait);
  engine->shutdown(Engine::ShutdownMode::kDrain);  // runs the paused queue, then joins
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_FALSE(f.get().embedding.empty());
  }
  ASSERT_EQ(caption.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_FALSE(caption.get().token_ids.empty());
  auto late = engine->submit_embedding(pixels, EmbeddingMode::kC, Admission::kWait);
  ASSERT_TRUE(late && completes(*late));
  EXPECT_THROW(late->get(), EngineStopped);
}

TEST(EngineTest, shutdown_with_cancel_fails_queued_work) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  engine->pause();
  const auto pixels = fixture_pixels(*engine, 2);
  std::vector<std::future<EmbeddingResult>> futures;
  for (int i = 0; i < 3; ++i) {
    futures.push_back(*engine->submit_embedding(pixels, EmbeddingMode::kG, Admission::kWait));
  }
  engine->shutdown(Engine::ShutdownMode::kCancel);
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
    EXPECT_THROW(f.get(), EngineStopped);
  }
  EXPECT_EQ(engine->stats().embedding.failed, 3u);
  engine->shutdown();  // idempotent
}

TEST(EngineTest, destroying_the_engine_completes_queued_work) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto engine = tiny_engine();
  engine->pause();
  auto future =
      *engine->submit_embedding(fixture_pixels(*engine, 0), EmbeddingMode::kC, Admission::kWait);
  engine.reset();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  EXPECT_FALSE(future.get().embedding.empty());
}

TEST(EngineTest, canonical_keys_resolve_aliases_and_options_are_validated) {
  const auto key = Engine::canonical_key({"relative/dir/", "cpu", "float32"});
  EXPECT_EQ(key, Engine::canonical_key({"relative/dir", "cpu", "fp32"}));
  EXPECT_EQ(key.device, "cpu");
  EXPECT_EQ(key.dtype, "float32");
  EXPECT_TRUE(std::filesystem::path(key.model_dir).is_absolute());
  EXPECT_THROW(Engine::canonical_key({"x", "tpu", "fp32"}), model::InputError);
  auto options = small_options();
  options.batch_size = 0;
  EXPECT_THROW(options.validate(), model::ConfigError);
  EXPECT_THROW(Engine::create(tiny_engine_key(), options), model::ConfigError);
  for (auto [ratio, steps] :
       {std::pair<double, int64_t>{-0.5, 8}, {1.0, 0}, {std::nan(""), 8}, {HUGE_VAL, 8}}) {
    auto join = small_options();
    join.caption_join.waiting_served_ratio = ratio;
    join.caption_join.max_waiting_steps = steps;
    EXPECT_THROW(join.validate(), model::ConfigError) << ratio << " " << steps;
  }
  EXPECT_THROW(Engine::create({"/nonexistent/model", "cpu", "fp32"}, small_options()),
               model::ConfigError);
}

// Benchmarks start engines around models built in memory (random weights in the full shapes):
// the key comes from the model, and embeddings are the model's own.
TEST(EngineTest, an_engine_around_a_model_in_memory_runs_that_model) {
  auto loaded = std::make_shared<const model::LoadedModel>(
      model::random_model("tiny", model::Placement{}, 3));
  auto engine = Engine::create(loaded, small_options());
  EXPECT_EQ(engine->key(), (EngineKey{"preset:tiny", "cpu", "float32"}));
  const auto pixels = random_pixels(*engine, 4);
  const auto result = embed(*engine, pixels, EmbeddingMode::kG);
  c10::InferenceMode guard;
  const auto direct = model::l2_normalize(loaded->full_model().encode_image(
                                              as_batch(pixels, *engine), model::EmbeddingMode::kG))
                          .contiguous();
  EXPECT_LT(max_abs_diff(result.embedding,
                         {direct.data_ptr<float>(), direct.data_ptr<float>() + direct.numel()}),
            1e-6);
  EXPECT_THROW(Engine::create(std::shared_ptr<const model::LoadedModel>(), small_options()),
               model::InputError);
}

// CUDA graphs asked of a model on the CPU: a warning that says why, and embeddings as without.
TEST(EngineTest, cuda_graphs_on_a_cpu_model_are_declined_with_a_warning) {
  INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "config.json");
  auto options = small_options();
  options.cuda_graphs = true;
  test_support::LogCollector log;
  options.log = log.sink();
  auto engine = tiny_engine(options);
  const auto pixels = fixture_pixels(*engine, 1);
  EXPECT_LT(max_abs_diff(embed(*engine, pixels, EmbeddingMode::kC).embedding,
                         direct_embedding(*engine, pixels, EmbeddingMode::kC)),
            1e-5);
  engine->shutdown();
  const auto warnings = log.at_least(EngineLogLevel::kWarning);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("without CUDA graphs: CUDA graphs need"), std::string::npos)
      << warnings[0];
}

}  // namespace
}  // namespace ivs::pipeline
