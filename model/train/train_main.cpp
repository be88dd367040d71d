// SPDX-License-Identifier: Apache-2.0
// internvl-train: trains the small InternVL demo model on the synthetic scenes, on the CPU, with
// LibTorch autograd over the very modules the product runs (InternViT, QLLaMA, attention pools):
//   InternVL-C  contrastive: clip_projector(InternViT) vs text_projection(QLLaMA text)
//   InternVL-G  contrastive: the G image embedding (adds clip_projector2 over the QLLaMA queries)
//   captioning  next-token loss of QLLaMA over [queries ; "English caption:" caption </s>]
// Texts for the contrastive losses are "a photo of {label}." (the elements' default template) and
// the captions; images with the same text are all positives of each other. Writes a checkpoint
// directory in the official layout (config.json, model.safetensors, preprocessor_config.json,
// tokenizer.model) and the held-out evaluation (model_card.json).
//   internvl-train --tokenizer tokenizer.model --out DIR [--steps 3000] [--seed 1]
// model/train/make_demo_model.sh runs the whole recipe (tokenizer, then this) for model/demo.
#include <ATen/ATen.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "model/common/clip_image_processor.h"
#include "model/internvl/config.h"
#include "model/internvl/generation.h"
#include "model/internvl/internvl.h"
#include "model/internvl/prompts.h"
#include "model/internvl/tokenizer.h"
#include "model/internvl/weights.h"
#include "model/train/synthetic_scenes.h"

