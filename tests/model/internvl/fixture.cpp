// SPDX-License-Identifier: Apache-2.0
#include "tests/model/internvl/fixture.h"

#include <fstream>

#include <ATen/ATen.h>

#include "model/common/npy.h"
#include "model/internvl/weights.h"
#include "tests/common/test_paths.h"

namespace ivs::test {

nlohmann::json tiny_expected() {
  std::ifstream in(internvl_tiny_dir() / "expected.json");
  return nlohmann::json::parse(in);
}

at::Tensor npy_tensor(const std::string& path) {
  const auto array = model::read_npy(path);
  const auto dtype = array.dtype == model::DType::kI64 ? at::kLong : at::kFloat;
  if (array.dtype != model::DType::kI64 && array.dtype != model::DType::kF32) {
    throw std::runtime_error(path + ": test helper reads only float32 / int64 arrays");
  }
  auto out = at::empty(array.shape, dtype);
  std::memcpy(out.data_ptr(), array.data.data(), array.data.size());
  return out;
}

at::Tensor tiny_npy(const std::string& name) {
  return npy_tensor((internvl_tiny_dir() / name).string());
}

const model::LoadedModel& tiny_model() {
  // Loaded once per test process: every parity test reads the same immutable model.
  static const model::LoadedModel loaded =
      model::load_model(internvl_tiny_dir().string(), model::Placement::resolve("cpu", "fp32"));
  return loaded;
}

std::vector<model::RgbImage> tiny_images() {
  std::vector<model::RgbImage> images;
  for (const char* name :
       {"image1_red_square_320x240.png", "image2_blue_green_gradient_200x300.png",
        "image3_checkerboard_224x224.png"}) {
    images.push_back(model::decode_image_file((internvl_tiny_dir() / name).string()));
  }
  return images;
}

model::InternVLConfig small_config() {
  return model::InternVLConfig::from_json_text(R"({
    "model_type": "internvl", "num_query_token": 96, "clip_embed_dim": 12, "attn_pool_num_heads": 2,
    "vision_config": {"hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
                      "intermediate_size": 32, "image_size": 28, "patch_size": 14},
    "qllama_config": {"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 2,
                      "num_attention_heads": 2, "intermediate_size": 16}
  })",
                                               "small test config");
}

model::InternVLModel random_small_model(uint64_t seed) {
  model::InternVLModel m(small_config(), at::TensorOptions().dtype(at::kFloat));
  model::init_random_parameters(*m, seed);
  m->eval();
  return m;
}

at::Tensor random_small_vision(int64_t batch, uint64_t seed) {
  at::manual_seed(seed);
  return at::randn({batch, 5, 16});
}

}  // namespace ivs::test
