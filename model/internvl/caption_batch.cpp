// SPDX-License-Identifier: Apache-2.0
#include "model/internvl/caption_batch.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <ATen/ATen.h>

#include "model/common/errors.h"

namespace ivs::model {
namespace {

constexpr float kInactiveBeamScore = -1e9f;  // transformers' initial score of beams 1..n-1

// Finished hypotheses of one request, as transformers' BeamHypotheses keeps them.
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

// One request's decoding state. Greedy search keeps one beam and sums its log-probabilities.
struct Request {
  int64_t id = 0;
  int64_t generated = 0;                    // tokens chosen so far
  std::vector<std::vector<int64_t>> beams;  // tokens of each live beam
  BeamHypotheses hypotheses;
  double greedy_score = 0.0;
};

// What one step keeps: per surviving row, the row it continues, its new token and score.
struct Continuation {
  std::vector<int64_t> sources;
  std::vector<int64_t> tokens;
  std::vector<float> scores;
  std::vector<int64_t> kept_requests;  // the survivors' indices in the old request order
  std::vector<Request> requests;       // the survivors, in row order
};

// `rows` rows of zeros shaped like `like`'s tensors (left padding of new rows' suffixes).
KVCache zero_rows(const KVCache& like, int64_t rows) {
  KVCache out;
  for (const auto& k : like.keys) {
    auto shape = k.sizes().vec();
    shape[0] = rows;
    out.keys.push_back(at::zeros(shape, k.options()));
    out.values.push_back(at::zeros(shape, k.options()));
  }
  return out;
}

}  // namespace

struct CaptionBatch::Impl {
  Impl(const InternVLModelImpl& m, std::vector<int64_t> ids, GenerationConfig c)
      : model(m),
        prompt_ids(std::move(ids)),
        config(c),
        eos(m.config.qllama_config.eos_token_id),
        beams(c.num_beams) {
    cache.beams = beams;
  }

  at::Tensor prefill(const at::Tensor& vision, KVCache& group_cache) const;
  void merge(KVCache group_prefix, at::Tensor group_logits, std::vector<Request> added);
  at::Tensor logprobs() const;
  Continuation choose_greedy(const at::Tensor& logp);
  Continuation choose_beams(const at::Tensor& logp);
  void finish_beams(Request& request, const std::vector<float>& final_scores, bool done);
  void continue_with(Continuation next);
  void decode(const std::vector<int64_t>& tokens);
  void clear();

  const InternVLModelImpl& model;
  const std::vector<int64_t> prompt_ids;
  const GenerationConfig config;
  const int64_t eos;
  const int64_t beams;  // rows per request: request i owns rows [i * beams, (i + 1) * beams)

