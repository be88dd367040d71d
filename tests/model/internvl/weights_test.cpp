// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/weights.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "model/common/errors.h"
#include "model/common/safetensors.h"
#include "model/internvl/internvl.h"
#include "model/internvl/loaded_model.h"
#include "tests/common/test_paths.h"
#include "tests/model/internvl/fixture.h"

namespace ivs::model {
namespace fs = std::filesystem;
namespace {

InternVLModel random_model(uint64_t seed) { return test::random_small_model(seed); }

void expect_same_parameters(InternVLModel& a, InternVLModel& b, double tolerance) {
  auto reference = b->named_parameters(true);
  for (const auto& item : a->named_parameters(true)) {
    EXPECT_TRUE(item.value().allclose(reference[item.key()], 0.0, tolerance)) << item.key();
  }
}

TEST(WeightsTest, sharded_bf16_safetensors_round_trip) {
  auto source = random_model(1);
  const auto dir = test::scratch_dir("weights_sharded_bf16");
  save_checkpoint(*source, dir.string(), at::kBFloat16, /*max_shard_bytes=*/4096);
  ASSERT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  const auto files = find_checkpoint_files(dir.string());
  EXPECT_GT(files.shards.size(), 2u);
  auto loaded = random_model(2);
  load_checkpoint(*loaded, dir.string());
  // Values went through bf16: compare with the source rounded the same way.
  for (auto& item : source->named_parameters(true)) {
    at::NoGradGuard guard;
    item.value().copy_(item.value().to(at::kBFloat16).to(at::kFloat));
  }
  expect_same_parameters(loaded, source, 0.0);
}

TEST(WeightsTest, single_file_fp32_round_trip) {
  auto source = random_model(3);
  const auto dir = test::scratch_dir("weights_single_fp32");
  save_checkpoint(*source, dir.string(), at::kFloat);
  ASSERT_TRUE(fs::exists(dir / "model.safetensors"));
  auto loaded = random_model(4);
  load_checkpoint(*loaded, dir.string());
  expect_same_parameters(loaded, source, 0.0);
}

TEST(WeightsTest, one_error_lists_every_missing_unexpected_and_misshaped_tensor) {
  auto source = random_model(5);
  auto params = source->named_parameters(true);
  std::vector<at::Tensor> keep;  // owns the bytes until the file is written
  std::vector<TensorBytes> tensors;
  for (const auto& item : params) {
    const auto& name = item.key();
    if (name == "logit_scale" || name == "qllama.model.norm.weight") continue;  // missing
    auto value = item.value().contiguous();
    if (name == "text_projection") value = at::zeros({3, 3});  // mis-shaped
    keep.push_back(value);
    tensors.push_back({name, DType::kF32, value.sizes().vec(), value.data_ptr()});
  }
  auto extra = at::zeros({2});
  tensors.push_back({"vision_model.encoder.layers.9.ls1", DType::kF32, {2}, extra.data_ptr()});
  auto itm = at::zeros({2, 8});  // ignored on purpose: training-only head
  tensors.push_back({"itm_head.weight", DType::kF32, {2, 8}, itm.data_ptr()});
  const auto dir = test::scratch_dir("weights_mismatch");
  write_safetensors((dir / "model.safetensors").string(), tensors);
  auto target = random_model(6);
  try {
    load_checkpoint(*target, dir.string());
    FAIL() << "expected WeightLoadError";
  } catch (const WeightLoadError& e) {
    const std::string message = e.what();
    for (const char* needle :
         {"model.safetensors", "missing tensors (2)", "logit_scale", "qllama.model.norm.weight",
          "unexpected tensors (1)", "vision_model.encoder.layers.9.ls1", "wrong shape (1)",
          "text_projection: checkpoint [3, 3], model [8, 12]"}) {
      EXPECT_NE(message.find(needle), std::string::npos) << needle << "\n" << message;
    }
    EXPECT_EQ(message.find("itm_head"), std::string::npos) << message;
  }
}

TEST(WeightsTest, missing_weights_and_shards_are_named) {
  const auto empty = test::scratch_dir("weights_empty");
  try {
    find_checkpoint_files(empty.string());
    FAIL();
  } catch (const WeightLoadError& e) {
    EXPECT_NE(std::string(e.what()).find("no weights found"), std::string::npos) << e.what();
  }
  std::ofstream(empty / "model.safetensors.index.json")
      << R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors"}})";
  try {
    find_checkpoint_files(empty.string());
    FAIL();
  } catch (const WeightLoadError& e) {
    EXPECT_NE(std::string(e.what()).find("model-00001-of-00002.safetensors"), std::string::npos);
  }
  EXPECT_THROW(find_checkpoint_files("/nonexistent/dir"), WeightLoadError);
}

TEST(WeightsTest, corrupt_checkpoint_file_gives_weight_load_error) {
  const auto dir = test::scratch_dir("weights_corrupt");
  std::ofstream(dir / "model.safetensors") << "this is not a safetensors file at all";
  auto target = random_model(7);
  EXPECT_THROW(load_checkpoint(*target, dir.string()), WeightLoadError);
}

// A module shaped like the tensors of tests/data/model/torch_sharded_bf16 (see its README).
class TinyShardedModule : public torch::nn::Module {
 public:
  TinyShardedModule() {
    for (const auto& [name, shape] :
         std::vector<std::pair<std::string, std::vector<int64_t>>>{{"embed.weight", {4, 3}},
                                                                   {"layers.0.weight", {3, 3}},
                                                                   {"layers.1.weight", {3, 3}},
                                                                   {"norm.weight", {3}}}) {
      auto holder = std::make_shared<torch::nn::Module>();
      parts.push_back(holder);
      params[name] = at::zeros(shape);
    }
    auto embed = register_module("embed", std::make_shared<torch::nn::Module>());
    embed->register_parameter("weight", params["embed.weight"]);
    auto layers = register_module("layers", std::make_shared<torch::nn::Module>());
    for (const char* i : {"0", "1"}) {
      layers->register_module(i, std::make_shared<torch::nn::Module>())
          ->register_parameter("weight", params[std::string("layers.") + i + ".weight"]);
    }
    auto norm = register_module("norm", std::make_shared<torch::nn::Module>());
    norm->register_parameter("weight", params["norm.weight"]);
  }
  std::vector<std::shared_ptr<torch::nn::Module>> parts;
  std::map<std::string, at::Tensor> params;
};

TEST(WeightsTest, sharded_bf16_pytorch_bin_loads) {
  // Written by torch.save (tests/data/model/make_torch_bin_fixtures.py) the way Hugging Face
  // ships InternViT-6B-224px: an OrderedDict per shard plus pytorch_model.bin.index.json.
  const auto dir = test::source_dir() / "tests" / "data" / "model" / "torch_sharded_bf16";
  const auto files = find_checkpoint_files(dir.string());
  EXPECT_FALSE(files.safetensors);
  EXPECT_EQ(files.shards.size(), 2u);
  TinyShardedModule module;
  load_checkpoint(module, dir.string());
  EXPECT_TRUE(module.params["embed.weight"].equal(at::arange(12, at::kFloat).view({4, 3})));
  EXPECT_TRUE(module.params["layers.0.weight"].equal(at::arange(9, at::kFloat).view({3, 3}) + 100));
  EXPECT_TRUE(module.params["layers.1.weight"].equal(at::arange(9, at::kFloat).view({3, 3}) + 200));
  EXPECT_TRUE(module.params["norm.weight"].equal(at::arange(3, at::kFloat) + 1));
}

// The benchmarks' random-weight models: the preset's shapes, deterministic per seed, the default
// preprocessing at the model's resolution, no tokenizer, and a clear error for another name.
TEST(WeightsTest, random_preset_models_are_deterministic_and_complete) {
  const Placement cpu;
  const auto a = ivs::model::random_model("tiny", cpu, 7),
             b = ivs::model::random_model("tiny", cpu, 7);
  const auto c = ivs::model::random_model("tiny", cpu, 8);
  EXPECT_EQ(a.dir, "preset:tiny");
  EXPECT_FALSE(a.vision_only());
  EXPECT_FALSE(a.tokenizer.has_value());
  EXPECT_EQ(a.processor.crop_height, internvl_tiny_config().image_size());
  EXPECT_EQ(a.processor.shortest_edge, a.processor.crop_width);
  auto same_seed = a.internvl->named_parameters(true),
       other_seed = c.internvl->named_parameters(true);
  bool differs = false;
  for (const auto& item : b.internvl->named_parameters(true)) {
    EXPECT_TRUE(same_seed[item.key()].equal(item.value())) << item.key();
    differs = differs || !other_seed[item.key()].equal(item.value());
  }
  EXPECT_TRUE(differs) << "another seed gave the same weights";
  EXPECT_THROW(ivs::model::random_model("huge", cpu, 0), InputError);
}

}  // namespace
}  // namespace ivs::model
