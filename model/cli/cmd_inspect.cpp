// SPDX-License-Identifier: Apache-2.0
// internvl inspect DIR: what a checkpoint directory holds and everything wrong with it, read
// from file headers only (the model is built on the meta device: no memory for weights).
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>

#include "model/cli/commands.h"
#include "model/cli/exception_text.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/internvl/intern_vit.h"
#include "model/internvl/internvl.h"
#include "model/internvl/weights.h"

namespace ivs::cli {
namespace {

nlohmann::json config_summary(const model::InternVLConfig& c) {
  const auto& v = c.vision_config;
  nlohmann::json j = {
      {"kind",
       c.kind == model::CheckpointKind::kVisionOnly ? "InternViT (vision only)" : "InternVL"},
      {"vision",
       {{"hidden_size", v.hidden_size},
        {"layers", v.num_hidden_layers},
        {"heads", v.num_attention_heads},
        {"image_size", c.image_size()},
        {"patch_size", v.patch_size}}}};
  if (c.kind == model::CheckpointKind::kInternVL) {
    const auto& q = c.qllama_config;
    j["qllama"] = {{"hidden_size", q.hidden_size},
                   {"layers", q.num_hidden_layers},
                   {"heads", q.num_attention_heads},
                   {"vocab_size", q.vocab_size},
                   {"cross_attention_frequency", q.cross_attention_frequency}};
    j["num_query_token"] = c.num_query_token;
    j["clip_embed_dim"] = c.clip_embed_dim;
  }
  return j;
}

// Returns the report; problems found are listed in it rather than thrown.
nlohmann::json inspect(const std::string& dir) {
  namespace fs = std::filesystem;
  nlohmann::json report = {{"dir", dir}, {"problems", nlohmann::json::array()}};
  auto problem = [&](const std::string& text) { report["problems"].push_back(text); };
  model::InternVLConfig config;
  try {
    config = model::InternVLConfig::from_json_file((fs::path(dir) / "config.json").string());
    report["config"] = config_summary(config);
  } catch (const std::exception& e) {
    problem(exception_text(e));
    return report;
  }
  if (config.kind == model::CheckpointKind::kInternVL &&
      !fs::exists(fs::path(dir) / "tokenizer.model")) {
    problem("tokenizer.model is missing");
  }
  try {
    const auto files = model::find_checkpoint_files(dir);
    report["weight_files"] = files.shards;
    const auto meta = at::TensorOptions().device(at::kMeta).dtype(at::kFloat);
    std::shared_ptr<torch::nn::Module> module;
    if (config.kind == model::CheckpointKind::kVisionOnly) {
      module = model::InternVisionModel(config.vision_config, config.image_size(), meta).ptr();
    } else {
      module = model::InternVLModel(config, meta).ptr();
    }
    int64_t model_params = 0;
    for (const auto& p : module->parameters()) model_params += p.numel();
    const auto summary = model::summarize_checkpoint(*module, files);
    report["model_parameters"] = model_params;
    report["checkpoint_tensors"] = summary.num_tensors;
    report["checkpoint_parameters"] = summary.num_parameters;
    report["dtypes"] = summary.dtype_counts;
    for (const auto& p : summary.problems) problem(p);
  } catch (const std::exception& e) {
    problem(exception_text(e));
  }
  return report;
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("inspect",
                                 "Summarise a checkpoint directory and list its problems "
                                 "(exit status 1 when there are any)");
  cmd->add_option("dir", *dir, "Checkpoint directory")->required();
  cmd->callback([dir] {
    const auto report = inspect(*dir);
    print_json(report);  // JSON is both readable and scriptable here
    if (!report["problems"].empty()) {
      throw model::InputError(*dir + ": " + std::to_string(report["problems"].size()) +
                              " problem(s) found (listed above)");
    }
  });
}

}  // namespace ivs::cli