  std::vector<Request> requests;  // row order
  at::Tensor logits;              // [R, V]: next-token logits of every row
  at::Tensor beam_scores;         // [R] float32 (beam search)
  // The prompt prefix once per request, the generated tokens per row. Requests admitted at
  // different times have generated different numbers of tokens, so every row's suffix is
  // left-padded to the longest: row r's own tokens are suffix columns [start[r], G).
  BeamKVCache cache;
  std::vector<int64_t> start;
  std::vector<std::pair<int64_t, GeneratedCaption>> finished;
  int64_t next_id = 0;
};

// One pass over [queries ; prompt] for B images: queries see each other, text is causal and
// sees all queries, cross-attention on the query rows. Returns next-token logits [B, V].
at::Tensor CaptionBatch::Impl::prefill(const at::Tensor& vision, KVCache& group_cache) const {
  const auto b = vision.size(0);
  const auto q = model.query_tokens.size(1);
  const auto ids = at::tensor(prompt_ids, vision.options().dtype(at::kLong)).unsqueeze(0);
  const auto text = model.qllama->model->embed_tokens->forward(ids).expand({b, -1, -1});
  QLlamaInputs inputs;
  inputs.inputs_embeds = at::cat({model.query_tokens.expand({b, -1, -1}), text}, 1);
  const auto t = inputs.inputs_embeds.size(1);
  inputs.position_ids = at::arange(t, ids.options()).unsqueeze(0).expand({b, t});
  auto allowed = at::ones({t, t}, ids.options().dtype(at::kBool)).tril();
  allowed.narrow(0, 0, q).narrow(1, 0, q).fill_(true);
  inputs.allowed = allowed.view({1, 1, t, t});
  inputs.vision = vision;
  const auto hidden = model.qllama->model->forward(inputs, &group_cache);
  return model.qllama->lm_head->forward(hidden.select(1, t - 1));
}

// Adds prefilled requests behind the live ones. Builds every new tensor before touching the
// batch, so a failure (out of memory) leaves it as it was.
void CaptionBatch::Impl::merge(KVCache group_prefix, at::Tensor group_logits,
                               std::vector<Request> added) {
  const auto rows = group_logits.size(0);
  std::vector<float> initial(static_cast<size_t>(rows), kInactiveBeamScore);
  for (int64_t r = 0; r < rows; r += beams) initial[static_cast<size_t>(r)] = 0.0f;
  auto group_scores = at::tensor(initial, group_logits.options().dtype(at::kFloat));
  if (requests.empty()) {
    cache.prefix = std::move(group_prefix);
    cache.suffix = KVCache{};
    start.assign(static_cast<size_t>(rows), 0);
    logits = std::move(group_logits);
    beam_scores = std::move(group_scores);
    requests = std::move(added);
    return;
  }
  const auto width = cache.suffix.length();  // the new rows' suffixes are all padding
  auto prefix = KVCache::concat_rows(cache.prefix, group_prefix);
  auto suffix =
      width == 0 ? cache.suffix : KVCache::concat_rows(cache.suffix, zero_rows(cache.suffix, rows));
  auto merged_logits = at::cat({logits, group_logits}, 0);
  auto merged_scores = at::cat({beam_scores, group_scores}, 0);
  requests.reserve(requests.size() + added.size());
  start.reserve(start.size() + static_cast<size_t>(rows));
  // Room is reserved above: nothing below allocates, so the batch changes all at once or not.
  cache.prefix = std::move(prefix);
  cache.suffix = std::move(suffix);
  logits = std::move(merged_logits);
  beam_scores = std::move(merged_scores);
  start.insert(start.end(), static_cast<size_t>(rows), width);
  for (auto& request : added) requests.push_back(std::move(request));
}

// log-softmax in float32 with EOS forbidden for requests below min_new_tokens.
at::Tensor CaptionBatch::Impl::logprobs() const {
  auto logp = at::log_softmax(logits.to(at::kFloat), -1);
  std::vector<uint8_t> early(start.size(), 0);
  bool any = false;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (requests[i].generated >= config.min_new_tokens) continue;
    std::fill_n(early.begin() + static_cast<int64_t>(i) * beams, beams, 1);
    any = true;
  }
  if (any) {
    const auto mask = at::tensor(early, logp.options().dtype(at::kByte)).to(at::kBool);
    logp.select(1, eos).masked_fill_(mask, -std::numeric_limits<float>::infinity());
  }
  return logp;
}

Continuation CaptionBatch::Impl::choose_greedy(const at::Tensor& logp) {
  const auto best = logp.max(1);
  const auto values = std::get<0>(best).to(at::kDouble).cpu();
  const auto tokens = std::get<1>(best).cpu();
  Continuation next;
  for (size_t i = 0; i < requests.size(); ++i) {
    auto& request = requests[i];
    const auto token = tokens.data_ptr<int64_t>()[i];
    request.beams[0].push_back(token);
    request.greedy_score += values.data_ptr<double>()[i];
    ++request.generated;
    if (token == eos || request.generated == config.max_new_tokens) {
      finished.emplace_back(request.id, GeneratedCaption{request.beams[0], request.greedy_score});
      continue;
    }
    next.sources.push_back(static_cast<int64_t>(i));
    next.tokens.push_back(token);
    next.kept_requests.push_back(static_cast<int64_t>(i));
    next.requests.push_back(std::move(request));
  }
  return next;
}

