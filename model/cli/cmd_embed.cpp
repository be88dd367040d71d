// SPDX-License-Identifier: Apache-2.0
// internvl embed: dumps the intermediate and final tensors as NumPy files named like the parity
// fixtures, for comparison with the official implementation.
#include <filesystem>
#include <memory>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "model/cli/commands.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/common/npy.h"

namespace ivs::cli {
namespace {

struct EmbedOptions {
  ModelOptions model;
  std::vector<std::string> texts;
  std::string mode = "c";
  std::string dump_dir;
};

// Writes `t` as float32 (or int64 for integer tensors) C-order .npy and records it in `written`.
void dump(const std::filesystem::path& dir, const std::string& name, const at::Tensor& t,
          nlohmann::json& written) {
  const bool integral = !at::isFloatingType(t.scalar_type());
  const auto host = t.to(at::kCPU, integral ? at::kLong : at::kFloat).contiguous();
  const auto path = (dir / name).string();
  model::write_npy(path, integral ? model::DType::kI64 : model::DType::kF32, host.sizes().vec(),
                   host.data_ptr());
  written[name] = host.sizes().vec();
}

void run(const EmbedOptions& o) {
  o.model.validate();
  const auto mode = model::parse_embedding_mode(o.mode);
  const std::filesystem::path dir(o.dump_dir);
  std::filesystem::create_directories(dir);
  const auto images = o.model.decode_images();
  const auto loaded = o.model.load();
  c10::InferenceMode guard;
  nlohmann::json written = nlohmann::json::object();
  const auto pixels = loaded.pixel_values(images);
  dump(dir, "pixel_values.npy", pixels, written);
  const auto vision = loaded.vision_features(pixels);
  dump(dir, "vision_last_hidden_state.npy", vision, written);
  if (loaded.vision_only()) {
    if (!o.texts.empty())
      throw model::InputError(o.model.model_dir + " has no text tower: drop --text");
    dump(dir, "pooler_output.npy", vision.select(1, 0), written);
  } else {
    const auto& m = loaded.full_model();
    const auto image_embeds = m.encode_image_features(vision, mode);
    dump(dir, "image_embeds.npy", image_embeds, written);
    if (!o.texts.empty()) {
      const auto batch = loaded.text_tokenizer().encode_for_retrieval(o.texts);
      const auto ids = at::tensor(batch.ids, at::kLong).view({batch.batch, batch.length});
      dump(dir, "input_ids.npy", ids, written);
      const auto text_embeds = m.encode_text(ids);
      dump(dir, "text_embeds.npy", text_embeds, written);
      dump(dir, "logits_per_image.npy", m.logits_per_image(image_embeds, text_embeds), written);
    }
  }
  print_json(
      {{"dump_dir", o.dump_dir}, {"mode", model::embedding_mode_name(mode)}, {"files", written}});
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto options = std::make_shared<EmbedOptions>();
  auto* cmd =
      app.add_subcommand("embed", "Write pixel values, hidden states and embeddings as .npy");
  options->model.add_to(*cmd, true, false);
  cmd->add_option("--text", options->texts, "Text to embed (repeatable; 'summarize:' is added)");
  cmd->add_option("--mode", options->mode, "c (InternVL-C) or g (InternVL-G)")
      ->capture_default_str();
  cmd->add_option("--dump", options->dump_dir, "Output directory")->required();
  cmd->callback([options] { run(*options); });
}

}  // namespace ivs::cli