namespace {

using namespace ivs;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// The demo model learns the prompts it will be used with.
constexpr const char* kPrompt = ivs::model::kDefaultCaptionPrompt;
constexpr const char* kTemplate = ivs::model::kDefaultPromptTemplate;

struct Options {
  std::string tokenizer;
  std::string out;
  int steps = 3000;
  int batch = 32;
  int image_size = 112;
  uint64_t seed = 1;
  double lr = 1e-3;
  int eval_scenes = 400;
  int threads = 0;                    // 0: LibTorch's default (all cores)
  double shape_text_fraction = 0.25;  // of the contrastive texts: "a photo of a star."
  int curriculum_steps = 800;         // first lesson: shapes in one colour pair, fading out
};

model::InternVLConfig demo_config(int64_t vocab_size, int image_size) {
  model::InternVLConfig c = model::internvl_tiny_config();
  c.vision_config.hidden_size = 96;
  c.vision_config.num_attention_heads = 4;
  c.vision_config.num_hidden_layers = 4;
  c.vision_config.intermediate_size = 192;
  c.vision_config.image_size = image_size;
  c.qllama_config.vocab_size = vocab_size;
  c.qllama_config.hidden_size = 64;
  c.qllama_config.num_attention_heads = 4;
  c.qllama_config.num_hidden_layers = 2;
  c.qllama_config.intermediate_size = 128;
  c.qllama_config.max_position_embeddings = 128;
  c.num_query_token = 16;
  c.clip_embed_dim = 64;
  c.attn_pool_num_heads = 4;
  c.tie_word_embeddings = false;
  return c;
}

// config.json in the official InternVL layout (the keys InternVLConfig::from_json_text reads).
Json config_json(const model::InternVLConfig& c) {
  const auto& v = c.vision_config;
  const auto& q = c.qllama_config;
  return Json{{"model_type", "internvl"},
              {"architectures", {"InternVLModel"}},
              {"num_query_token", c.num_query_token},
              {"clip_embed_dim", c.clip_embed_dim},
              {"attn_pool_num_heads", c.attn_pool_num_heads},
              {"cross_attention_frequency", q.cross_attention_frequency},
              {"tie_word_embeddings", c.tie_word_embeddings},
              {"force_image_size", v.image_size},
              {"vision_config",
               {{"model_type", "intern_vit_6b"},
                {"hidden_size", v.hidden_size},
                {"num_attention_heads", v.num_attention_heads},
                {"num_hidden_layers", v.num_hidden_layers},
                {"intermediate_size", v.intermediate_size},
                {"image_size", v.image_size},
                {"patch_size", v.patch_size},
                {"num_channels", v.num_channels},
                {"qkv_bias", v.qkv_bias},
                {"qk_normalization", v.qk_normalization},
                {"layer_norm_eps", v.layer_norm_eps},
                {"hidden_act", v.hidden_act}}},
              {"qllama_config",
               {{"vocab_size", q.vocab_size},
                {"hidden_size", q.hidden_size},
                {"num_hidden_layers", q.num_hidden_layers},
                {"num_attention_heads", q.num_attention_heads},
                {"intermediate_size", q.intermediate_size},
                {"max_position_embeddings", q.max_position_embeddings},
                {"rms_norm_eps", q.rms_norm_eps},
                {"bos_token_id", q.bos_token_id},
                {"eos_token_id", q.eos_token_id},
                {"pad_token_id", q.pad_token_id},
                {"hidden_act", q.hidden_act}}}};
}

model::ImageProcessorConfig processor_config(int image_size) {
  model::ImageProcessorConfig p;
  p.shortest_edge = image_size;
  p.crop_height = image_size;
  p.crop_width = image_size;
  return p;
}

Json processor_json(const model::ImageProcessorConfig& p) {
  return Json{{"crop_size", p.crop_height},
              {"size", p.shortest_edge},
              {"do_center_crop", true},
              {"do_normalize", true},
              {"do_resize", true},
              {"resample", 3},
              {"image_mean", p.image_mean},
              {"image_std", p.image_std},
              {"feature_extractor_type", "CLIPFeatureExtractor"}};
}

// One scene as the elements would see it: rendered at a random size, then the real CLIP
// preprocessing (shortest edge + crop as internvlclassify, or squash as internvlcaption). Shape
// scenes are square (a crop must not cut the shape off, a squash must not bend it); test patterns
// also come at 4:3 and 16:9, as a videotestsrc caps filter would make them.
std::vector<float> scene_pixels(const train::Scene& scene,
                                const model::ImageProcessorConfig& processor,
                                std::mt19937_64& random) {
  static const int kSizes[] = {112, 160, 224, 320};
  static const double kAspects[] = {1.0, 4.0 / 3, 16.0 / 9};
  const int size = kSizes[random() % 4];
  model::RgbImage image;
  image.height = size;
  image.width = scene.pattern == train::Pattern::kNone
                    ? size
                    : static_cast<int>(std::lround(size * kAspects[random() % 3]));
  image.pixels = train::render_scene(scene, image.width, image.height);
  const auto mode =
      random() % 2 == 0 ? model::ResizeMode::kShortestEdgeCrop : model::ResizeMode::kSquash;
  return model::preprocess_image(image, processor, mode);
}

// The first lesson. With 56 colour pairs from the start, the vision tower settles on the colours
// (the easy signal) and never finds the outlines: supervised shape accuracy stays at chance with
// the colours varying, yet reaches 0.97 within 150 steps with one fixed pair. So early batches
// show their shapes in one high-contrast pair: all of them for the first quarter of
// `curriculum_steps`, then a share falling linearly to zero; the outline features learnt there
// carry over to every pair. The pair (black on green) has every shape in training both ways round,
// so the lesson's colour order cannot leak into a held-out caption. (Four pairs at once were
// tried too: the model learnt no shapes at all, held-out accuracy 0.000.)
train::Scene first_lesson(train::Scene scene, int step, int curriculum_steps,
                          std::mt19937_64& random) {
  static constexpr int kGreen = 1, kBlack = 7;
  if (!scene.has_shape() || step >= curriculum_steps) return scene;
  const double hold = curriculum_steps / 4.0;
  const double share = step < hold ? 1.0 : 1.0 - (step - hold) / (curriculum_steps - hold);
  if (train::unit_interval(random) >= share) return scene;
  scene.colour = kBlack;
  scene.background = kGreen;
  if (train::held_out(scene))
    throw std::logic_error("first_lesson: the lesson's colour pair is held out");
  return scene;
}

std::string prompt_for(const std::string& label) {
  std::string text = kTemplate;
  text.replace(text.find("{}"), 2, label);
  return text;
}

// A contrastive text and what it says about a scene: its label, its caption, or only its shape
// ("a photo of a star."). Shape-only texts ask the image features for the shape apart from the
// colours, which is what the held-out combinations need (with the first lesson above).
struct TextSpec {
  enum Kind { kLabel, kShape, kCaption } kind;
  train::Scene scene;
  std::string text;