// transformers' BeamSearchScorer.process, one request at a time over a single top-k.
Continuation CaptionBatch::Impl::choose_beams(const at::Tensor& logp) {
  const auto n = static_cast<int64_t>(requests.size());
  const auto vocab = logp.size(1);
  const auto scores = logp + beam_scores.unsqueeze(1);
  const auto top = scores.view({n, beams * vocab}).topk(2 * beams, 1, true, true);
  const auto top_values = std::get<0>(top).to(at::kDouble).cpu();
  const auto top_indices = std::get<1>(top).cpu();
  Continuation next;
  for (int64_t i = 0; i < n; ++i) {
    auto& request = requests[static_cast<size_t>(i)];
    const double* values = top_values.data_ptr<double>() + i * 2 * beams;
    const int64_t* indices = top_indices.data_ptr<int64_t>() + i * 2 * beams;
    const int64_t cur_len = 1 + request.generated;  // counts transformers' dummy BOS
    std::vector<std::vector<int64_t>> chosen;
    std::vector<float> chosen_scores;
    for (int64_t rank = 0; rank < 2 * beams && static_cast<int64_t>(chosen.size()) < beams;
         ++rank) {
      const int64_t beam = indices[rank] / vocab, token = indices[rank] % vocab;
      if (token == eos) {
        if (rank < beams) request.hypotheses.add(request.beams[beam], values[rank], cur_len);
        continue;
      }
      chosen.push_back(request.beams[beam]);
      chosen.back().push_back(token);
      chosen_scores.push_back(static_cast<float>(values[rank]));
      next.sources.push_back(i * beams + beam);
      next.tokens.push_back(token);
    }
    request.beams = std::move(chosen);
    ++request.generated;
    // transformers 4.33 passes input_ids.shape[-1] + 1: the length the new scores belong to.
    const bool done = request.hypotheses.is_done(values[0], cur_len + 1);
    if (done || request.generated >= config.max_new_tokens) {
      finish_beams(request, chosen_scores, done);
      next.sources.resize(next.sources.size() - static_cast<size_t>(beams));
      next.tokens.resize(next.tokens.size() - static_cast<size_t>(beams));
      continue;
    }
    next.scores.insert(next.scores.end(), chosen_scores.begin(), chosen_scores.end());
    next.kept_requests.push_back(i);
    next.requests.push_back(std::move(request));
  }
  return next;
}

void CaptionBatch::Impl::finish_beams(Request& request, const std::vector<float>& final_scores,
                                      bool done) {
  if (!done) {
    for (size_t j = 0; j < request.beams.size(); ++j) {
      request.hypotheses.add(request.beams[j], final_scores[j],
                             1 + static_cast<int64_t>(request.beams[j].size()));
    }
  }
  const auto& [score, best] = request.hypotheses.best();
  GeneratedCaption caption{best, score};
  if (static_cast<int64_t>(best.size()) < config.max_new_tokens) caption.token_ids.push_back(eos);
  finished.emplace_back(request.id, std::move(caption));
}

// Keeps the surviving rows (beam reordering and finished requests in one gather of the short
// suffixes; the prefixes move only when a request left) and drops the padding columns that no
// surviving row needs.
void CaptionBatch::Impl::continue_with(Continuation next) {
  if (next.requests.empty()) {
    clear();
    return;
  }
  const auto device_long = logits.options().dtype(at::kLong);
  cache.suffix.select_rows(at::tensor(next.sources, device_long));
  if (next.kept_requests.size() < requests.size()) {
    cache.prefix.select_rows(at::tensor(next.kept_requests, device_long));
  }
  std::vector<int64_t> kept_start;
  kept_start.reserve(next.sources.size());
  for (auto row : next.sources) kept_start.push_back(start[static_cast<size_t>(row)]);
  const auto unused = *std::min_element(kept_start.begin(), kept_start.end());
  for (auto& s : kept_start) s -= unused;
  cache.suffix.trim_left(unused);
  start = std::move(kept_start);
  if (beams > 1) beam_scores = at::tensor(next.scores, logits.options().dtype(at::kFloat));
  requests = std::move(next.requests);
  decode(next.tokens);
}

