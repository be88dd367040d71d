// SPDX-License-Identifier: Apache-2.0
// internvl classify: zero-shot top-k labels per image (InternVL-C or -G).
#include <algorithm>
#include <iostream>
#include <memory>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "model/cli/commands.h"
#include "model/cli/model_options.h"
#include "model/common/errors.h"
#include "model/internvl/prompts.h"
#include "model/internvl/zero_shot.h"

namespace ivs::cli {
namespace {

struct ClassifyOptions {
  ModelOptions model;
  std::string labels;
  std::string labels_file;
  std::string templates_file;
  std::string prompt_template = model::kDefaultPromptTemplate;
  std::string mode = "c";
  int64_t top_k = 5;
  int64_t batch_size = 16;
  bool clip = false;
};

// Image embeddings in batches of `batch_size`, so that many frames never need one huge batch.
at::Tensor encode_images(const model::LoadedModel& loaded,
                         const std::vector<model::RgbImage>& images, model::EmbeddingMode mode,
                         int64_t batch_size) {
  std::vector<at::Tensor> parts;
  for (size_t start = 0; start < images.size(); start += batch_size) {
    const auto end = std::min(images.size(), start + static_cast<size_t>(batch_size));
    const std::vector<model::RgbImage> chunk(images.begin() + start, images.begin() + end);
    parts.push_back(loaded.full_model().encode_image(loaded.pixel_values(chunk), mode));
  }
  return at::cat(parts, 0);
}

nlohmann::json scores_json(const std::vector<model::LabelScore>& scores) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : scores) {
    out.push_back({{"label", s.label}, {"label_id", s.label_id}, {"confidence", s.confidence}});
  }
  return out;
}

model::LabelSet label_set(const ClassifyOptions& o) {
  model::LabelSet set;
  set.labels = o.labels_file.empty() ? model::parse_label_list(o.labels)
                                     : model::read_lines_file(o.labels_file, "--labels-file");
  set.templates = o.templates_file.empty()
                      ? std::vector<std::string>{o.prompt_template}
                      : model::read_lines_file(o.templates_file, "--templates-file");
  set.validate();
  return set;
}

void run(const ClassifyOptions& o) {
  o.model.validate();
  const auto labels = label_set(o);  // before loading: bad labels fail fast
  const auto mode = model::parse_embedding_mode(o.mode);
  const auto images = o.model.decode_images();
  const auto loaded = o.model.load();
  c10::InferenceMode guard;
  const auto& m = loaded.full_model();
  const model::ZeroShotClassifier classifier(m, loaded.text_tokenizer(), labels);
  const auto embeds = encode_images(loaded, images, mode, o.batch_size);
  const auto top = classifier.top_k(classifier.probabilities(embeds), o.top_k);
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < images.size(); ++i) {
    results.push_back({{"image", o.model.images[i]}, {"classification", scores_json(top[i])}});
  }
  nlohmann::json clip;
  if (o.clip) {  // the images are the frames of one clip
    const auto clip_probs =
        classifier.probabilities(model::ZeroShotClassifier::clip_embedding(embeds));
    clip = {{"frames", o.model.images},
            {"classification", scores_json(classifier.top_k(clip_probs, o.top_k)[0])}};
  }
  if (o.model.json) {
    nlohmann::json out = {{"model", o.model.model_dir},
                          {"mode", model::embedding_mode_name(mode)},
                          {"labels", labels.labels},
                          {"results", results}};
    if (o.clip) out["clip"] = clip;
    print_json(out);
    return;
  }
  if (o.clip) results.push_back({{"image", "clip"}, {"classification", clip["classification"]}});
  for (const auto& r : results) {
    std::cout << r["image"].get<std::string>() << ":";
    for (const auto& s : r["classification"]) {
      std::cout << "  " << s["label"].get<std::string>() << " (" << s["confidence"].get<double>()
                << ")";
    }
    std::cout << "\n";
  }
}

}  // namespace

void add_classify_command(CLI::App& app) {
  auto options = std::make_shared<ClassifyOptions>();
  auto* cmd =
      app.add_subcommand("classify", "Zero-shot classification of images against a label set");
  options->model.add_to(*cmd, true, true);
  auto* labels = cmd->add_option("--labels", options->labels, "Labels separated by ';'");
  auto* file =
      cmd->add_option("--labels-file", options->labels_file, "File with one label per line");
  labels->excludes(file);
  cmd->add_option("--prompt-template", options->prompt_template, "Prompt template, {} = label")
      ->capture_default_str();
  cmd->add_option("--templates-file", options->templates_file,
                  "File with one prompt template per line (ensembled)");
  cmd->add_option("--mode", options->mode, "c (InternVL-C) or g (InternVL-G)")
      ->capture_default_str();
  cmd->add_option("--top-k", options->top_k, "Labels to report per image")->capture_default_str();
  cmd->add_option("--batch-size", options->batch_size, "Images per forward pass")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--clip", options->clip,
                "Also score the images together as the frames of one clip (mean of the unit "
                "frame embeddings, renormalised)");
  cmd->callback([options] {
    if (options->labels.empty() && options->labels_file.empty()) {
      throw model::InputError("give the labels with --labels \"a;b;c\" or --labels-file FILE");
    }
    run(*options);
  });
}

}  // namespace ivs::cli
