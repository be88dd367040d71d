// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/generation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <ATen/ATen.h>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

constexpr double kInactiveBeamScore = -1e9;  // transformers' initial score of beams 1..n-1

// Finished hypotheses of one image, as transformers' BeamHypotheses keeps them.
class BeamHypotheses {
 public:
  BeamHypotheses(int64_t num_beams, double length_penalty)
      : num_beams_(num_beams), length_penalty_(length_penalty) {}

  // `length` counts the dummy BOS plus the tokens before EOS.
  void add(std::vector<int64_t> tokens, double sum_logprobs, int64_t length) {
    const double score = sum_logprobs / std::pow(static_cast<double>(length), length_penalty_);
    if (static_cast<int64_t>(beams_.size()) >= num_beams_ && score <= worst_) return;
    beams_.emplace_back(score, std::move(tokens));
    if (static_cast<int64_t>(beams_.size()) > num_beams_) {
      beams_.erase(std::min_element(beams_.begin(), beams_.end(), by_score));
      worst_ = std::min_element(beams_.begin(), beams_.end(), by_score)->first;
    } else {
      worst_ = std::min(worst_, score);
    }
  }

  // No live beam can beat the worst finished one any more (early_stopping = false).
  bool is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (static_cast<int64_t>(beams_.size()) < num_beams_) return false;
    return worst_ >= best_sum_logprobs / std::pow(static_cast<double>(cur_len), length_penalty_);
  }

  // The last-added of equal scores wins, as transformers' stable sort + pop() picks it.
  const std::pair<double, std::vector<int64_t>>& best() const {
    const auto* best = &beams_.front();
    for (const auto& b : beams_) {
      if (b.first >= best->first) best = &b;
    }
    return *best;
  }

 private:
  static bool by_score(const std::pair<double, std::vector<int64_t>>& a,
                       const std::pair<double, std::vector<int64_t>>& b) {
    return a.first < b.first;
  }

  int64_t num_beams_;
  double length_penalty_;
  double worst_ = 1e9;
  std::vector<std::pair<double, std::vector<int64_t>>> beams_;
};

// Decoder state shared by greedy and beam search: the KV cache and the next position.
class Decoder {
 public:
  Decoder(const InternVLModelImpl& model, int64_t next_position)
      : model_(model), next_position_(next_position) {}

  // First pass over [queries ; prompt] for B images: queries see each other, text is causal and
  // sees all queries, cross-attention on the query rows. Returns next-token logits [B, V].
  at::Tensor prefill(const at::Tensor& vision, const std::vector<int64_t>& prompt_ids) {
    const auto b = vision.size(0);
    const auto q = model_.query_tokens.size(1);
    const auto ids = at::tensor(prompt_ids, vision.options().dtype(at::kLong)).unsqueeze(0);
    const auto text = model_.qllama->model->embed_tokens->forward(ids).expand({b, -1, -1});
    QLlamaInputs inputs;
    inputs.inputs_embeds = at::cat({model_.query_tokens.expand({b, -1, -1}), text}, 1);
    const auto t = inputs.inputs_embeds.size(1);
    inputs.position_ids = at::arange(t, ids.options()).unsqueeze(0).expand({b, t});
    auto allowed = at::ones({t, t}, ids.options().dtype(at::kBool)).tril();
    allowed.narrow(0, 0, q).narrow(1, 0, q).fill_(true);
    inputs.allowed = allowed.view({1, 1, t, t});
    inputs.vision = vision;
    next_position_ = t;
    return logits(model_.qllama->model->forward(inputs, &cache_));
  }

  // One token per row, attending over the cache. tokens [R] -> logits [R, V].
  at::Tensor step(const at::Tensor& tokens) {
    const auto r = tokens.size(0);
    QLlamaInputs inputs;
    inputs.inputs_embeds = model_.qllama->model->embed_tokens->forward(tokens.view({r, 1}));
    inputs.position_ids = at::full({r, 1}, next_position_++, tokens.options());
    return logits(model_.qllama->model->forward(inputs, &cache_));
  }

  KVCache& cache() { return cache_; }