// One token per row at each row's own next position, attending over its request's prefix and
// its own generated tokens.
void CaptionBatch::Impl::decode(const std::vector<int64_t>& tokens) {
  const auto rows = static_cast<int64_t>(tokens.size());
  const auto width = cache.suffix.length();
  const auto options = logits.options().dtype(at::kLong);
  const auto row_start = at::tensor(start, options).view({rows, 1});
  QLlamaDecodeInputs inputs;
  inputs.inputs_embeds =
      model.qllama->model->embed_tokens->forward(at::tensor(tokens, options).view({rows, 1}));
  inputs.position_ids = cache.prefix.length() + width - row_start;
  if (std::any_of(start.begin(), start.end(), [](int64_t s) { return s > 0; })) {
    inputs.suffix_allowed = (at::arange(width + 1, options).view({1, width + 1}) >= row_start)
                                .view({rows, 1, 1, width + 1});
  }
  const auto hidden = model.qllama->model->decode(inputs, cache);
  logits = model.qllama->lm_head->forward(hidden.select(1, 0));
}

void CaptionBatch::Impl::clear() {
  requests.clear();
  cache.prefix = KVCache{};
  cache.suffix = KVCache{};
  start.clear();
  logits = at::Tensor();
  beam_scores = at::Tensor();
}

CaptionBatch::CaptionBatch(const InternVLModelImpl& model, std::vector<int64_t> prompt_ids,
                           GenerationConfig config) {
  config.validate();
  const auto max_positions = model.config.qllama_config.max_position_embeddings;
  const auto needed =
      model.query_tokens.size(1) + static_cast<int64_t>(prompt_ids.size()) + config.max_new_tokens;
  if (needed > max_positions) {
    throw InputError("prompt plus max_new_tokens needs " + std::to_string(needed) +
                     " positions; the model has " + std::to_string(max_positions));
  }
  impl_ = std::make_unique<Impl>(model, std::move(prompt_ids), config);
}

CaptionBatch::~CaptionBatch() = default;

std::vector<int64_t> CaptionBatch::admit(const at::Tensor& vision) {
  auto& m = *impl_;
  TORCH_CHECK(vision.dim() == 3, "captioning expects vision features [B, N, C], got ",
              vision.sizes());
  TORCH_CHECK(vision.device() == m.model.query_tokens.device(), "vision features on ",
              vision.device(), " but the model is on ", m.model.query_tokens.device());
  const auto b = vision.size(0);
  KVCache group_prefix;
  auto first = m.prefill(vision, group_prefix);
  // Every beam starts from the first step (beam 0 alone is live); they share the prefix.
  if (m.beams > 1) first = first.repeat_interleave(m.beams, 0);
  std::vector<Request> added;
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < b; ++i) {
    ids.push_back(m.next_id + i);
    added.push_back(Request{ids.back(), 0,
                            std::vector<std::vector<int64_t>>(static_cast<size_t>(m.beams)),
                            BeamHypotheses(m.beams, m.config.length_penalty), 0.0});
  }
  m.merge(std::move(group_prefix), std::move(first), std::move(added));
  m.next_id += b;
  return ids;
}

void CaptionBatch::step() {
  auto& m = *impl_;
  if (m.requests.empty()) return;
  try {
    const auto logp = m.logprobs();
    m.continue_with(m.beams == 1 ? m.choose_greedy(logp) : m.choose_beams(logp));
  } catch (...) {
    m.clear();
    throw;
  }
}

std::vector<std::pair<int64_t, GeneratedCaption>> CaptionBatch::take_finished() {
  return std::exchange(impl_->finished, {});
}

int64_t CaptionBatch::live() const { return static_cast<int64_t>(impl_->requests.size()); }
const GenerationConfig& CaptionBatch::config() const { return impl_->config; }
const std::vector<int64_t>& CaptionBatch::prompt_ids() const { return impl_->prompt_ids; }

}  // namespace ivs::model