  bool describes(const train::Scene& other) const {
    switch (kind) {
      case kLabel:
        return train::scene_label(other) == train::scene_label(scene);
      case kShape:
        return other.has_shape() && other.shape == scene.shape;
      case kCaption:
        return train::scene_caption(other) == train::scene_caption(scene);
    }
    return false;
  }
};

TextSpec text_for(const train::Scene& scene, double shape_fraction, std::mt19937_64& random) {
  const double roll = train::unit_interval(random);
  if (scene.has_shape() && roll < shape_fraction) {
    return {TextSpec::kShape, scene,
            prompt_for(std::string("a ") + train::shape_name(scene.shape))};
  }
  if (roll < shape_fraction + (1 - shape_fraction) * 0.7) {
    return {TextSpec::kLabel, scene, prompt_for(train::scene_label(scene))};
  }
  return {TextSpec::kCaption, scene, train::scene_caption(scene)};
}

at::Tensor ids_tensor(const model::TokenBatch& batch) {
  return at::tensor(batch.ids, at::kLong).view({batch.batch, batch.length});
}

// Cross-entropy against soft targets in both directions: positives[i][k] says text k describes
// image i (so duplicates and coarser texts are not pushed apart as negatives).
at::Tensor contrastive_loss(const at::Tensor& logits, const at::Tensor& positives) {
  const auto rows =
      -((positives / positives.sum(1, true)) * at::log_softmax(logits, 1)).sum(1).mean();
  const auto by_text = positives.t();
  const auto cols =
      -((by_text / by_text.sum(1, true)) * at::log_softmax(logits.t(), 1)).sum(1).mean();
  return (rows + cols) / 2;
}

// Teacher-forced caption loss over [queries ; BOS prompt caption EOS], masked like generation's
// prefill: queries see each other, text is causal and sees every query.
at::Tensor caption_loss(const model::InternVLModelImpl& m, const at::Tensor& vision,
                        const std::vector<std::vector<int64_t>>& sequences, int64_t prompt_length) {
  const int64_t b = static_cast<int64_t>(sequences.size());
  int64_t length = 0;
  for (const auto& s : sequences)
    length = std::max<int64_t>(length, static_cast<int64_t>(s.size()));
  std::vector<int64_t> ids(b * length, 0);
  for (int64_t i = 0; i < b; ++i)
    std::copy(sequences[i].begin(), sequences[i].end(), ids.begin() + i * length);
  const auto tokens = at::tensor(ids, at::kLong).view({b, length});
  const auto q = m.query_tokens.size(1);
  model::QLlamaInputs inputs;
  inputs.inputs_embeds = at::cat(
      {m.query_tokens.expand({b, -1, -1}), m.qllama->model->embed_tokens->forward(tokens)}, 1);
  const auto t = inputs.inputs_embeds.size(1);
  inputs.position_ids = at::arange(t, at::kLong).unsqueeze(0).expand({b, t});
  auto allowed = at::ones({t, t}, at::kBool).tril();
  allowed.narrow(0, 0, q).narrow(1, 0, q).fill_(true);
  inputs.allowed = allowed.view({1, 1, t, t});
  inputs.vision = vision;
  const auto hidden = m.qllama->model->forward(inputs);
  // Position q + j predicts token j + 1; only caption tokens and EOS (after the prompt) count.
  const auto logits =
      m.qllama->lm_head->forward(hidden.narrow(1, q + prompt_length - 1, length - prompt_length));
  const auto targets = tokens.narrow(1, prompt_length, length - prompt_length);
  const auto mask = targets.ne(0).to(at::kFloat);
  const auto nll =
      at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}),
                             /*weight=*/{}, at::Reduction::None, /*ignore_index=*/-100);
  return (nll * mask.reshape({-1})).sum() / mask.sum();
}