 private:
  at::Tensor logits(const at::Tensor& hidden) const {
    const auto last = hidden.select(1, hidden.size(1) - 1);
    return model_.qllama->lm_head->forward(last);
  }

  const InternVLModelImpl& model_;
  KVCache cache_;
  int64_t next_position_;
};

// log-softmax in float32 with EOS forbidden while fewer than min_new_tokens were generated.
at::Tensor next_token_logprobs(const at::Tensor& logits, int64_t generated, const GenerationConfig& config,
                               int64_t eos) {
  auto logp = at::log_softmax(logits.to(at::kFloat), -1);
  if (generated < config.min_new_tokens) {
    logp.select(1, eos).fill_(-std::numeric_limits<float>::infinity());
  }
  return logp;
}

std::vector<GeneratedCaption> greedy_search(Decoder& decoder, at::Tensor logits,
                                            const GenerationConfig& config, int64_t eos) {
  const auto b = logits.size(0);
  std::vector<GeneratedCaption> out(b);
  std::vector<bool> finished(b, false);
  for (int64_t generated = 0; generated < config.max_new_tokens; ++generated) {
    const auto logp = next_token_logprobs(logits, generated, config, eos);
    const auto best = logp.max(1);
    const auto tokens = std::get<1>(best).cpu();
    const auto values = std::get<0>(best).to(at::kDouble).cpu();
    bool all_finished = true;
    for (int64_t i = 0; i < b; ++i) {
      if (finished[i]) continue;
      const auto token = tokens[i].item<int64_t>();
      out[i].token_ids.push_back(token);
      out[i].score += values[i].item<double>();
      finished[i] = token == eos;
      all_finished = all_finished && finished[i];
    }
    if (all_finished || generated + 1 == config.max_new_tokens) break;
    logits = decoder.step(std::get<1>(best));
  }
  return out;
}

struct BeamStep {
  std::vector<float> scores;      // [B * nb] new cumulative scores
  std::vector<int64_t> tokens;    // [B * nb] chosen tokens
  std::vector<int64_t> sources;   // [B * nb] global row each new beam continues
};

// transformers' BeamSearchScorer.process for one step over all images.
BeamStep select_beams(const at::Tensor& scores, int64_t num_beams, int64_t cur_len, int64_t eos,
                      std::vector<std::vector<int64_t>>& tokens, std::vector<BeamHypotheses>& hyps,
                      std::vector<bool>& done) {
  const auto b = static_cast<int64_t>(hyps.size());
  const auto vocab = scores.size(1);
  const auto top = scores.view({b, num_beams * vocab}).topk(2 * num_beams, 1, true, true);
  const auto top_values = std::get<0>(top).to(at::kDouble).cpu();
  const auto top_indices = std::get<1>(top).cpu();
  const auto* values = top_values.data_ptr<double>();
  const auto* indices = top_indices.data_ptr<int64_t>();
  BeamStep step{std::vector<float>(b * num_beams, 0.0f), std::vector<int64_t>(b * num_beams, 0),
                std::vector<int64_t>(b * num_beams, 0)};
  for (int64_t i = 0; i < b; ++i) {
    if (done[i]) continue;  // keeps shapes: pad token, score 0, row 0
    int64_t filled = 0;
    for (int64_t rank = 0; rank < 2 * num_beams && filled < num_beams; ++rank) {
      const double value = values[i * 2 * num_beams + rank];
      const int64_t flat = indices[i * 2 * num_beams + rank];
      const int64_t row = i * num_beams + flat / vocab, token = flat % vocab;
      if (token == eos) {
        if (rank < num_beams) hyps[i].add(tokens[row], value, cur_len);
        continue;
      }
      const auto slot = i * num_beams + filled++;
      step.scores[slot] = static_cast<float>(value);
      step.tokens[slot] = token;
      step.sources[slot] = row;
    }
    // transformers 4.33 passes input_ids.shape[-1] + 1: the length the new scores belong to.
    done[i] = done[i] || hyps[i].is_done(values[i * 2 * num_beams], cur_len + 1);
  }
  return step;
}

