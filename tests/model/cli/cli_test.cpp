// SPDX-License-Identifier: Apache-2.0
// The `internvl` CLI end to end on the tiny fixture checkpoint: JSON outputs, the .npy dump
// against the official reference outputs, and the errors a user sees.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "model/common/npy.h"
#include "tests/common/run_command.h"
#include "tests/common/test_paths.h"

namespace ivs::model {
namespace {

using RunResult = test::CommandResult;  // output: stdout and stderr together

RunResult run_cli(const std::string& args) {
  return test::run_command(std::string(INTERNVL_CLI_PATH) + " " + args + " 2>&1");
}

nlohmann::json run_json(const std::string& args) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return nlohmann::json::parse(r.output);
}

std::string tiny() { return test::internvl_tiny_dir().string(); }
std::string image(const char* name) {
  return "--image " + (test::internvl_tiny_dir() / name).string();
}

nlohmann::json expected() {
  std::ifstream in(test::internvl_tiny_dir() / "expected.json");
  return nlohmann::json::parse(in);
}

// max |a - b| / max |b| over two float32 arrays of the same shape.
double relative_error(const NpyArray& actual, const std::vector<double>& reference) {
  const auto* a = reinterpret_cast<const float*>(actual.data.data());
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < reference.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - reference[i]));
    scale = std::max(scale, std::abs(reference[i]));
  }
  return diff / scale;
}

std::vector<double> floats_of(const NpyArray& array) {
  const auto* p = reinterpret_cast<const float*>(array.data.data());
  return std::vector<double>(p, p + array.numel());
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { INTERNVL_REQUIRE_PATH(test::internvl_tiny_dir() / "expected.json"); }
};