struct Evaluation {
  double accuracy_c = 0, accuracy_g = 0, caption_exact = 0;
  double shape_accuracy_c = 0;  // 4-way "a photo of a circle." ...: does the image carry the shape?
  int scenes = 0;
};

Evaluation evaluate(model::InternVLModelImpl& m, const model::Tokenizer& tokenizer,
                    const model::ImageProcessorConfig& processor, int count, uint64_t seed) {
  at::NoGradGuard no_grad;
  m.eval();
  const auto labels = train::all_scene_labels();
  std::vector<std::string> texts;
  for (const auto& label : labels) texts.push_back(prompt_for(label));
  const auto text_embeds =
      m.encode_text(ids_tensor(tokenizer.encode_for_retrieval(texts, 32, false)));
  std::vector<std::string> shape_texts;
  for (int shape = 0; shape < train::kShapeCount; ++shape) {
    shape_texts.push_back(
        prompt_for(std::string("a ") + train::shape_name(static_cast<train::Shape>(shape))));
  }
  const auto shape_embeds =
      m.encode_text(ids_tensor(tokenizer.encode_for_retrieval(shape_texts, 32, false)));
  train::SceneSampler sampler(seed, train::Split::kHeldOut);
  std::mt19937_64 random(seed);
  Evaluation e;
  const auto prompt = tokenizer.encode_prompt(kPrompt);
  model::GenerationConfig generation;
  generation.num_beams = 1;
  generation.min_new_tokens = 1;
  generation.max_new_tokens = 16;
  for (int start = 0; start < count; start += 50) {
    const int n = std::min(50, count - start);
    std::vector<train::Scene> scenes;
    std::vector<float> pixels;
    for (int i = 0; i < n; ++i) {
      scenes.push_back(sampler.next());
      const auto p = scene_pixels(scenes.back(), processor, random);
      pixels.insert(pixels.end(), p.begin(), p.end());
    }
    const int64_t s = processor.crop_height;
    const auto batch = at::from_blob(pixels.data(), {n, 3, s, s}, at::kFloat).clone();
    const auto vision = m.vision_features(batch);
    const auto logits_c =
        m.logits_per_image(m.encode_image_features(vision, model::EmbeddingMode::kC), text_embeds);
    const auto logits_g =
        m.logits_per_image(m.encode_image_features(vision, model::EmbeddingMode::kG), text_embeds);
    const auto best_c = logits_c.argmax(1), best_g = logits_g.argmax(1);
    const auto best_shape =
        m.logits_per_image(m.encode_image_features(vision, model::EmbeddingMode::kC), shape_embeds)
            .argmax(1);
    const auto captions = model::generate_captions(m, vision, prompt, generation);
    for (int i = 0; i < n; ++i) {
      const std::string truth = train::scene_label(scenes[i]);
      e.accuracy_c += labels[best_c[i].item<int64_t>()] == truth;
      e.accuracy_g += labels[best_g[i].item<int64_t>()] == truth;
      e.shape_accuracy_c += best_shape[i].item<int64_t>() == static_cast<int64_t>(scenes[i].shape);
      e.caption_exact += tokenizer.decode(captions[i].token_ids) == train::scene_caption(scenes[i]);
    }
  }
  e.scenes = count;
  e.accuracy_c /= count;
  e.accuracy_g /= count;
  e.caption_exact /= count;
  e.shape_accuracy_c /= count;
  m.train();
  return e;
}