std::vector<GeneratedCaption> beam_search(Decoder& decoder, const at::Tensor& first_logits,
                                          const GenerationConfig& config, int64_t eos) {
  const auto b = first_logits.size(0), nb = config.num_beams;
  const auto device_long = first_logits.options().dtype(at::kLong);
  // Every beam starts from the same first step; only beam 0 is live (the others score -1e9).
  decoder.cache().select_rows(at::arange(b, device_long).repeat_interleave(nb));
  auto logits = first_logits.repeat_interleave(nb, 0);
  std::vector<float> init(b * nb, static_cast<float>(kInactiveBeamScore));
  for (int64_t i = 0; i < b; ++i) init[i * nb] = 0.0f;
  auto beam_scores = at::tensor(init, first_logits.options().dtype(at::kFloat));
  std::vector<std::vector<int64_t>> tokens(b * nb);
  std::vector<BeamHypotheses> hyps(b, BeamHypotheses(nb, config.length_penalty));
  std::vector<bool> done(b, false);
  const int64_t max_length = 1 + config.max_new_tokens;  // counts the dummy BOS
  for (int64_t cur_len = 1;;) {
    const auto scores = next_token_logprobs(logits, cur_len - 1, config, eos) + beam_scores.unsqueeze(1);
    auto step = select_beams(scores, nb, cur_len, eos, tokens, hyps, done);
    std::vector<std::vector<int64_t>> next(b * nb);
    for (int64_t r = 0; r < b * nb; ++r) {
      next[r] = tokens[step.sources[r]];
      next[r].push_back(step.tokens[r]);
    }
    tokens = std::move(next);
    beam_scores = at::tensor(step.scores, beam_scores.options());
    ++cur_len;
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; }) || cur_len >= max_length) {
      break;
    }
    decoder.cache().select_rows(at::tensor(step.sources, device_long));
    logits = decoder.step(at::tensor(step.tokens, device_long));
  }
  const auto final_scores = beam_scores.to(at::kDouble).cpu();
  std::vector<GeneratedCaption> out(b);
  for (int64_t i = 0; i < b; ++i) {
    if (!done[i]) {
      for (int64_t j = 0; j < nb; ++j) {
        const auto row = i * nb + j;
        hyps[i].add(tokens[row], final_scores[row].item<double>(), 1 + tokens[row].size());
      }
    }
    const auto& [score, best] = hyps[i].best();
    out[i].token_ids = best;
    out[i].score = score;
    if (1 + static_cast<int64_t>(best.size()) < max_length) out[i].token_ids.push_back(eos);
  }
  return out;
}

}  // namespace

void GenerationConfig::validate() const {
  if (num_beams < 1) throw InputError("num_beams must be at least 1");
  if (max_new_tokens < 1) throw InputError("max_new_tokens must be at least 1");
  if (min_new_tokens < 0 || min_new_tokens > max_new_tokens) {
    throw InputError("min_new_tokens must be between 0 and max_new_tokens");
  }
}

std::vector<GeneratedCaption> generate_captions(const InternVLModelImpl& model, const at::Tensor& vision,
                                                const std::vector<int64_t>& prompt_ids,
                                                const GenerationConfig& config) {
  config.validate();
  TORCH_CHECK(vision.dim() == 3, "generate_captions expects vision features [B, N, C], got ",
              vision.sizes());
  TORCH_CHECK(vision.device() == model.query_tokens.device(), "vision features on ", vision.device(),
              " but the model is on ", model.query_tokens.device());
  const auto eos = model.config.qllama_config.eos_token_id;
  const auto max_positions = model.config.qllama_config.max_position_embeddings;
  const auto needed = model.query_tokens.size(1) + static_cast<int64_t>(prompt_ids.size()) +
                      config.max_new_tokens;
  if (needed > max_positions) {
    throw InputError("prompt plus max_new_tokens needs " + std::to_string(needed) +
                     " positions; the model has " + std::to_string(max_positions));
  }
  Decoder decoder(model, 0);
  const auto first = decoder.prefill(vision, prompt_ids);
  if (config.num_beams == 1) return greedy_search(decoder, first, config, eos);
  return beam_search(decoder, first, config, eos);
}

}  // namespace ivs::model
