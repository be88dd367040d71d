// SPDX-License-Identifier: Apache-2.0
// internvl caption: beam-search captions with the QLLaMA decoder (InternVL-G generative mode).
#include <iostream>
#include <memory>

#include <c10/core/InferenceMode.h>

#include "model/cli/commands.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/internvl/generation.h"
#include "model/internvl/prompts.h"

namespace ivs::cli {
namespace {

struct CaptionOptions {
  ModelOptions model;
  std::string prompt = model::kDefaultCaptionPrompt;
  std::string resize = "crop";
  model::GenerationConfig generation;
};

void run(const CaptionOptions& o) {
  o.model.validate();
  o.generation.validate();
  if (o.resize != "crop" && o.resize != "squash") {
    throw model::InputError(
        "--resize must be crop (shortest edge + centre crop, as the model card) "
        "or squash (straight to 224x224, as the official caption evaluation)");
  }
  const auto mode =
      o.resize == "crop" ? model::ResizeMode::kShortestEdgeCrop : model::ResizeMode::kSquash;
  const auto images = o.model.decode_images();
  const auto loaded = o.model.load();
  c10::InferenceMode guard;
  const auto& m = loaded.full_model();
  const auto prompt_ids = loaded.text_tokenizer().encode_prompt(o.prompt);
  const auto vision = m.vision_features(loaded.pixel_values(images, mode));
  const auto captions = model::generate_captions(m, vision, prompt_ids, o.generation);
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < captions.size(); ++i) {
    const auto text = loaded.text_tokenizer().decode(captions[i].token_ids);
    results.push_back({{"image", o.model.images[i]},
                       {"token_ids", captions[i].token_ids},
                       {"text", text},
                       {"score", captions[i].score}});
    if (!o.model.json) std::cout << o.model.images[i] << ": " << text << "\n";
  }
  if (o.model.json)
    print_json({{"model", o.model.model_dir}, {"prompt", o.prompt}, {"results", results}});
}

}  // namespace

void add_caption_command(CLI::App& app) {
  auto options = std::make_shared<CaptionOptions>();
  auto* cmd = app.add_subcommand("caption", "Caption images with beam search");
  options->model.add_to(*cmd, true, true);
  auto& g = options->generation;
  cmd->add_option("--prompt", options->prompt, "Text the caption continues")->capture_default_str();
  cmd->add_option("--num-beams", g.num_beams, "Beams (1 = greedy)")->capture_default_str();
  cmd->add_option("--min-new-tokens", g.min_new_tokens, "No EOS before this many tokens")
      ->capture_default_str();
  cmd->add_option("--max-new-tokens", g.max_new_tokens, "Longest caption in tokens")
      ->capture_default_str();
  cmd->add_option("--length-penalty", g.length_penalty, "Exponent of the length normalisation")
      ->capture_default_str();
  cmd->add_option("--resize", options->resize, "crop or squash")->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace ivs::cli