TEST_F(CliTest, caption_json_matches_the_official_beam_search) {
  const auto out = run_json("caption --json --device cpu --model " + tiny() + " " +
                            image("image1_red_square_320x240.png") + " " +
                            image("image2_blue_green_gradient_200x300.png"));
  const auto reference = expected()["generation"]["results"];
  ASSERT_EQ(out["results"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    auto ids = reference[i]["generated_ids"].get<std::vector<int64_t>>();
    ids.erase(ids.begin());  // transformers' dummy leading BOS
    EXPECT_EQ(out["results"][i]["token_ids"].get<std::vector<int64_t>>(), ids);
    EXPECT_EQ(out["results"][i]["text"], reference[i]["caption"]);
  }
}

TEST_F(CliTest, classify_json_lists_top_k_labels_per_image) {
  const auto out = run_json("classify --json --top-k 2 --mode g --model " + tiny() + " " +
                            image("image3_checkerboard_224x224.png") +
                            " --labels 'red square;checkerboard;a blue and green gradient'");
  EXPECT_EQ(out["mode"], "InternVL-G");
  ASSERT_EQ(out["results"].size(), 1u);
  const auto& scores = out["results"][0]["classification"];
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_GE(scores[0]["confidence"].get<double>(), scores[1]["confidence"].get<double>());
  for (const auto& s : scores) {
    const auto id = s["label_id"].get<int64_t>();
    ASSERT_TRUE(id >= 0 && id < 3);
    EXPECT_EQ(s["label"], out["labels"][id]);
  }
}

TEST_F(CliTest, classify_clip_scores_the_frames_together) {
  const auto out = run_json("classify --json --clip --top-k 3 --model " + tiny() + " " +
                            image("image1_red_square_320x240.png") + " " +
                            image("image3_checkerboard_224x224.png") + " --labels 'a;b;c'");
  ASSERT_EQ(out["results"].size(), 2u);
  ASSERT_EQ(out["clip"]["frames"].size(), 2u);
  const auto& scores = out["clip"]["classification"];
  ASSERT_EQ(scores.size(), 3u);
  double total = 0.0;
  for (const auto& s : scores) total += s["confidence"].get<double>();
  EXPECT_NEAR(total, 1.0, 1e-6);  // all labels reported: the probabilities sum to one
}

TEST_F(CliTest, embed_dump_matches_the_reference_outputs) {
  const auto dump = test::scratch_dir("cli_embed");
  const auto ref = expected();
  run_json(
      "embed --device cpu --model " + tiny() + " " + image("image1_red_square_320x240.png") + " " +
      image("image2_blue_green_gradient_200x300.png") + " " +
      image("image3_checkerboard_224x224.png") +
      " --text 'a photo of a red panda' --text '一张熊猫的照片' --text '二匹の猫の写真' --dump " +
      dump.string());
  const auto vision = read_npy((dump / "vision_last_hidden_state.npy").string());
  const auto vision_ref =
      read_npy((test::internvl_tiny_dir() / "vision_last_hidden_state.npy").string());
  ASSERT_EQ(vision.shape, vision_ref.shape);
  EXPECT_LT(relative_error(vision, floats_of(vision_ref)), 1e-4);
  const auto ids = read_npy((dump / "input_ids.npy").string());
  ASSERT_EQ(ids.dtype, DType::kI64);
  const auto* id = reinterpret_cast<const int64_t*>(ids.data.data());
  const auto ref_ids = ref["inputs"]["input_ids"];
  for (int64_t i = 0; i < ids.numel(); ++i)
    ASSERT_EQ(id[i], ref_ids[i / 80][i % 80].get<int64_t>());
  for (const char* name : {"image_embeds", "text_embeds", "logits_per_image"}) {
    std::vector<double> reference;
    for (const auto& row : ref["internvl_c"][name]) {
      for (const auto& v : row) reference.push_back(v.get<double>());
    }
    EXPECT_LT(relative_error(read_npy((dump / (std::string(name) + ".npy")).string()), reference),
              1e-4)
        << name;
  }
}

TEST_F(CliTest, tokenize_prints_reference_ids) {
  const auto out =
      run_json("tokenize --eos --model " + tiny() + " 'summarize:a photo of a red panda'");
  EXPECT_EQ(
      out["results"][0]["ids"].get<std::vector<int64_t>>(),
      (std::vector<int64_t>{1, 19138, 675, 29901, 29874, 15373, 310, 263, 2654, 282, 5863, 2}));
}

TEST_F(CliTest, inspect_summarises_a_good_checkpoint) {
  const auto out = run_json("inspect " + tiny());
  EXPECT_TRUE(out["problems"].empty());
  EXPECT_EQ(out["checkpoint_tensors"], 90);
  EXPECT_EQ(out["checkpoint_parameters"], 2568923);
  EXPECT_EQ(out["model_parameters"], 2568873);  // itm_head (50) is training-only
}

TEST_F(CliTest, inspect_lists_every_problem_of_a_mismatched_checkpoint) {
  const auto dir = test::scratch_dir("cli_inspect_bad");
  // The tiny weights under a config whose vision width is different: every vision tensor is off.
  auto config = nlohmann::json::parse(std::ifstream(test::internvl_tiny_dir() / "config.json"));
  config["vision_config"]["intermediate_size"] = 96;
  std::ofstream(dir / "config.json") << config.dump();
  std::filesystem::create_symlink(test::internvl_tiny_dir() / "model.safetensors",
                                  dir / "model.safetensors");
  const auto r = run_cli("inspect " + dir.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("tokenizer.model is missing"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(
                "wrong shape: vision_model.encoder.layers.0.mlp.fc1.weight: checkpoint [128, 64], "
                "model [96, 64]"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("wrong shape: vision_model.encoder.layers.1.mlp.fc2.weight"),
            std::string::npos);
}

TEST(CliErrorTest, user_errors_name_the_thing_and_the_fix) {
  struct Case {
    std::string args, needle;
  };
  const auto dir = test::scratch_dir("cli_errors");
  std::ofstream(dir / "config.json") << "{ not json";
  const std::vector<Case> cases = {
      {"classify --model /nonexistent/model --image x.png --labels a", "x.png does not exist"},
      {"caption --model /nonexistent/model --image " +
           (test::internvl_tiny_dir() / "config.json").string(),
       "config.json"},
      {"classify --model " + dir.string() + " --image x.png", "--labels"},
      {"inspect /nonexistent/model", "/nonexistent/model"},
      {"inspect " + dir.string(), "not valid JSON"},
      {"caption --model " + tiny() + " --image x.png --num-beams 0", "num_beams"},
      {"caption --model " + tiny() + " --image x.png --device tpu", "bad device 'tpu'"},
  };
  for (const auto& c : cases) {
    const auto r = run_cli(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.output.find(c.needle), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace ivs::model