int run_training(const Options& o) {
  at::manual_seed(static_cast<int64_t>(o.seed));
  if (o.threads > 0) at::set_num_threads(o.threads);
  const model::Tokenizer tokenizer(o.tokenizer);
  const auto config = demo_config(tokenizer.vocab_size(), o.image_size);
  const auto processor = processor_config(o.image_size);
  model::InternVLModel m(config, at::TensorOptions().dtype(at::kFloat));
  model::init_random_parameters(*m, o.seed);
  {
    at::NoGradGuard no_grad;
    m->logit_scale.fill_(std::log(1 / 0.07));  // CLIP's initial temperature
  }
  m->train();
  torch::optim::AdamW optimizer(m->parameters(),
                                torch::optim::AdamWOptions(o.lr).weight_decay(0.01));
  train::SceneSampler sampler(o.seed, train::Split::kTrain);
  std::mt19937_64 random(o.seed + 1);
  const auto prompt = tokenizer.encode_prompt(kPrompt);
  const auto started = Clock::now();
  std::printf("model: vision %lld x %lld, QLLaMA %lld x %lld, vocab %lld, %lld queries, image %d\n",
              static_cast<long long>(config.vision_config.num_hidden_layers),
              static_cast<long long>(config.vision_config.hidden_size),
              static_cast<long long>(config.qllama_config.num_hidden_layers),
              static_cast<long long>(config.qllama_config.hidden_size),
              static_cast<long long>(config.qllama_config.vocab_size),
              static_cast<long long>(config.num_query_token), o.image_size);
  for (int step = 1; step <= o.steps; ++step) {
    // Cosine decay after a short warm-up.
    const double warm = std::min(1.0, step / 100.0);
    const double lr = o.lr * warm * 0.5 * (1 + std::cos(M_PI * step / o.steps));
    for (auto& group : optimizer.param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    std::vector<train::Scene> scenes;
    std::vector<float> pixels;
    std::vector<std::string> texts;
    std::vector<TextSpec> specs;
    std::vector<std::vector<int64_t>> captions;
    for (int i = 0; i < o.batch; ++i) {
      scenes.push_back(first_lesson(sampler.next(), step, o.curriculum_steps, random));
      const auto p = scene_pixels(scenes.back(), processor, random);
      pixels.insert(pixels.end(), p.begin(), p.end());
      specs.push_back(text_for(scenes.back(), o.shape_text_fraction, random));
      texts.push_back(specs.back().text);
      auto sequence = prompt;
      const auto caption = tokenizer.encode(train::scene_caption(scenes.back()), false, true);
      sequence.insert(sequence.end(), caption.begin(), caption.end());
      captions.push_back(std::move(sequence));
    }
    std::vector<float> same(static_cast<size_t>(o.batch) * o.batch);
    for (int i = 0; i < o.batch; ++i) {
      for (int k = 0; k < o.batch; ++k)
        same[i * o.batch + k] = specs[k].describes(scenes[i]) ? 1.0f : 0.0f;
    }
    const int64_t s = o.image_size;
    const auto batch = at::from_blob(pixels.data(), {o.batch, 3, s, s}, at::kFloat).clone();
    const auto same_t = at::from_blob(same.data(), {o.batch, o.batch}, at::kFloat).clone();
    const auto text_embeds =
        m->encode_text(ids_tensor(tokenizer.encode_for_retrieval(texts, 32, false)));
    const auto vision = m->vision_features(batch);
    const auto loss_c = contrastive_loss(
        m->logits_per_image(m->encode_image_features(vision, model::EmbeddingMode::kC),
                            text_embeds),
        same_t);
    const auto loss_g = contrastive_loss(
        m->logits_per_image(m->encode_image_features(vision, model::EmbeddingMode::kG),
                            text_embeds),
        same_t);
    const auto loss_cap = caption_loss(*m, vision, captions, static_cast<int64_t>(prompt.size()));
    const auto loss = loss_c + loss_g + loss_cap;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    if (step == 1 || step % 100 == 0 || step == o.steps) {
      std::printf("step %d/%d  loss %.3f (C %.3f, G %.3f, caption %.3f)  lr %.5f  %.0f s\n", step,
                  o.steps, loss.item<double>(), loss_c.item<double>(), loss_g.item<double>(),
                  loss_cap.item<double>(), lr,
                  std::chrono::duration<double>(Clock::now() - started).count());
      std::fflush(stdout);
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const Evaluation e = evaluate(*m, tokenizer, processor, o.eval_scenes, o.seed + 100);
  std::printf(
      "held-out (%d scenes): zero-shot accuracy C %.3f, G %.3f; shape alone (4-way, C) %.3f; "
      "caption exact "
      "match %.3f; trained in %.0f s\n",
      e.scenes, e.accuracy_c, e.accuracy_g, e.shape_accuracy_c, e.caption_exact, seconds);

  namespace fs = std::filesystem;
  fs::create_directories(o.out);
  std::ofstream(fs::path(o.out) / "config.json") << config_json(config).dump(2) << "\n";
  std::ofstream(fs::path(o.out) / "preprocessor_config.json")
      << processor_json(processor).dump(2) << "\n";
  fs::copy_file(o.tokenizer, fs::path(o.out) / "tokenizer.model",
                fs::copy_options::overwrite_existing);
  model::save_checkpoint(*m, o.out, at::kFloat);
  const Json card{{"training",
                   {{"steps", o.steps},
                    {"batch", o.batch},
                    {"seed", o.seed},
                    {"learning_rate", o.lr},
                    {"curriculum_steps", o.curriculum_steps},
                    {"shape_text_fraction", o.shape_text_fraction},
                    {"image_size", o.image_size},
                    {"seconds", std::round(seconds)},
                    {"threads", at::get_num_threads()}}},
                  {"held_out",
                   {{"scenes", e.scenes},
                    {"zero_shot_accuracy_c", e.accuracy_c},
                    {"zero_shot_accuracy_g", e.accuracy_g},
                    {"shape_only_accuracy_c", e.shape_accuracy_c},
                    {"caption_exact_match_greedy", e.caption_exact},
                    {"labels", train::all_scene_labels().size()},
                    {"template", kTemplate}}}};
  std::ofstream(fs::path(o.out) / "model_card.json") << card.dump(2) << "\n";
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"internvl-train: trains the InternVL demo model on synthetic scenes (CPU)"};
  Options o;
  app.add_option("--tokenizer", o.tokenizer, "tokenizer.model from model/train/make_tokenizer.sh")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--out", o.out, "Checkpoint directory to write")->required();
  app.add_option("--steps", o.steps, "Optimizer steps")->check(CLI::Range(1, 1000000));
  app.add_option("--batch", o.batch, "Scenes per step")->check(CLI::Range(2, 4096));
  app.add_option("--image-size", o.image_size, "Model input size (a multiple of 14)")
      ->check(CLI::Range(14, 448));
  app.add_option("--seed", o.seed, "Seed of data, initialisation and sampling");
  app.add_option("--lr", o.lr, "Peak learning rate");
  app.add_option("--eval-scenes", o.eval_scenes, "Held-out scenes evaluated")
      ->check(CLI::Range(1, 100000));
  app.add_option("--shape-text-fraction", o.shape_text_fraction,
                 "Share of shape-only contrastive texts")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--curriculum-steps", o.curriculum_steps,
                 "Steps over which shapes in one colour pair fade out of the batches (0: none)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--threads", o.threads, "CPU threads (1: bit-identical results from run to run)")
      ->check(CLI::Range(0, 1024));
  CLI11_PARSE(app, argc, argv);
  try {
    return run_training(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internvl-train: %s\n", e.what());
    return 1;
  }
}
